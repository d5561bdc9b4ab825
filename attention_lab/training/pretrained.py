"""A classifier whose encoder starts from pre-trained BERT weights (chapter sections 5 and 6).

The chapter calls ``TFBertForSequenceClassification.from_pretrained('bert-base-cased')`` for
the pre-built model and ``TFBertModel.from_pretrained(...)`` under its own head for the custom
one. :func:`classifier_from_pretrained` does both on our layers: it builds the requested head
in the requested precision, then fills the encoder from the checkpoint through the
converter's weight map. A ``classifier`` layer in the checkpoint (a Hugging Face
``BertForSequenceClassification``) is loaded into the pre-built head when the label counts
agree; the custom head always starts fresh, as in the chapter.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from attention_lab.config import BertConfig
from attention_lab.convert.converter import (
    MANIFEST,
    LoadReport,
    assign_state_dict,
    load_converted,
)
from attention_lab.convert.export import state_dict
from attention_lab.convert.hf_checkpoint import read_hf_config, read_state_dict, resolve_model_dir
from attention_lab.convert.weight_map import bert_weight_map, classifier_weight_map
from attention_lab.errors import CheckpointError
from attention_lab.models.bert import BertModel
from attention_lab.models.classifier import BertForSequenceClassification, build_classifier

HEAD_PREFIX = "classifier."


def pretrained_state(model: str | os.PathLike) -> tuple[BertConfig, dict[str, np.ndarray], str]:
    """``(config, tensors by Hugging Face name, description)`` of a checkpoint.

    ``model`` is a Hugging Face directory, a hub id, or a folder written by
    ``attention-lab convert``.
    """
    path = Path(model).expanduser()
    if (path / MANIFEST).is_file():
        converted, config = load_converted(path)
        if isinstance(converted, BertForSequenceClassification):
            rows = classifier_weight_map(converted)
        else:
            rows = bert_weight_map(converted)
        return config, state_dict(rows), str(path)
    model_dir = resolve_model_dir(model)
    config = BertConfig.from_hf_config(read_hf_config(model_dir))
    return config, read_state_dict(model_dir), str(model_dir)


def classifier_from_pretrained(
    model: str | os.PathLike,
    head: str,
    num_labels: int = 2,
    dtype=None,
) -> tuple[object, BertConfig, LoadReport]:
    """Build the ``head`` classifier in ``dtype`` and load the encoder of ``model`` into it.

    Returns ``(classifier, config, report)``. Raises :class:`CheckpointError` when the
    checkpoint has no pooler (both heads read the pooled output).
    """
    config, state, source = pretrained_state(model)
    config.num_labels = num_labels
    prefix = "bert." if any(name.startswith("bert.") for name in state) else ""
    if f"{prefix}pooler.dense.weight" not in state:
        raise CheckpointError(
            f"{source}: the checkpoint has no pooler ({prefix}pooler.dense.weight); both "
            "classifier heads read the pooled [CLS] output, so use a BERT checkpoint saved with "
            "its pooler"
        )
    classifier = build_classifier(head, config, dtype=dtype)
    checkpoint_head = {k: v for k, v in state.items() if k.startswith(HEAD_PREFIX)}
    encoder_state = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)}
    keep_head = (
        head == "prebuilt"
        and checkpoint_head.get("classifier.weight") is not None
        and checkpoint_head["classifier.weight"].shape[0] == num_labels
    )
    if keep_head:
        report = assign_state_dict(classifier_weight_map(classifier), state, source)
    else:
        encoder: BertModel = classifier.bert
        report = assign_state_dict(bert_weight_map(encoder, prefix=prefix), encoder_state, source)
        report.skipped.extend(sorted(checkpoint_head))
    return classifier, config, report
