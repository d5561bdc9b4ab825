"""Weights read through PyTorch: a ``pytorch_model.bin``, and safetensors in bfloat16.

Everything else is read with numpy (:mod:`.hf_checkpoint`). These two need ``torch`` (the
``reference`` extra); a ``.bin`` is read with ``torch.load(weights_only=True)``, which refuses
to unpickle arbitrary objects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attention_lab.errors import CheckpointError


def read_bfloat16_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file that numpy cannot read (it has no bfloat16), read
    through PyTorch and widened to float32."""
    from safetensors import safe_open

    torch = _require_torch(path)
    with safe_open(str(path), framework="pt") as f:
        return {name: f.get_tensor(name).to(torch.float32).numpy() for name in f.keys()}  # noqa: SIM118


def _require_torch(path: Path):
    try:
        import torch
    except ImportError as err:
        raise CheckpointError(
            f"{path}: reading it needs PyTorch: pip install 'attention_lab[reference]'"
        ) from err
    return torch


def read_pytorch_bin(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``pytorch_model.bin``, read with ``torch.load(weights_only=True)``,
    which refuses to unpickle anything but tensors; floating point widened to float32."""
    torch = _require_torch(path)
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            reason = "it holds pickled Python objects besides tensors, which are never run here"
        else:
            reason = f"it is damaged ({type(err).__name__})"
        raise CheckpointError(
            f"{path}: refused by torch.load(weights_only=True): {reason}. Use a trusted "
            "model.safetensors instead, or re-download the checkpoint from its source"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors, got {type(state).__name__}")
    return {
        name: (t.detach().to(torch.float32) if t.is_floating_point() else t.detach()).numpy()
        for name, t in state.items()
    }
