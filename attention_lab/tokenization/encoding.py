"""What an encoding is made of, from a text's pieces to a padded batch (chapter section 4).

- :class:`Pieces`: the WordPiece ids of one text, and optionally where each came from: its
  character span in the text (``offsets``) and the index of its word (``words``);
- :func:`bert_template`: BERT's ``[CLS] A [SEP] B [SEP]`` around one or two :class:`Pieces`,
  giving an :class:`Encoding` (token types, special-tokens mask, which text each position is
  from);
- :func:`collate`: rows padded to one length, as lists or arrays;
- :class:`BatchEncoding`: what the tokenizer call returns, a dict as Hugging Face's that also
  answers ``word_ids()``, ``sequence_ids()``, ``tokens()``, ``word_to_tokens()`` and
  ``word_to_chars()``.

Padding writes ``[PAD]`` with token type 0, attention mask 0, special-tokens mask 1, offsets
``(0, 0)`` and no word, on the right or on the left (``padding_side``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from attention_lab.errors import AttentionLabError

PADDINGS = ("do_not_pad", "longest", "max_length")
NO_SPAN = (0, 0)
# The outputs a row can give, in Hugging Face's order, and the attribute of Encoding for each.
_ROW_ATTRIBUTE = {
    "input_ids": "ids",
    "token_type_ids": "type_ids",
    "attention_mask": "attention_mask",
    "special_tokens_mask": "special_tokens_mask",
    "offset_mapping": "offsets",
}


class TokenSpan(NamedTuple):
    start: int
    end: int


class CharSpan(NamedTuple):
    start: int
    end: int


@dataclass(slots=True)
class Pieces:
    """WordPiece ids of one text, without special tokens; with their origin when tracked.

    ``offsets[i]`` is the ``(start, end)`` of piece ``i`` in the original text (``text[start:
    end]`` is what it was made from, before lower-casing or accent stripping); ``words[i]`` the
    index of its word (a word of the basic tokenizer, or an added token). Both are ``None`` when
    not tracked, which is faster.
    """

    ids: list[int] = field(default_factory=list)
    offsets: list[tuple[int, int]] | None = None
    words: list[int] | None = None
    n_words: int = 0

    @classmethod
    def tracked(cls) -> Pieces:
        return cls([], [], [])

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, window: slice) -> Pieces:
        if self.offsets is None:
            return Pieces(self.ids[window])
        return Pieces(self.ids[window], self.offsets[window], self.words[window], self.n_words)

    def __add__(self, other: Pieces) -> Pieces:
        if self.offsets is None:
            return Pieces(self.ids + other.ids)
        return Pieces(
            self.ids + other.ids,
            self.offsets + other.offsets,
            self.words + other.words,
            max(self.n_words, other.n_words),
        )

    def extend(self, other: Pieces, word: int) -> None:
        """Append ``other``'s pieces, all as word number ``word`` (``is_split_into_words``)."""
        self.ids.extend(other.ids)
        if self.offsets is not None:
            self.offsets.extend(other.offsets)
            self.words.extend([word] * len(other))
        self.n_words = word + 1


@dataclass(slots=True)
class Encoding:
    """One row of model input, ``[CLS] A [SEP] (B [SEP])`` then padding, and where each
    position came from.

    The row is kept as its parts (``a``, ``b``, whether the template's special tokens are
    there, padding on each side); each output below is built from them when asked for.
    """

    core: list[int]  # the ids without padding
    a: Pieces
    b: Pieces | None = None
    special: bool = True
    left: int = 0
    right: int = 0
    pad_id: int = 0

    def __len__(self) -> int:
        return self.left + len(self.core) + self.right

    def padded(self, width: int, side: str, pad_id: int) -> Encoding:
        extra = width - len(self)
        if extra <= 0:
            return self
        if side == "left":
            left, right = self.left + extra, self.right
        else:
            left, right = self.left, self.right + extra
        return Encoding(self.core, self.a, self.b, self.special, left, right, pad_id)

    def _layout(self, pad, special, a, b) -> list:
        """A value per position: ``pad`` on padding, ``special`` on ``[CLS]`` and ``[SEP]``,
        ``a``/``b`` (a list, or one value for all) on the two texts."""
        mark = [special] if self.special else []
        out = [pad] * self.left + mark + (a if isinstance(a, list) else [a] * len(self.a)) + mark
        if self.b is not None:
            out += (b if isinstance(b, list) else [b] * len(self.b)) + mark
        return out + [pad] * self.right

    @property
    def ids(self) -> list[int]:
        return [self.pad_id] * self.left + self.core + [self.pad_id] * self.right

    @property
    def type_ids(self) -> list[int]:
        first = self.left + len(self.a) + 2 * self.special
        second = 0 if self.b is None else len(self.b) + self.special
        return [0] * first + [1] * second + [0] * self.right

    @property
    def attention_mask(self) -> list[int]:
        return [0] * self.left + [1] * len(self.core) + [0] * self.right

    @property
    def special_tokens_mask(self) -> list[int]:
        return self._layout(1, 1, 0, 0)

    @property
    def sequence_ids(self) -> list[int | None]:
        return self._layout(None, None, 0, 1)

    @property
    def tracked(self) -> bool:
        return self.a.offsets is not None

    @property
    def offsets(self) -> list[tuple[int, int]]:
        return self._layout(NO_SPAN, NO_SPAN, self.a.offsets, self.b and self.b.offsets)

    @property
    def word_ids(self) -> list[int | None]:
        return self._layout(None, None, self.a.words, self.b and self.b.words)


