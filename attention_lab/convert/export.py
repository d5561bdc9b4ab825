"""Export a fine-tuned classifier back to a Hugging Face folder (the weight map, right to left).

The folder holds ``config.json`` (``architectures: ["BertForSequenceClassification"]``,
``id2label``), ``model.safetensors`` (every tensor under its Hugging Face name, dense kernels
transposed back to PyTorch's ``(out, in)``), ``vocab.txt`` and the tokenizer configuration,
so that ``transformers.BertForSequenceClassification.from_pretrained(folder)`` and
``AutoTokenizer.from_pretrained(folder)`` load it. The tensors come from the same
:mod:`~attention_lab.convert.weight_map` rows that loading uses, so export and import cannot
drift apart.

Only the pre-built head exports: Hugging Face's ``BertForSequenceClassification`` has one
linear ``classifier`` on the pooled output, and the chapter's custom head (two dense layers)
has no place in it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from attention_lab.config import BertConfig
from attention_lab.convert.weight_map import classifier_weight_map
from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_directory
from attention_lab.models.classifier import BertForSequenceClassification

# Our activation names -> Hugging Face's (both tanh names are the same approximation).
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "relu": "relu"}
SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}


def state_dict(rows) -> dict[str, np.ndarray]:
    """Hugging Face tensors from weight-map rows: the map read from our side."""
    out = {}
    for row in rows:
        value = np.asarray(row.variable, dtype=np.float32)
        out[row.hf_name] = np.ascontiguousarray(value.T if row.transpose else value)
    return out


def hf_config(config: BertConfig, label_names: list[str]) -> dict:
    """``config.json`` of a ``BertForSequenceClassification`` with ``label_names``."""
    if len(label_names) != config.num_labels:
        raise AttentionLabError(
            f"{len(label_names)} label names for a {config.num_labels}-label head"
        )
    values = config.to_dict()
    values.update(
        architectures=["BertForSequenceClassification"],
        model_type="bert",
        hidden_act=HF_ACTIVATIONS[config.hidden_act],
        position_embedding_type="absolute",
        id2label={str(i): name for i, name in enumerate(label_names)},
        label2id={name: i for i, name in enumerate(label_names)},
        problem_type="single_label_classification",
        classifier_dropout=None,
        torch_dtype="float32",
    )
    del values["num_labels"]  # implied by id2label
    return values


def _tokenizer_config(vocab: Path, max_len: int) -> dict:
    """A ``BertTokenizer`` config; lower-casing is read off the vocabulary (no capitals)."""
    tokens = vocab.read_text(encoding="utf-8").split("\n")
    has_capitals = any(t[:1].isupper() for t in tokens if not t.startswith("["))
    return {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": not has_capitals,
        "model_max_length": max_len,
        **SPECIAL_TOKENS,
    }


def export_classifier(
    model,
    config: BertConfig,
    tokenizer_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    label_names: list[str],
    overwrite: bool = False,
) -> Path:
    """Write ``model`` (pre-built head) as a Hugging Face folder at ``out_dir``, atomically."""
    from safetensors.numpy import save_file

    if not isinstance(model, BertForSequenceClassification):
        raise AttentionLabError(
            f"cannot export a {type(model).__name__}: Hugging Face's "
            "BertForSequenceClassification has a single linear classifier on the pooled "
            "output, which only the pre-built head (--head prebuilt) matches"
        )
    tokenizer_dir = Path(tokenizer_dir)
    vocab = tokenizer_dir / "vocab.txt"
    if not vocab.is_file():
        raise AttentionLabError(f"{tokenizer_dir} has no vocab.txt to export with the model")
    tensors = state_dict(classifier_weight_map(model))
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(
            json.dumps(hf_config(config, label_names), indent=2) + "\n"
        )
        shutil.copy2(vocab, tmp / "vocab.txt")
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            if (tokenizer_dir / name).is_file():
                shutil.copy2(tokenizer_dir / name, tmp / name)
        if not (tmp / "tokenizer_config.json").is_file():
            settings = _tokenizer_config(vocab, config.max_position_embeddings)
            (tmp / "tokenizer_config.json").write_text(json.dumps(settings, indent=2) + "\n")
        if not (tmp / "special_tokens_map.json").is_file():
            (tmp / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS, indent=2))
    return Path(out_dir)
