"""What a seq2seq task is: two alphabets, maximum lengths and a seeded example generator.

A task only makes data (pairs of strings and their teacher-forcing arrays); models and
training live in :mod:`attention_lab.models.seq2seq` and :mod:`attention_lab.training.seq2seq`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from attention_lab.data.char_vocabulary import END, PAD, START, CharVocabulary
from attention_lab.errors import AttentionLabError


@dataclass(frozen=True)
class Seq2SeqTask:
    """A synthetic task: ``generate(rng)`` draws one ``(source, target)`` pair of strings.

    ``max_source_len`` / ``max_target_len`` bound every pair the generator can produce (the
    target length excludes the end token).
    """

    name: str
    description: str
    source_alphabet: str
    target_alphabet: str
    max_source_len: int
    max_target_len: int
    generate: Callable[[random.Random], tuple[str, str]]

    @property
    def source_vocab(self) -> CharVocabulary:
        return CharVocabulary(self.source_alphabet)

    @property
    def target_vocab(self) -> CharVocabulary:
        return CharVocabulary(self.target_alphabet)

    def examples(self, n: int, seed: int) -> list[tuple[str, str]]:
        """``n`` pairs drawn with ``random.Random(seed)``: the same seed gives the same pairs."""
        rng = random.Random(seed)
        return [self.generate(rng) for _ in range(n)]

    def split(self, n_train: int, n_test: int, seed: int):
        """Training pairs and held-out pairs whose sources never occur in the training set."""
        if n_train < 1 or n_test < 1:
            raise AttentionLabError("need at least one training and one held-out example")
        train = self.examples(n_train, seed)
        seen = {source for source, _ in train}
        rng = random.Random(seed + 1)
        test: list[tuple[str, str]] = []
        for _ in range(100 * n_test):
            if len(test) == n_test:
                return train, test
            pair = self.generate(rng)
            if pair[0] not in seen:
                seen.add(pair[0])
                test.append(pair)
        raise AttentionLabError(
            f"task {self.name!r} cannot produce {n_test} held-out inputs unseen in "
            f"{n_train} training examples; ask for fewer"
        )

    def arrays(self, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
        """Teacher-forcing arrays for ``pairs``.

        Returns ``source`` ``(n, max_source_len)``, ``decoder_input`` = ``<s>`` + target and
        ``labels`` = target + ``</s>``, both ``(n, max_target_len + 1)``, padded with ``PAD``.
        """
        source = self.source_vocab.encode_batch([s for s, _ in pairs], self.max_source_len)
        steps = self.max_target_len + 1
        decoder_input = np.full((len(pairs), steps), PAD, dtype=np.int32)
        labels = np.full((len(pairs), steps), PAD, dtype=np.int32)
        vocab = self.target_vocab
        for row, (_, target) in enumerate(pairs):
            ids = vocab.encode(target, self.max_target_len)
            decoder_input[row, : len(ids) + 1] = [START, *ids]
            labels[row, : len(ids) + 1] = [*ids, END]
        return {"source": source, "decoder_input": decoder_input, "labels": labels}
