"""Character vocabularies of the encoder-decoder (chapter section 3): one id per character
plus three specials.

Id 0 is padding, 1 the start token the decoder is fed first, 2 the end token it emits last;
the alphabet's characters follow in order. A character outside the alphabet, an input that is
empty or only whitespace, or one longer than the model's maximum is an error, never silently
dropped or cut. The seq2seq tasks (:mod:`attention_lab.tasks`) encode their examples with it
and the model (:mod:`attention_lab.models.seq2seq`) its inputs and outputs.
"""

from __future__ import annotations

import numpy as np

from attention_lab.errors import AttentionLabError

PAD, START, END = 0, 1, 2
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")


class CharVocabulary:
    """Maps the characters of ``alphabet`` to ids ``3 .. 3 + len(alphabet) - 1``."""

    def __init__(self, alphabet: str):
        if len(set(alphabet)) != len(alphabet):
            raise AttentionLabError(f"alphabet {alphabet!r} repeats a character")
        self.alphabet = alphabet
        self.tokens = (*SPECIAL_TOKENS, *alphabet)
        self._ids = {char: i for i, char in enumerate(self.tokens) if i >= len(SPECIAL_TOKENS)}

    @property
    def size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, max_len: int) -> list[int]:
        """Ids of ``text``'s characters; raises on empty, blank, too long or unknown input."""
        if not text.strip():
            raise AttentionLabError(
                f"input {text!r} is empty or only whitespace; give at least one visible character"
            )
        if len(text) > max_len:
            raise AttentionLabError(
                f"input {text!r} has {len(text)} characters; this model reads at most "
                f"{max_len} (shorten it or train a model with a larger maximum)"
            )
        unknown = sorted({char for char in text if char not in self._ids})
        if unknown:
            raise AttentionLabError(
                f"input {text!r} has characters outside the model's vocabulary: "
                f"{''.join(unknown)!r}; allowed characters are {self.alphabet!r}"
            )
        return [self._ids[char] for char in text]

    def encode_batch(self, texts: list[str], max_len: int) -> np.ndarray:
        """``(len(texts), max_len)`` int32 ids, padded with ``PAD`` at the end."""
        ids = np.full((len(texts), max_len), PAD, dtype=np.int32)
        for row, text in enumerate(texts):
            encoded = self.encode(text, max_len)
            ids[row, : len(encoded)] = encoded
        return ids

    def decode(self, ids) -> str:
        """The text of ``ids`` up to (not including) the first ``END``; padding is skipped."""
        chars = []
        for i in ids:
            if i == END:
                break
            if i >= len(SPECIAL_TOKENS):
                chars.append(self.tokens[i])
        return "".join(chars)
