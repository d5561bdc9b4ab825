"""The one place where :mod:`attention_lab.interpret` and ``attention-lab attention`` load a
model: any BERT folder :func:`attention_lab.convert.load_bert` reads (a fine-tuning run
folder gives its classifier, whose encoder is the BERT; other folders an encoder only)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class InterpretedModel:
    """``bert`` (a :class:`~attention_lab.models.bert.BertModel`), the ``classifier`` around it
    when the folder holds one (else None), and the folder's tokenizer."""

    bert: object
    classifier: object | None
    tokenizer: object


def load_model(source: str | os.PathLike) -> InterpretedModel:
    """Load ``source``: a ``finetune --out`` folder, a converted folder, a Hugging Face BERT
    directory or hub id."""
    from attention_lab.convert import load_bert

    loaded = load_bert(source)
    classifier = None if loaded.head is None else loaded.model
    return InterpretedModel(loaded.encoder, classifier, loaded.tokenizer())
