"""Checking our tokenizer against Hugging Face's ``BertTokenizerFast`` on real text.

Used by the test suite, by ``attention-lab tokenize --compare-imdb`` (all 50,000 labelled IMDb
reviews, read with :func:`attention_lab.data.imdb.read_imdb`) and by the speed benchmark.
:func:`compare` encodes each text with both, every output at once: ids, token types, attention
and special-tokens masks, offsets, word and sequence ids, and with ``max_length`` every overflow
window (``stride`` tokens shared by neighbours).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The outputs compared, row by row (each overflow window is a row).
OUTPUTS = (
    "input_ids",
    "token_type_ids",
    "attention_mask",
    "special_tokens_mask",
    "offset_mapping",
    "word_ids",
    "sequence_ids",
)


def reference_tokenizer(path: str | os.PathLike, do_lower_case: bool | None = None):
    """transformers' ``BertTokenizerFast`` for the same directory (the Rust implementation).

    With transformers 5 it must be loaded from the directory: ``BertTokenizerFast(vocab_file=
    ...)`` ignores the file.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import BertTokenizerFast

    path = Path(path)
    directory = path if path.is_dir() else path.parent
    kwargs = {} if do_lower_case is None else {"do_lower_case": do_lower_case}
    return BertTokenizerFast.from_pretrained(str(directory), **kwargs)


@dataclass
class Comparison:
    """How many texts (and rows) were compared, and which texts differed.

    A mismatch is ``(index, ours, reference)``: the text's rows from each tokenizer, a list of
    dicts of :data:`OUTPUTS`.
    """

    count: int = 0
    rows: int = 0
    mismatches: list[tuple[int, list[dict], list[dict]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.count > 0 and not self.mismatches


def outputs(tokenizer, texts: Sequence, text_pairs: Sequence | None = None, **options):
    """Every output of a batch call, grouped by text: ``rows[i]`` is a list of dicts of
    :data:`OUTPUTS`, one per row of text ``i`` (its overflow windows)."""
    encoding = tokenizer(
        list(texts),
        None if text_pairs is None else list(text_pairs),
        return_overflowing_tokens=True,
        return_special_tokens_mask=True,
        return_offsets_mapping=True,
        **options,
    )
    grouped = [[] for _ in texts]
    for row, sample in enumerate(encoding["overflow_to_sample_mapping"]):
        values = {key: list(encoding[key][row]) for key in OUTPUTS[:5]}
        values["offset_mapping"] = [tuple(span) for span in values["offset_mapping"]]
        values["word_ids"] = encoding.word_ids(row)
        values["sequence_ids"] = encoding.sequence_ids(row)
        grouped[sample].append(values)
    return grouped


def plain_ids(ours, texts: Sequence, text_pairs: Sequence | None = None, **options):
    """Our ``input_ids`` from the call that tracks nothing (the fast path), grouped by text."""
    encoding = ours(
        list(texts),
        None if text_pairs is None else list(text_pairs),
        return_overflowing_tokens=True,
        **options,
    )
    grouped = [[] for _ in texts]
    for ids, sample in zip(
        encoding["input_ids"], encoding["overflow_to_sample_mapping"], strict=True
    ):
        grouped[sample].append(list(ids))
    return grouped


def compare(
    ours,
    reference,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None = None,
    max_length: int | None = None,
    truncation: bool | str = True,
    stride: int = 0,
    chunk: int = 1000,
) -> Comparison:
    """Encode every text (or pair) with both tokenizers; record each text whose rows differ.

    Without ``max_length`` nothing is cut. Our ids are also taken from the plain call (no
    offsets tracked, the fast path) and must be the same.
    """
    result = Comparison()
    options = {
        "max_length": max_length,
        "truncation": truncation if max_length is not None else False,
        "stride": stride,
    }
    for start in range(0, len(texts), chunk):
        batch = list(texts[start : start + chunk])
        pairs = None if text_pairs is None else list(text_pairs[start : start + chunk])
        want = outputs(reference, batch, pairs, **options)
        got = outputs(ours, batch, pairs, **options)
        fast = plain_ids(ours, batch, pairs, **options)
        for offset, (mine, theirs, ids) in enumerate(zip(got, want, fast, strict=True)):
            if mine != theirs or [row["input_ids"] for row in mine] != ids:
                result.mismatches.append((start + offset, mine, theirs))
            result.rows += len(theirs)
        result.count += len(batch)
    return result


def first_difference(ours: list[dict], reference: list[dict]) -> str:
    """Where two texts' rows first differ, in words."""
    if len(ours) != len(reference):
        return f"{len(ours)} rows against the reference's {len(reference)}"
    for index, (mine, theirs) in enumerate(zip(ours, reference, strict=True)):
        for key in OUTPUTS:
            got, want = mine[key], theirs[key]
            if got != want:
                differ = (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)
                at = next(differ, min(len(got), len(want)))
                return (
                    f"row {index}, {key} at position {at}: ours {got[at : at + 5]}, "
                    f"reference {want[at : at + 5]}"
                )
    return "the fast path's input_ids differ from the tracked path's"