def bert_template(
    a: Pieces, b: Pieces | None, cls_id: int, sep_id: int, add_special_tokens: bool = True
) -> Encoding:
    """``[CLS] A [SEP]`` (types 0) ``B [SEP]`` (types 1); without special tokens, ``A B``."""
    if not add_special_tokens:
        return Encoding(a.ids if b is None else a.ids + b.ids, a, b, special=False)
    core = [cls_id, *a.ids, sep_id] if b is None else [cls_id, *a.ids, sep_id, *b.ids, sep_id]
    return Encoding(core, a, b)


def padding_strategy(padding) -> str:
    if padding is True:
        return "longest"
    if padding is False or padding is None:
        return "do_not_pad"
    if padding not in PADDINGS:
        raise AttentionLabError(
            f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)} (or True / False)"
        )
    return padding


def target_width(
    lengths: Sequence[int], padding: str, max_length: int | None, pad_to_multiple_of: int | None
) -> int | None:
    """The length rows are padded to (``None``: no padding)."""
    if padding == "do_not_pad":
        return None
    width = max_length if padding == "max_length" else max(lengths, default=0)
    if pad_to_multiple_of is not None:
        if isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, int):
            raise AttentionLabError(
                f"pad_to_multiple_of should be a positive integer, not {pad_to_multiple_of!r}"
            )
        if pad_to_multiple_of < 1:
            raise AttentionLabError(f"pad_to_multiple_of={pad_to_multiple_of} should be >= 1")
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    return width


def pad_values(values: list, width: int, side: str, value) -> list:
    """``values`` padded with ``value`` to ``width`` on ``side`` (longer lists stay as they are)."""
    extra = width - len(values)
    if extra <= 0:
        return values
    return [value] * extra + values if side == "left" else values + [value] * extra


PAD_VALUES = {
    "token_type_ids": 0,
    "attention_mask": 0,
    "special_tokens_mask": 1,
    "offset_mapping": NO_SPAN,
}


def to_tensors(data: dict, return_tensors: str | None, dtype=np.int64) -> dict:
    """Rows of equal length → NumPy (``"np"``) or TensorFlow (``"tf"``, int32) arrays."""
    if return_tensors is None:
        return data
    if return_tensors not in ("np", "tf"):
        raise AttentionLabError(
            f"unknown return_tensors {return_tensors!r}; choose 'np', 'tf' or None (lists)"
        )
    out = {}
    for key, rows in data.items():
        nested = isinstance(rows, list) and rows and isinstance(rows[0], list)
        if nested and len({len(row) for row in rows}) > 1:
            raise AttentionLabError(
                f"{key} has rows of different lengths, which cannot form an array; pass "
                "padding=True (the longest row) or padding='max_length'"
            )
        out[key] = np.asarray(rows, dtype=dtype)
    if return_tensors == "tf":
        import tensorflow as tf

        out = {key: tf.constant(value, dtype=tf.int32) for key, value in out.items()}
    return out


def collate(
    rows: list[Encoding],
    keys: Sequence[str],
    width: int | None,
    side: str,
    pad_id: int,
    return_tensors: str | None,
    dtype,
    extra: dict,
) -> tuple[dict, Callable[[], list[Encoding]]]:
    """The ``keys`` of every row, padded to ``width`` (``None``: as they are), then ``extra``
    (one value per row: ``length``, ``overflow_to_sample_mapping``); and a function that gives
    the padded rows (only built when asked for)."""

    def padded() -> list[Encoding]:
        return rows if width is None else [row.padded(width, side, pad_id) for row in rows]

    if return_tensors is not None and width is not None:
        longest = max((len(row) for row in rows), default=0)
        if longest > width:
            raise AttentionLabError(
                f"a row has {longest} tokens, more than the {width} it should be padded to, "
                "and truncation is off; turn truncation on or raise max_length"
            )
        data = {**_arrays(rows, keys, width, side, pad_id, dtype), **extra}
        return to_tensors(data, return_tensors, dtype), padded
    rows = padded()
    data = {key: [getattr(row, _ROW_ATTRIBUTE[key]) for row in rows] for key in keys}
    data.update(extra)
    return to_tensors(data, return_tensors, dtype), lambda: rows


