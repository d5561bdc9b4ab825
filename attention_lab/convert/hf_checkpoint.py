"""Reading a Hugging Face BERT checkpoint: its config.json, and its tensors as numpy arrays.

A checkpoint is a directory with ``config.json`` and one of ``model.safetensors``,
a sharded ``model.safetensors.index.json``, or ``pytorch_model.bin``. ``.bin`` files are
read with ``torch.load(weights_only=True)``, which refuses to unpickle arbitrary objects
(:mod:`.pytorch_files`). Where the directory is, a path or a hub id, is :mod:`.hub`'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from attention_lab.convert.integrity import check_hf_config, shard_names
from attention_lab.convert.pytorch_files import read_bfloat16_safetensors, read_pytorch_bin
from attention_lab.errors import CheckpointError
from attention_lab.models.bert import BertConfig

SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN = "pytorch_model.bin"


def read_hf_config(model_dir: Path) -> dict:
    """The checkpoint's ``config.json`` as a dict, with errors that name the file."""
    path = model_dir / "config.json"
    if not path.is_file():
        raise CheckpointError(
            f"{model_dir}: config.json is missing, so it is not a BERT folder; pass one that "
            "transformers or `attention-lab convert` wrote"
        )
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: malformed JSON ({err}); re-download the file") from err
    check_hf_config(path, values)
    return values


def bert_config(values: dict) -> BertConfig:
    """The :class:`BertConfig` of a ``config.json`` read by :func:`read_hf_config`.

    The field names are Hugging Face's, so the values pass as they are; ``BertConfig`` checks
    them. Two keys need reading: ``pad_token_id`` may be null (0 is BERT's ``[PAD]``), and a
    classifier's label count is the size of its ``id2label``.
    """
    values = dict(values)
    if values.get("pad_token_id") is None:
        values["pad_token_id"] = 0
    if values.get("id2label"):
        values["num_labels"] = len(values["id2label"])
    return BertConfig.from_dict(values)


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            return {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    except SafetensorError as err:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({err}); the file is truncated or "
            "corrupted, re-download it"
        ) from err
    except (TypeError, ValueError) as err:  # numpy has no bfloat16: read through torch
        if "bf16" not in str(err).lower() and "bfloat16" not in str(err).lower():
            raise CheckpointError(f"{path}: cannot read tensors ({err})") from err
    return read_bfloat16_safetensors(path)


def weight_files(model_dir: Path) -> list[Path]:
    """The weight files the checkpoint will be read from, preferring safetensors."""
    if (model_dir / SAFETENSORS).is_file():
        return [model_dir / SAFETENSORS]
    index = model_dir / SAFETENSORS_INDEX
    if index.is_file():
        return [model_dir / shard for shard in shard_names(index)]
    if (model_dir / PYTORCH_BIN).is_file():
        return [model_dir / PYTORCH_BIN]
    raise CheckpointError(
        f"{model_dir}: no weights found; expected {SAFETENSORS}, {SAFETENSORS_INDEX} or "
        f"{PYTORCH_BIN}"
    )


def read_state_dict(model_dir: Path) -> dict[str, np.ndarray]:
    """All tensors of the checkpoint, by their Hugging Face names, as numpy arrays.

    Floating-point tensors stored in bfloat16 or float16 are widened to float32; others keep
    their dtype (so :func:`~attention_lab.convert.integrity.check_tensor` can refuse integer
    weights).

    Old TensorFlow-era names ``LayerNorm.gamma`` / ``LayerNorm.beta`` are renamed to
    ``LayerNorm.weight`` / ``LayerNorm.bias``, as ``transformers`` does when it loads them.
    """
    state: dict[str, np.ndarray] = {}
    for path in weight_files(model_dir):
        if not path.is_file():
            raise CheckpointError(f"{path}: shard listed in {SAFETENSORS_INDEX} is missing")
        reader = read_pytorch_bin if path.name == PYTORCH_BIN else _read_safetensors
        state.update(reader(path))
    renamed = {}
    for name, tensor in state.items():
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight")
        renamed[name.replace("LayerNorm.beta", "LayerNorm.bias")] = tensor
    return renamed
