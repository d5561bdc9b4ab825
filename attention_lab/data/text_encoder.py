"""The chapter's preprocessing: tfds-style tokenizer, token encoder and padding (section 2).

The chapter builds its vocabulary with ``tfds.deprecated.text.Tokenizer`` (split on runs of
non-word characters, ``\\W+``), collects every train token in a case-sensitive Python ``set``,
and encodes with ``TokenTextEncoder(vocabulary_set, lowercase=True, tokenizer=tokenizer)``.
We re-implement both (tests compare with ``tfds.deprecated.text`` on real reviews):

- id 0 is padding, ids ``1..len(vocab_list)`` the vocabulary list in order, and the next id
  the single out-of-vocabulary bucket, so ``vocab_size = len(vocab_list) + 2``;
- ``mode="faithful"`` (default) keeps what TokenTextEncoder does with ``lowercase=True`` on a
  case-sensitive vocabulary: every entry is lower-cased but duplicates are not merged (``The``
  and ``the`` both stay in the list, and the later one wins the lookup), so ``vocab_size`` counts
  them and some embedding rows are never used. The chapter's parameter count depends on this;
- ``mode="clean"`` lower-cases, then drops duplicates: one id per distinct lower-cased token.

The chapter's set has no stable order (Python hashes strings at random); we sort it, so ids
are reproducible. :func:`pad_and_truncate` follows Keras ``pad_sequences(..., padding="post",
maxlen=150)``: its default ``truncating="pre"`` keeps the *last* 150 tokens (``truncate="last"``,
what the chapter's code ran); ``truncate="first"`` keeps the first 150 (what its text says).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from attention_lab.errors import AttentionLabError, check_at_least_one

MODES = ("faithful", "clean")
TRUNCATIONS = ("last", "first")
_NON_WORD = re.compile(r"\W+", flags=re.UNICODE)


def _as_text(text: str | bytes) -> str:
    return text.decode("utf-8") if isinstance(text, bytes) else text


def tokenize(text: str | bytes) -> list[str]:
    """Split on runs of non-word characters and drop empty pieces (tfds ``Tokenizer()``)."""
    return [token for token in _NON_WORD.split(_as_text(text)) if token]


def build_vocabulary(texts: Iterable[str | bytes]) -> tuple[list[str], int]:
    """The chapter's vocabulary loop: the sorted set of train tokens, and the longest review.

    Returns ``(vocabulary, max_tokens)``; case is kept (``The`` and ``the`` are two entries).
    """
    vocabulary: set[str] = set()
    max_tokens = 0
    for text in texts:
        tokens = tokenize(text)
        vocabulary.update(tokens)
        max_tokens = max(max_tokens, len(tokens))
    return sorted(vocabulary), max_tokens


class TokenEncoder:
    """Token -> id encoder with padding id 0 and one out-of-vocabulary id (TokenTextEncoder).

    Args:
        vocab_list: tokens in id order (id = position + 1).
        lowercase: lower-case the text and every vocabulary entry, as the chapter does.
        mode: ``"faithful"`` keeps lower-cased duplicates (TokenTextEncoder's behaviour);
            ``"clean"`` merges them.
    """

    def __init__(self, vocab_list: Sequence[str], lowercase: bool = True, mode: str = "faithful"):
        if mode not in MODES:
            raise AttentionLabError(f"unknown encoder mode {mode!r}; choose one of {MODES}")
        tokens = [token.strip() for token in vocab_list]
        if lowercase:
            tokens = [token.lower() for token in tokens]
        if mode == "clean":
            tokens = list(dict.fromkeys(tokens))
        if not tokens:
            raise AttentionLabError("empty vocabulary: build it from at least one non-empty text")
        self.vocab_list = list(vocab_list)
        self.lowercase = lowercase
        self.mode = mode
        self._tokens = tokens
        # dict() keeps the last id of a duplicated token, like TokenTextEncoder.
        self._token_to_id = {token: index + 1 for index, token in enumerate(tokens)}
        self.oov_id = len(tokens) + 1

    @property
    def vocab_size(self) -> int:
        """Padding + vocabulary list (duplicates counted in faithful mode) + 1 OOV bucket."""
        return len(self._tokens) + 2

    @property
    def tokens(self) -> list[str]:
        """The (lower-cased) vocabulary list in id order, duplicates included."""
        return list(self._tokens)

    def token_id(self, token: str) -> int:
        """The id :meth:`encode` gives ``token`` (the OOV id if unknown)."""
        return self._token_to_id.get(token, self.oov_id)

    def encode(self, text: str | bytes) -> list[int]:
        """Ids of the tokens of ``text`` (no padding, no truncation)."""
        text = _as_text(text)
        if self.lowercase:
            text = text.lower()
        lookup, oov = self._token_to_id, self.oov_id
        return [lookup.get(token, oov) for token in tokenize(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Tokens joined by spaces; padding dropped, OOV ids shown as ``UNK``."""
        return " ".join(
            self._tokens[index - 1] if index < self.oov_id else "UNK" for index in ids if index != 0
        )


def pad_and_truncate(
    sequences: Sequence[Sequence[int]], max_len: int = 150, truncate: str = "last"
) -> np.ndarray:
    """``(len(sequences), max_len)`` int32 array, zeros after each sequence (``padding="post"``).

    ``truncate="last"`` keeps the last ``max_len`` ids of a longer sequence (Keras's default
    ``truncating="pre"``, the chapter's code); ``"first"`` keeps the first ones.
    """
    if truncate not in TRUNCATIONS:
        raise AttentionLabError(f"unknown truncation {truncate!r}; choose 'last' or 'first'")
    check_at_least_one("max_len", max_len)
    out = np.zeros((len(sequences), max_len), dtype=np.int32)
    for row, ids in enumerate(sequences):
        kept = ids[-max_len:] if truncate == "last" else ids[:max_len]
        out[row, : len(kept)] = kept
    return out


def encode_and_pad(
    encoder: TokenEncoder,
    texts: Iterable[str | bytes],
    max_len: int = 150,
    truncate: str = "last",
) -> np.ndarray:
    """``(len(texts), max_len)`` int32 ids: :meth:`TokenEncoder.encode` then
    :func:`pad_and_truncate`, the chapter's ``encode_pad_transform`` over a whole split."""
    return pad_and_truncate([encoder.encode(text) for text in texts], max_len, truncate)
