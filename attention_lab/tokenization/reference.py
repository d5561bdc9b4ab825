"""Checking our tokenizer against Hugging Face's ``BertTokenizerFast`` on real text.

Used by the test suite, by ``attention-lab tokenize --compare-imdb`` (all 50,000 labelled IMDb
reviews) and by the speed benchmark. Reviews are read straight from ``aclImdb_v1.tar.gz``.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from attention_lab.errors import AttentionLabError

FEATURES = ("input_ids", "token_type_ids", "attention_mask")


def imdb_reviews(
    archive: str | os.PathLike, split: str = "test", limit: int | None = None
) -> list[str]:
    """Labelled reviews of ``split`` ("train" or "test") from the IMDb archive, in file order.

    Positive and negative reviews come in the archive's order; ``limit`` stops early.
    """
    archive = Path(archive)
    if split not in ("train", "test"):
        raise AttentionLabError(f"unknown IMDb split {split!r}; choose 'train' or 'test'")
    if not archive.is_file():
        raise AttentionLabError(f"IMDb archive {archive} not found; pass aclImdb_v1.tar.gz")
    prefixes = (f"aclImdb/{split}/pos/", f"aclImdb/{split}/neg/")
    reviews = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if limit is not None and len(reviews) >= limit:
                break
            if member.isfile() and member.name.startswith(prefixes):
                reviews.append(tar.extractfile(member).read().decode("utf-8"))
    if not reviews:
        raise AttentionLabError(f"{archive} holds no aclImdb/{split}/pos or neg reviews")
    return reviews


def reference_tokenizer(path: str | os.PathLike, do_lower_case: bool | None = None):
    """transformers' ``BertTokenizerFast`` for the same directory (the Rust implementation)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import BertTokenizerFast

    path = Path(path)
    directory = path if path.is_dir() else path.parent
    kwargs = {} if do_lower_case is None else {"do_lower_case": do_lower_case}
    return BertTokenizerFast.from_pretrained(str(directory), **kwargs)


@dataclass
class Comparison:
    """How many examples were compared and which differed (index, ours, reference)."""

    count: int = 0
    mismatches: list[tuple[int, dict, dict]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.count > 0 and not self.mismatches


def compare(
    ours,
    reference,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None = None,
    max_length: int | None = None,
    truncation: bool | str = True,
    chunk: int = 1000,
) -> Comparison:
    """Encode every text (or pair) with both tokenizers; record each example that differs."""
    result = Comparison()
    hf_truncation = truncation if max_length is not None else False
    for start in range(0, len(texts), chunk):
        batch = list(texts[start : start + chunk])
        pairs = None if text_pairs is None else list(text_pairs[start : start + chunk])
        expected = reference(
            batch, pairs, max_length=max_length, truncation=hf_truncation, padding=False
        )
        for offset, text in enumerate(batch):
            got = ours.encode(
                text,
                None if pairs is None else pairs[offset],
                max_length=max_length,
                truncation=truncation,
            )
            want = {k: list(expected[k][offset]) for k in FEATURES}
            if got != want:
                result.mismatches.append((start + offset, got, want))
        result.count += len(batch)
    return result
