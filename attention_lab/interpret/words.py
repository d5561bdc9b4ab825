"""WordPieces back into words, with their place in the text (chapter section 3, "WordPiece").

Attributions and attention are computed per WordPiece (``"lured"`` → ``lure``, ``##d``); a
reader wants them per word, on the text as written. :func:`group_words` maps one to the
other with the tokenizer's character offsets (``tokenizer(text,
return_offsets_mapping=True)`` and ``word_ids()``): each word is the span of the original
text its pieces cover, case and accents as written (``Ironside`` for ``iron``, ``##side``
of an uncased vocabulary). As in BERT's basic tokenizer, punctuation is a word of its own
(``Don``, ``'``, ``t``); special tokens (``[CLS]``, ``[SEP]``) are not words.
"""

from __future__ import annotations

from dataclasses import dataclass

from attention_lab.errors import AttentionLabError


@dataclass(frozen=True)
class Word:
    """One word: its text as written, the positions of its pieces in the encoded sequence,
    and its span ``text[start:end]``."""

    text: str
    tokens: tuple[int, ...]
    start: int
    end: int


def group_words(tokenizer, text: str, input_ids) -> list[Word]:
    """The words of ``text`` as encoded in ``input_ids`` (one example, no padding; the text's
    first tokens if it was truncated)."""
    input_ids = [int(i) for i in input_ids]
    encoded = tokenizer(
        text, max_length=len(input_ids), truncation=True, return_offsets_mapping=True
    )
    if list(encoded["input_ids"]) != input_ids:
        raise AttentionLabError(
            f"the {len(input_ids)} ids are not this tokenizer's encoding of the text's first "
            "tokens; pass the ids it gives with truncation='first'"
        )
    spans: dict[int, list[int]] = {}
    for position, word_id in enumerate(encoded.word_ids()):
        if word_id is not None:
            spans.setdefault(word_id, []).append(position)
    offsets = encoded["offset_mapping"]
    words = []
    for positions in spans.values():
        start, end = int(offsets[positions[0]][0]), int(offsets[positions[-1]][1])
        words.append(Word(text[start:end], tuple(positions), start, end))
    return words


def word_scores(words: list[Word], token_scores) -> list[float]:
    """Per-word sums of per-token scores (attributions add up, so a word's is its pieces')."""
    return [float(sum(token_scores[i] for i in word.tokens)) for word in words]
