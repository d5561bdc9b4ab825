"""Reading a Hugging Face BERT checkpoint: where it is, and its tensors as numpy arrays.

A checkpoint is a directory with ``config.json`` and one of ``model.safetensors``,
a sharded ``model.safetensors.index.json``, or ``pytorch_model.bin``. ``.bin`` files are
read with ``torch.load(weights_only=True)``, which refuses to unpickle arbitrary objects.
A hub id (``bert-base-cased``) is downloaded through ``huggingface_hub`` when online.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from attention_lab.errors import CheckpointError, shorten
from attention_lab.io import as_path
from attention_lab.models.bert import BertConfig

SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN = "pytorch_model.bin"
_HUB_FILES = ["config.json", "*.safetensors", SAFETENSORS_INDEX, "vocab.txt", "*.json"]


def resolve_model_dir(model: str | os.PathLike) -> Path:
    """A local checkpoint directory for ``model``: a path, or a hub id downloaded once.

    Offline (or with ``HF_HUB_OFFLINE=1``) a hub id that is not in the local cache raises a
    :class:`CheckpointError` that says how to pass a local directory instead.
    """
    path = as_path(model, "the model (a folder or hub id)", CheckpointError).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; pass the checkpoint's directory")
    name = str(model)
    looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name
    if looks_local and (name.count("/") != 1 or Path(name.split("/")[0]).is_dir()):
        missing = next(p for p in [path, *path.parents] if p.exists() or p == p.parent)
        raise CheckpointError(
            f"{shorten(name)}: no such directory (a local path, not a hub id: {missing} "
            "exists, the rest of the path does not); check the path"
        )
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, allow_patterns=_HUB_FILES, etag_timeout=10))
    except Exception as err:  # any hub failure: offline, unknown repo, gated, timeout
        raise CheckpointError(
            f"cannot get {name!r} from the Hugging Face hub ({type(err).__name__}); online, run "
            f"`hf download {name} config.json model.safetensors vocab.txt tokenizer_config.json "
            "--local-dir DIR`, copy DIR here and pass DIR"
        ) from err


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
    if not isinstance(values, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(values).__name__}")
    architectures = values.get("architectures") or []
    if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
        raise CheckpointError(
            f'{path}: "architectures" must be a list of class names such as '
            f'["BertModel"], got {json.dumps(architectures)[:80]}; fix it in config.json'
        )
    foreign = [a for a in architectures if not a.startswith("Bert")]
    if values.get("model_type", "bert") != "bert" or foreign:
        raise CheckpointError(
            f"{path}: model_type={values.get('model_type')!r}, architectures={architectures}; "
            "only BERT checkpoints (BertModel, BertForSequenceClassification, ...) convert"
        )
    id2label = values.get("id2label")
    if id2label is not None and (
        not isinstance(id2label, dict)
        or set(map(str, id2label)) != set(map(str, range(len(id2label))))
    ):
        raise CheckpointError(
            f"{path}: id2label must map the label ids 0, 1, … to names, got {id2label!r}; "
            "fix it in config.json or remove it"
        )
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


def _read_pytorch_bin(path: Path) -> dict[str, np.ndarray]:
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


def _shards(index: Path) -> list[str]:
    """The shard file names of a ``model.safetensors.index.json``, checked: UTF-8 JSON, an
    object whose ``weight_map`` maps tensor names to plain file names in the same folder."""
    data = index.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CheckpointError(
            f"{index}: not UTF-8 text (byte {err.start}); re-download the checkpoint"
        ) from None
    try:
        weight_map = json.loads(text)["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError, IndexError) as err:
        raise CheckpointError(
            f"{index}: malformed shard index ({type(err).__name__}: an object with a "
            '"weight_map" is expected); re-download the checkpoint'
        ) from None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(
            f'{index}: "weight_map" must map tensor names to shard file names; '
            "re-download the checkpoint"
        )
    shards = sorted(set(weight_map.values()))
    leaving = [s for s in shards if Path(s).name != s or s in ("", ".", "..")]
    if leaving:
        raise CheckpointError(
            f"{index}: the shard {leaving[0]!r} is not a file of this folder (a shard index "
            "may only name files beside it); refused: weights are read only from the "
            "checkpoint's own folder"
        )
    return shards


def weight_files(model_dir: Path) -> list[Path]:
    """The weight files the checkpoint will be read from, preferring safetensors."""
    if (model_dir / SAFETENSORS).is_file():
        return [model_dir / SAFETENSORS]
    index = model_dir / SAFETENSORS_INDEX
    if index.is_file():
        return [model_dir / shard for shard in _shards(index)]
    if (model_dir / PYTORCH_BIN).is_file():
        return [model_dir / PYTORCH_BIN]
    raise CheckpointError(
        f"{model_dir}: no weights found; expected {SAFETENSORS}, {SAFETENSORS_INDEX} or "
        f"{PYTORCH_BIN}"
    )


def read_state_dict(model_dir: Path) -> dict[str, np.ndarray]:
    """All tensors of the checkpoint, by their Hugging Face names, as numpy arrays.

    Floating-point tensors stored in bfloat16 or float16 are widened to float32; others keep
    their dtype (so :func:`check_tensor` can refuse integer weights).

    Old TensorFlow-era names ``LayerNorm.gamma`` / ``LayerNorm.beta`` are renamed to
    ``LayerNorm.weight`` / ``LayerNorm.bias``, as ``transformers`` does when it loads them.
    """
    state: dict[str, np.ndarray] = {}
    for path in weight_files(model_dir):
        if not path.is_file():
            raise CheckpointError(f"{path}: shard listed in {SAFETENSORS_INDEX} is missing")
        reader = _read_pytorch_bin if path.name == PYTORCH_BIN else _read_safetensors
        state.update(reader(path))
    renamed = {}
    for name, tensor in state.items():
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight")
        renamed[name.replace("LayerNorm.beta", "LayerNorm.bias")] = tensor
    return renamed


def check_tensor(name: str, tensor: np.ndarray, source: str) -> None:
    """Refuse a weight that is not a finite floating-point tensor (a damaged or foreign file)."""
    if not np.issubdtype(tensor.dtype, np.floating):
        raise CheckpointError(
            f"{source}: tensor {name!r} has dtype {tensor.dtype}, but BERT's weights are floating "
            "point; the file is not a BERT checkpoint or it is damaged. Re-download it"
        )
    bad = np.flatnonzero(~np.isfinite(tensor))
    if bad.size:
        where = tuple(int(i) for i in np.unravel_index(bad[0], tensor.shape))
        raise CheckpointError(
            f"{source}: tensor {name!r} holds {bad.size} non-finite value(s) (the first, "
            f"{tensor[where]}, at index {where}); the checkpoint is damaged or its training "
            "diverged. Re-download it or use an earlier checkpoint"
        )
