"""The one place where :mod:`attention_lab.interpret` and ``attention-lab attention`` load a
model: a fine-tuning run folder (its classifier, whose encoder is the BERT), or any BERT the
converter reads (an encoder only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class InterpretedModel:
    """``bert`` (a :class:`~attention_lab.models.bert.BertModel`), the ``classifier`` around it
    when the source is a fine-tuning run (else None), and the source's tokenizer."""

    bert: object
    classifier: object | None
    tokenizer: object


def load_model(source: str | os.PathLike) -> InterpretedModel:
    """Load ``source``: a ``finetune --out`` folder, a converted folder, a Hugging Face BERT
    directory or hub id."""
    from attention_lab.training.finetune import RUN_FILE, load_encoder, load_finetuned

    if (Path(source).expanduser() / RUN_FILE).is_file():
        classifier, _, tokenizer = load_finetuned(Path(source).expanduser())
        return InterpretedModel(classifier.bert, classifier, tokenizer)
    bert, tokenizer = load_encoder(source)
    return InterpretedModel(bert, None, tokenizer)
