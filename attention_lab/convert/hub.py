"""Where a checkpoint is: a local folder, or a Hugging Face hub id downloaded once.

A hub id (``bert-base-cased``) is downloaded through ``huggingface_hub`` when online, only the
files a BERT folder needs; offline, or with ``HF_HUB_OFFLINE=1``, it must be in the local
cache. A path that looks local but does not exist is refused naming the part that exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from attention_lab.convert.hf_checkpoint import SAFETENSORS_INDEX
from attention_lab.errors import CheckpointError, shorten
from attention_lab.io import as_path

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
