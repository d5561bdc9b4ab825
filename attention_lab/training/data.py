"""Encoded reviews in memory, the 80/20 train/validation split and fixed-shape batches.

Chapter section 4 encodes every review to 150 WordPiece ids with ``[CLS] … [SEP]``, an
attention mask and segment ids, then calls ``train_test_split(test_size=0.2,
random_state=42)`` for 20,000 training and 5,000 validation reviews. :func:`encode_texts`
and :func:`train_validation_split` do the same; the split follows scikit-learn's rule
(``RandomState(42).permutation``, the first ``ceil(0.2·n)`` indices for validation).

Batches come from numpy arrays rather than a shuffling ``tf.data`` buffer so that epoch
``e`` always sees the same order (a permutation seeded by ``seed + e``): a run resumed in
the middle of an epoch continues with exactly the batches it had not seen yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from attention_lab.errors import AttentionLabError

FEATURES = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class EncodedDataset:
    """Encoded examples: ``features`` maps each of :data:`FEATURES` to int32 ``(n, len)``."""

    features: dict[str, np.ndarray]
    labels: np.ndarray

    def __post_init__(self) -> None:
        missing = [name for name in FEATURES if name not in self.features]
        if missing:
            raise AttentionLabError(f"encoded features lack {missing}; expected {FEATURES}")
        self.features = {k: np.asarray(self.features[k], dtype=np.int32) for k in FEATURES}
        self.labels = np.asarray(self.labels, dtype=np.int32)
        shapes = {k: v.shape for k, v in self.features.items()}
        n = len(self.labels)
        if any(len(shape) != 2 or shape[0] != n for shape in shapes.values()):
            raise AttentionLabError(
                f"features {shapes} and {n} labels disagree; every feature must be (n, len)"
            )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def max_len(self) -> int:
        return self.features["input_ids"].shape[1]

    def subset(self, indices: np.ndarray) -> EncodedDataset:
        return EncodedDataset(
            {k: v[indices] for k, v in self.features.items()}, self.labels[indices]
        )

    def check(self, num_labels: int, name: str = "dataset") -> EncodedDataset:
        """Refuse an empty dataset and labels outside ``0 … num_labels - 1``."""
        if len(self) == 0:
            raise AttentionLabError(
                f"the {name} is empty; pass reviews (check --limit and the data source)"
            )
        bad = np.flatnonzero((self.labels < 0) | (self.labels >= num_labels))
        if bad.size:
            raise AttentionLabError(
                f"the {name} has label {int(self.labels[bad[0]])} at index {int(bad[0])}; a "
                f"{num_labels}-label head needs labels 0 … {num_labels - 1} (IMDb: 0 = negative, "
                "1 = positive; the unsupervised split's -1 cannot be trained on)"
            )
        return self


def encode_texts(
    tokenizer,
    texts: Sequence[str | bytes],
    labels: Sequence[int] | np.ndarray,
    max_length: int,
    truncation: str = "first",
) -> EncodedDataset:
    """Encode ``texts`` with ``tokenizer.encode_batch`` to ``max_length`` ids, padded."""
    texts = [t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]
    if not texts:
        return EncodedDataset(
            {k: np.zeros((0, max_length), np.int32) for k in FEATURES}, np.zeros(0, np.int32)
        )
    encoded = tokenizer.encode_batch(
        texts, max_length=max_length, truncation=truncation, padding="max_length"
    )
    return EncodedDataset({k: encoded[k] for k in FEATURES}, np.asarray(labels))


def train_validation_split(
    data: EncodedDataset, validation_fraction: float = 0.2, seed: int = 42
) -> tuple[EncodedDataset, EncodedDataset]:
    """``(train, validation)``: scikit-learn's ``train_test_split(test_size, random_state)``."""
    if not 0.0 < validation_fraction < 1.0:
        raise AttentionLabError(
            f"validation fraction must lie strictly between 0 and 1, got {validation_fraction}"
        )
    n = len(data)
    n_validation = math.ceil(validation_fraction * n)
    if n_validation >= n:
        raise AttentionLabError(
            f"{n} examples leave nothing to train on after a {validation_fraction:.0%} "
            "validation split; pass more reviews"
        )
    order = np.random.RandomState(seed).permutation(n)
    return data.subset(order[n_validation:]), data.subset(order[:n_validation])


def epoch_order(n: int, epoch: int, seed: int) -> np.ndarray:
    """The shuffled order of epoch ``epoch`` (0-based): the same every time it is asked for."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def train_batches(
    data: EncodedDataset, batch_size: int, epoch: int, seed: int, start: int = 0
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Full batches of epoch ``epoch`` from batch index ``start`` on (a remainder is dropped).

    Every batch has exactly ``batch_size`` examples, so a compiled step never retraces.
    """
    order = epoch_order(len(data), epoch, seed)
    for b in range(start, len(data) // batch_size):
        rows = order[b * batch_size : (b + 1) * batch_size]
        yield {k: v[rows] for k, v in data.features.items()}, data.labels[rows]


def length_sorted_batches(
    data: EncodedDataset, batch_size: int, multiple: int = 16
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Inference batches of similar lengths, trimmed of shared padding: ``(rows, features)``.

    Padding is masked, so dropping the columns that are padding for every row of a batch
    changes no logit (up to float rounding) and saves their compute. Lengths are rounded up
    to a ``multiple`` and the last batch is padded with copies of its first row, so a compiled
    function sees few distinct shapes; ``rows`` are the real examples' indices.
    """
    lengths = data.features["attention_mask"].sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(data), batch_size):
        rows = order[start : start + batch_size]
        width = min(
            data.max_len, max(multiple, -(-int(lengths[rows].max()) // multiple) * multiple)
        )
        padded = np.concatenate([rows, np.full(batch_size - len(rows), rows[0])])
        yield rows, {k: v[padded, :width] for k, v in data.features.items()}
