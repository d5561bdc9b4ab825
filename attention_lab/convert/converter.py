"""Convert a Hugging Face BERT checkpoint into our Keras model, and keep it under ``weights/``.

Every tensor is accounted for: each row of the weight map must find its tensor with the
right shape, and each tensor of the checkpoint must be used, except the buffers and
pre-training heads listed in :mod:`attention_lab.convert.weight_map`. Anything else is an
error naming the tensor (and both shapes).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attention_lab import __version__
from attention_lab.config import BertConfig
from attention_lab.convert.hf_checkpoint import (
    read_hf_config,
    read_state_dict,
    resolve_model_dir,
    weight_files,
)
from attention_lab.convert.weight_map import (
    BUFFERS,
    PRETRAINING_HEAD_PREFIX,
    bert_weight_map,
    classifier_weight_map,
)
from attention_lab.errors import CheckpointError
from attention_lab.io import atomic_directory
from attention_lab.models.bert import BertModel
from attention_lab.models.classifier import BertForSequenceClassification

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
MANIFEST = "manifest.json"
WEIGHTS_FILE = "model.weights.h5"
TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
FORMAT = "attention_lab.converted/1"


@dataclass
class LoadReport:
    """What happened to each tensor of the checkpoint."""

    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # buffers and pre-training heads


def _build(config: BertConfig, state: dict[str, np.ndarray]):
    """The model the checkpoint describes: with a classifier head if it has one."""
    has_head = "classifier.weight" in state
    prefix = "bert." if any(name.startswith("bert.") for name in state) else ""
    has_pooler = f"{prefix}pooler.dense.weight" in state
    if has_head:
        model = BertForSequenceClassification(config)
        model.build()
        if not has_pooler:
            raise CheckpointError(
                "checkpoint has classifier.weight but no bert.pooler.dense.weight; "
                "BertForSequenceClassification needs the pooler"
            )
        return model, classifier_weight_map(model)
    model = BertModel(config, add_pooling_layer=has_pooler)
    model.build()
    return model, bert_weight_map(model, prefix=prefix)


def assign_state_dict(rows, state: dict[str, np.ndarray], source: str) -> LoadReport:
    """Fill every mapped variable from ``state``, checking names and shapes both ways."""
    missing = [row.hf_name for row in rows if row.hf_name not in state]
    if missing:
        raise CheckpointError(
            f"{source}: missing tensor {missing[0]!r}"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
            + "; the checkpoint does not match its config.json (num_hidden_layers?)"
        )
    report = LoadReport()
    for row in rows:
        tensor = state[row.hf_name]
        value = tensor.T if row.transpose else tensor
        if tuple(value.shape) != tuple(row.variable.shape):
            expected = tuple(row.variable.shape)
            if row.transpose:
                expected = expected[::-1]
            raise CheckpointError(
                f"{source}: tensor {row.hf_name!r} has shape {tuple(tensor.shape)} but the "
                f"config gives {expected}; config.json and the weights disagree"
            )
        row.variable.assign(value.astype(row.variable.dtype))
        report.loaded.append(row.hf_name)
    used = set(report.loaded)
    for name in sorted(state):
        if name in used:
            continue
        bare = name.removeprefix("bert.")
        if bare in BUFFERS or name.startswith(PRETRAINING_HEAD_PREFIX):
            report.skipped.append(name)
            continue
        raise CheckpointError(
            f"{source}: unused tensor {name!r} with shape {tuple(state[name].shape)}; this is "
            "not a BertModel / BertForSequenceClassification checkpoint we know how to convert"
        )
    return report


def load_hf_checkpoint(model: str | os.PathLike):
    """Load a Hugging Face BERT directory or hub id into our Keras model, in memory.

    Returns ``(model, config, report)``; ``model`` is a
    :class:`~attention_lab.models.bert.BertModel`, or a
    :class:`~attention_lab.models.classifier.BertForSequenceClassification` when the checkpoint
    has a ``classifier`` head.
    """
    model_dir = resolve_model_dir(model)
    config = BertConfig.from_hf_config(read_hf_config(model_dir))
    state = read_state_dict(model_dir)
    keras_model, rows = _build(config, state)
    report = assign_state_dict(rows, state, source=str(model_dir))
    return keras_model, config, report


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_checkpoint(
    model: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert ``model`` and write it to ``out_dir`` (default ``weights/<name>``), atomically.

    The folder is written under a temporary name beside its destination and renamed into
    place only when complete, so an interrupted conversion never leaves a half-written
    checkpoint. Returns the folder.
    """
    model_dir = resolve_model_dir(model)
    keras_model, config, report = load_hf_checkpoint(model_dir)
    out = Path(out_dir) if out_dir else DEFAULT_WEIGHTS_DIR / Path(str(model)).name
    with atomic_directory(out, overwrite=overwrite) as tmp:
        keras_model.save_weights(tmp / WEIGHTS_FILE)
        kind = "classifier" if isinstance(keras_model, BertForSequenceClassification) else "bert"
        sources = [model_dir / "config.json", *weight_files(model_dir)]
        for name in TOKENIZER_FILES:
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, tmp / name)
                sources.append(model_dir / name)
        manifest = {
            "format": FORMAT,
            "source": str(model),
            "source_dir": str(model_dir.resolve()),
            "sha256": {p.name: _sha256(p) for p in sources},
            "kind": kind,
            "add_pooling_layer": kind == "classifier" or keras_model.pooler is not None,
            "config": config.to_dict(),
            "skipped_tensors": report.skipped,
            "converted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "attention_lab_version": __version__,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def read_manifest(path: Path) -> dict:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise CheckpointError(
            f"{path}: {MANIFEST} is missing; this is not a folder written by "
            "`attention-lab convert`"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{manifest_path}: malformed JSON ({err})") from err
    if manifest.get("format") != FORMAT:
        raise CheckpointError(f"{manifest_path}: unknown format {manifest.get('format')!r}")
    return manifest


def load_converted(path: str | os.PathLike):
    """Load a folder written by :func:`convert_checkpoint`. Returns ``(model, config)``."""
    path = Path(path)
    manifest = read_manifest(path)
    config = BertConfig.from_dict(manifest["config"])
    if manifest["kind"] == "classifier":
        model = BertForSequenceClassification(config)
    else:
        model = BertModel(config, add_pooling_layer=manifest["add_pooling_layer"])
    model.build()
    try:
        model.load_weights(path / WEIGHTS_FILE)
    except Exception as err:
        raise CheckpointError(
            f"{path / WEIGHTS_FILE}: cannot load ({err}); convert the checkpoint again"
        ) from err
    return model, config


def load_model(model: str | os.PathLike):
    """Our model from a converted folder, a Hugging Face directory or a hub id.

    Returns ``(model, config)``.
    """
    path = Path(model).expanduser()
    if (path / MANIFEST).is_file():
        return load_converted(path)
    keras_model, config, _ = load_hf_checkpoint(model)
    return keras_model, config