def _arrays(rows, keys, width, side, pad_id, dtype) -> dict[str, np.ndarray]:
    """Rows written straight into preallocated arrays (no padded Python lists); the masks,
    which only depend on where each part of a row starts and ends, without a Python loop."""
    lengths = np.array([len(row.core) for row in rows], dtype=np.int64).reshape(-1, 1)
    starts = width - lengths if side == "left" else np.zeros_like(lengths)
    special = np.array([row.special for row in rows], dtype=np.int64).reshape(-1, 1)
    a_lengths = np.array([len(row.a) for row in rows], dtype=np.int64).reshape(-1, 1)
    b_lengths = np.array([len(row.b) if row.b is not None else 0 for row in rows]).reshape(-1, 1)
    position = np.arange(width).reshape(1, -1)
    a_start = starts + special
    b_start = a_start + a_lengths + special  # the end of the row when there is no b
    out = {}
    for key in keys:
        if key == "attention_mask":
            out[key] = ((position >= starts) & (position < starts + lengths)).astype(dtype)
        elif key == "token_type_ids":
            out[key] = ((position >= b_start) & (position < starts + lengths)).astype(dtype)
        elif key == "special_tokens_mask":
            in_a = (position >= a_start) & (position < a_start + a_lengths)
            in_b = (position >= b_start) & (position < b_start + b_lengths)
            out[key] = (~(in_a | in_b)).astype(dtype)
        else:
            fill = pad_id if key == "input_ids" else 0
            shape = (len(rows), width, 2) if key == "offset_mapping" else (len(rows), width)
            array = np.full(shape, fill, dtype)
            attribute = "core" if key == "input_ids" else "offsets"
            for index, (row, start) in enumerate(zip(rows, starts[:, 0].tolist(), strict=True)):
                values = getattr(row, attribute)
                if values:
                    array[index, start : start + len(values)] = values
            out[key] = array
    return out


class BatchEncoding(dict):
    """The encoded batch as a dict (``input_ids`` …), with Hugging Face's accessors.

    ``encodings[i]`` is row ``i`` as an :class:`Encoding`; ``word_ids(i)`` gives, position by
    position, the index of the word each token came from (``None`` for special tokens and
    padding), ``sequence_ids(i)`` which text (0, 1 or ``None``). Keys read as attributes too.
    """

    def __init__(self, data: dict, rows: Callable[[], list[Encoding]], id_to_token, retrack=None):
        super().__init__(data)
        self._make_rows, self._rows = rows, None
        self._id_to_token = id_to_token
        # Rows encoded without offsets get them, when an accessor needs them, from ``retrack()``
        # (the same call with return_offsets_mapping=True, which is slower).
        self._retrack = retrack

    @property
    def encodings(self) -> list[Encoding]:
        """Row ``i`` as an :class:`Encoding` (padded as the outputs are), made when first read."""
        if self._rows is None:
            self._rows = self._make_rows()
        return self._rows

    def first(self) -> BatchEncoding:
        """The first row without the batch dimension (a single text's encoding)."""
        data = {k: v[0] if v and isinstance(v[0], list) else v for k, v in self.items()}
        retrack = self._retrack
        return BatchEncoding(
            data,
            lambda: self.encodings[:1],
            self._id_to_token,
            retrack and (lambda: retrack()[:1]),
        )

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no attribute or key {name!r}") from None

    def _row(self, batch_index: int) -> Encoding:
        rows = self.encodings
        if not -len(rows) <= batch_index < len(rows):
            raise AttentionLabError(f"batch_index {batch_index} is outside 0 … {len(rows) - 1}")
        return rows[batch_index]

    def _tracked(self, batch_index: int) -> Encoding:
        row = self._row(batch_index)
        if not row.tracked:
            if self._retrack is None:
                raise AttentionLabError(
                    "this encoding does not know where its tokens came from; encode with the "
                    "tokenizer call (return_offsets_mapping=True is fastest for that)"
                )
            self._rows, self._retrack = self._retrack(), None
            row = self._row(batch_index)
        return row

    def tokens(self, batch_index: int = 0) -> list[str]:
        return [self._id_to_token[i] for i in self._row(batch_index).ids]

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        return list(self._row(batch_index).sequence_ids)

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        return list(self._tracked(batch_index).word_ids)

    def _word_positions(self, batch_or_word_index, word_index, sequence_index):
        if word_index is None:
            batch_index, word = 0, batch_or_word_index
        else:
            batch_index, word = batch_or_word_index, word_index
        row = self._tracked(batch_index)
        return row, [
            i
            for i, (w, s) in enumerate(zip(row.word_ids, row.sequence_ids, strict=True))
            if w == word and s == sequence_index
        ]

    def word_to_tokens(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> TokenSpan | None:
        """Positions ``[start, end)`` of a word's tokens (``None`` if it was cut off)."""
        _, positions = self._word_positions(batch_or_word_index, word_index, sequence_index)
        return TokenSpan(positions[0], positions[-1] + 1) if positions else None

    def word_to_chars(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> CharSpan | None:
        """Characters ``[start, end)`` of a word in its text (``None`` if it was cut off)."""
        row, positions = self._word_positions(batch_or_word_index, word_index, sequence_index)
        if not positions:
            return None
        offsets = row.offsets
        return CharSpan(offsets[positions[0]][0], offsets[positions[-1]][1])
