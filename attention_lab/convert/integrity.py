"""Checks that a BERT folder's files are whole and are what they say they are.

Loading (:mod:`.hf_checkpoint`, :mod:`.bert_folder`) trusts nothing it reads. Each check here
refuses, with one :class:`~attention_lab.errors.CheckpointError` that names the file or tensor
and what to do, a folder that is damaged (a changed byte, a malformed ``config.json`` or shard
index, a non-finite weight) or foreign (another model type, a shard outside the folder,
tensors of other shapes, or tensors that no row of the weight map uses).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from attention_lab.convert.weight_map import (
    BUFFERS,
    ENCODER_PREFIX,
    HEAD_MODULES,
    PRETRAINING_HEAD_PREFIX,
    TIED_DECODER,
)
from attention_lab.errors import CheckpointError
from attention_lab.models.bert import BertConfig


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_match_record(config: Path, weights: Path) -> bool:
    """Whether ``config`` (a config.json) has an ``attention_lab`` block that records the
    sha256 of ``weights``, and the file still has it (a block that anyone could type is not
    enough)."""
    try:
        ours = json.loads(config.read_text(encoding="utf-8")).get("attention_lab")
        digest = ours.get("weights_sha256")
        return isinstance(digest, str) and sha256(weights) == digest
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def check_weights_digest(weights: Path, recorded: str | None) -> None:
    """A folder we wrote records the sha256 of its weights: a changed byte is refused."""
    if recorded and weights.is_file() and sha256(weights) != recorded:
        raise CheckpointError(
            f"{weights} has changed since attention_lab wrote it (its sha256 no longer matches "
            "config.json): it is damaged. Write the folder again"
        )


def check_hf_config(path: Path, values) -> None:
    """Refuse a ``config.json`` that is not a BERT's: not an object, ``architectures`` not a
    list of class names, another ``model_type``, or an ``id2label`` that is not 0, 1, …"""
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


def shard_names(index: Path) -> list[str]:
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


def check_layer_count(state, config: BertConfig, source: str) -> None:
    layers = {n.split("encoder.layer.")[1].split(".")[0] for n in state if "encoder.layer." in n}
    if layers and len(layers) != config.num_hidden_layers:
        raise CheckpointError(
            f"{source}: the weights have {len(layers)} encoder layers but config.json has "
            f"num_hidden_layers={config.num_hidden_layers}; use the weights' own config.json"
        )


def check_tied(state: dict, source: str) -> None:
    """Refuse a decoder stored apart from the word embeddings it must be tied to (BERT ties
    them; ours cannot hold two tables)."""
    for decoder, tied in TIED_DECODER.items():
        if decoder in state and tied in state and not np.array_equal(state[decoder], state[tied]):
            raise CheckpointError(
                f"{source}: {decoder} differs from {tied}; BERT's decoder is tied to them and "
                "attention_lab builds it so: use a checkpoint with tied word embeddings"
            )


def hf_shape(row) -> tuple[int, ...]:
    """The shape of ``row``'s tensor in a Hugging Face checkpoint (dense kernels ``(out, in)``)."""
    shape = tuple(row.variable.shape)
    return shape[::-1] if row.transpose else shape


def check_rows(rows, state: dict[str, np.ndarray], source: str) -> None:
    """Refuse a checkpoint in which a row of the weight map finds no tensor, or one that is not
    finite floating point, or one of another shape than its variable."""
    missing = [row.hf_name for row in rows if row.hf_name not in state]
    if missing:
        raise CheckpointError(
            f"{source}: missing tensor {missing[0]!r} ({len(missing)} missing in all); the "
            "checkpoint does not match its config.json"
        )
    for row in rows:
        tensor = state[row.hf_name]
        check_tensor(row.hf_name, tensor, source)
        if tuple(tensor.shape) != hf_shape(row):
            raise CheckpointError(
                f"{source}: tensor {row.hf_name!r} has shape {tuple(tensor.shape)} but the "
                f"config gives {hf_shape(row)}; config.json and the weights disagree"
            )


def shapes_match(rows, state) -> bool:
    """Whether every row's tensor is in ``state`` with the shape of the row's variable."""
    return all(
        row.hf_name in state and tuple(state[row.hf_name].shape) == hf_shape(row) for row in rows
    )


def check_head_shapes(rows, state, source: str, head: str) -> None:
    """Refuse a folder whose own ``head`` (its ``rows``) does not have the shapes its
    config.json gives."""
    if not shapes_match(rows, state):
        raise CheckpointError(
            f"{source}: the {head} head's tensors do not have the shapes config.json gives "
            "(num_labels, head size); the folder is inconsistent: write it again"
        )


def check_all_used(state, loaded: list[str], source: str) -> list[str]:
    """The tensors of ``state`` that were not ``loaded`` and may be skipped (buffers,
    pre-training heads, any head on the pooled output); any other is refused."""
    heads = {module for modules in HEAD_MODULES.values() for module in modules}
    skipped = []
    for name in sorted(state.keys() - set(loaded)):
        bare, module = name.removeprefix(ENCODER_PREFIX), name.split(".")[0]
        if bare in BUFFERS or name.startswith(PRETRAINING_HEAD_PREFIX) or module in heads:
            skipped.append(name)
            continue
        raise CheckpointError(
            f"{source}: unused tensor {name!r} with shape {tuple(state[name].shape)}; this is "
            "not a BertModel / BertForSequenceClassification checkpoint we know how to convert"
        )
    return skipped
