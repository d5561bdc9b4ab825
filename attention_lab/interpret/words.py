"""WordPieces back into words, with their place in the text (chapter section 3, "WordPiece").

Attributions and attention are computed per WordPiece (``"lured"`` → ``lure``, ``##d``); a
reader wants them per word, on the text as written. :func:`group_words` is the one place that
maps one to the other:

- when the tokenizer gives character offsets (a Hugging Face-style
  ``tokenizer(text, return_offsets_mapping=True)`` with ``word_ids()``), each word is the
  span of the original text its pieces cover, case and accents as written;
- otherwise a piece that starts with ``##`` continues the word before it, and the word is its
  pieces joined (as the tokenizer normalised them: lower-cased for an uncased vocabulary),
  without offsets.

As in BERT's basic tokenizer, punctuation is a word of its own (``don``, ``'``, ``t``).
Special tokens (``[CLS]``, ``[SEP]``) are not words.
"""

from __future__ import annotations

from dataclasses import dataclass

SPECIAL_TOKENS = frozenset({"[CLS]", "[SEP]", "[PAD]"})


@dataclass(frozen=True)
class Word:
    """One word: its text, the positions of its pieces in the encoded sequence, its span.

    ``start``/``end`` are character offsets into the text (``text[start:end]``), or None when
    the tokenizer gives no offsets.
    """

    text: str
    tokens: tuple[int, ...]
    start: int | None = None
    end: int | None = None


def _from_offsets(tokenizer, text: str, input_ids: list[int]) -> list[Word] | None:
    """Words from the tokenizer's offsets, or None if it has none for this encoding."""
    try:
        encoded = tokenizer(
            text, max_length=len(input_ids), truncation=True, return_offsets_mapping=True
        )
    except TypeError:  # not callable, or no offsets: fall back to the "##" rule
        return None
    if list(encoded["input_ids"]) != list(input_ids):  # e.g. truncated from the other end
        return None
    spans: dict[int, list[int]] = {}
    for position, word_id in enumerate(encoded.word_ids()):
        if word_id is not None:
            spans.setdefault(word_id, []).append(position)
    offsets = encoded["offset_mapping"]
    words = []
    for positions in spans.values():
        start, end = offsets[positions[0]][0], offsets[positions[-1]][1]
        words.append(Word(text[start:end], tuple(positions), int(start), int(end)))
    return words


def _from_pieces(tokens: list[str]) -> list[Word]:
    groups: list[list[int]] = []
    for position, token in enumerate(tokens):
        if token in SPECIAL_TOKENS:
            continue
        if token.startswith("##") and groups and groups[-1][-1] == position - 1:
            groups[-1].append(position)
        else:
            groups.append([position])
    return [
        Word("".join(tokens[i].removeprefix("##") for i in group), tuple(group)) for group in groups
    ]


def group_words(tokenizer, text: str, input_ids) -> list[Word]:
    """The words of ``text`` as encoded in ``input_ids`` (one example, no padding)."""
    input_ids = [int(i) for i in input_ids]
    words = _from_offsets(tokenizer, text, input_ids)
    if words is None:
        words = _from_pieces(tokenizer.convert_ids_to_tokens(input_ids))
    return words


def word_scores(words: list[Word], token_scores) -> list[float]:
    """Per-word sums of per-token scores (attributions add up, so a word's is its pieces')."""
    return [float(sum(token_scores[i] for i in word.tokens)) for word in words]
