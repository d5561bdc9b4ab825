"""Encoded reviews, the 80/20 split, and the batches ``model.fit`` and prediction read.

Chapter section 4 encodes every review to 150 WordPiece ids with ``[CLS] … [SEP]``, an
attention mask and segment ids, then calls ``train_test_split(test_size=0.2,
random_state=42)`` for 20,000 training and 5,000 validation reviews. :func:`encode_reviews`
and :func:`train_validation_split` do the same; the split follows scikit-learn's rule
(``RandomState(42).permutation``, the first ``ceil(0.2·n)`` indices for validation).

Batches are ``keras.utils.PyDataset`` s built from the numpy arrays, so ``fit`` reads them on
every backend without ``tf.data``:

- :class:`TrainingStream`: the training batches of every epoch, one after the other, as an
  endless stream indexed by the global step. Epoch ``e`` always sees the same order (a
  permutation seeded by ``[seed, e]``), so a run resumed at step ``s`` continues with exactly
  the batches it had not seen yet. With ``bucket_by_length``, reviews of similar length share
  a batch, padded only to the longest (rounded up to a multiple of 16).
- :class:`InferenceBatches`: evaluation and prediction batches sorted by length, each padded
  only to its own longest review; padding is masked, so the logits equal those of fully
  padded batches up to float rounding, and less is computed.

Both vary the sequence length from batch to batch. TensorFlow's ``fit`` turns a PyDataset into
``tf.data`` with a signature guessed from its first two batches, which would fix the length;
:meth:`ArrayBatches.for_fit` hands TensorFlow a ``tf.data`` pipeline whose signature leaves
the length free (the one TensorFlow-specific piece of this module).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from attention_lab import backend
from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import BertConfig, check_inputs

FEATURES = ("input_ids", "attention_mask", "token_type_ids")
LENGTH_MULTIPLE = 16  # trimmed batches are padded to a multiple of this: few distinct shapes
BUCKET_WINDOW = 64  # with bucket_by_length, reviews are sorted by length in windows of 64 batches


@dataclass
class EncodedDataset:
    """Encoded examples: ``features`` maps each of :data:`FEATURES` to int32 ``(n, len)``."""

    features: dict[str, np.ndarray]
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.features = {k: np.asarray(self.features[k], dtype=np.int32) for k in FEATURES}
        self.labels = np.asarray(self.labels, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def max_len(self) -> int:
        return self.features["input_ids"].shape[1]

    @property
    def lengths(self) -> np.ndarray:
        """Real (unpadded) tokens of each example."""
        return self.features["attention_mask"].sum(axis=1)

    def subset(self, indices: np.ndarray) -> EncodedDataset:
        return EncodedDataset(self.rows(indices), self.labels[indices])

    def rows(self, indices: np.ndarray, width: int | None = None) -> dict[str, np.ndarray]:
        """The features of ``indices``, trimmed to the first ``width`` positions."""
        return {k: v[indices, :width] for k, v in self.features.items()}

    def check(self, config: BertConfig, name: str = "dataset") -> None:
        """Refuse an empty dataset, labels outside ``0 … num_labels - 1`` and features the
        model of ``config`` cannot read (:func:`~attention_lab.models.bert.check_inputs`):
        compiled training and evaluation steps can no longer check them."""
        num_labels = config.num_labels
        if len(self) == 0:
            raise AttentionLabError(
                f"the {name} is empty; pass reviews (check --limit and the data source)"
            )
        bad = np.flatnonzero((self.labels < 0) | (self.labels >= num_labels))
        if bad.size:
            raise AttentionLabError(
                f"the {name} has label {int(self.labels[bad[0]])} at index {int(bad[0])}; a "
                f"{num_labels}-label head needs labels 0 … {num_labels - 1}"
            )
        check_inputs(config, self.features)


def encode_reviews(
    tokenizer,
    texts: Sequence[str | bytes],
    labels: Sequence[int] | np.ndarray | None,
    max_length: int,
    truncation: str = "first",
) -> EncodedDataset:
    """Encode ``texts`` to ``max_length`` WordPiece ids, padded, as the chapter's bert_encoder.

    ``labels`` None gives labels 0 (for prediction).
    """
    texts = [t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]
    labels = np.zeros(len(texts), np.int32) if labels is None else np.asarray(labels)
    encoded = tokenizer.encode_batch(
        texts, max_length=max_length, truncation=truncation, padding="max_length"
    )
    return EncodedDataset({k: encoded[k] for k in FEATURES}, labels)


def train_validation_split(
    data: EncodedDataset, validation_fraction: float = 0.2, seed: int = 42
) -> tuple[EncodedDataset, EncodedDataset]:
    """``(train, validation)``: scikit-learn's ``train_test_split(test_size, random_state)``."""
    n_validation = math.ceil(validation_fraction * len(data))
    order = np.random.RandomState(seed).permutation(len(data))
    return data.subset(order[n_validation:]), data.subset(order[:n_validation])


def padded_width(longest: int, max_len: int, multiple: int = LENGTH_MULTIPLE) -> int:
    """``longest`` rounded up to a multiple of ``multiple``, at most ``max_len``."""
    return min(max_len, max(multiple, -(-int(longest) // multiple) * multiple))


class ArrayBatches(keras.utils.PyDataset):
    """Batches of ``(features, labels)`` cut from an :class:`EncodedDataset`."""

    def __init__(self, data: EncodedDataset):
        super().__init__()
        self.data = data

    def batch(self, rows: np.ndarray, trim: bool = True):
        """``(features, labels)`` of ``rows``; ``trim``: padded only to their longest review."""
        width = padded_width(self.data.lengths[rows].max(), self.data.max_len) if trim else None
        return self.data.rows(rows, width), self.data.labels[rows]

    def for_fit(self):
        """What to pass to ``fit``: this dataset, or on TensorFlow a ``tf.data`` pipeline of
        it whose signature leaves batch size and length free."""
        if backend.name() != "tensorflow":
            return self
        import tensorflow as tf

        spec = {k: tf.TensorSpec((None, None), tf.int32) for k in FEATURES}
        signature = (spec, tf.TensorSpec((None,), tf.int32))

        def generate():
            count = self.num_batches
            for i in itertools.count() if count is None else range(count):
                yield self[i]

        dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
        if self.num_batches is not None:  # known length: fit's evaluation loop needs no guess
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(self.num_batches))
        return prefetched(dataset)


def prefetched(dataset):
    """``dataset`` (``tf.data``) with two batches made ahead, and without tf.data's autotuning,
    whose thread, when ``fit`` returns and the pipeline is torn down, could hold the return up
    for tens of seconds. The allocator is set to reuse freed buffers
    (:func:`attention_lab.backend.keep_freed_memory`), which ``from_generator`` undoes."""
    import tensorflow as tf

    backend.keep_freed_memory()

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(2).with_options(options)


class TrainingStream(ArrayBatches):
    """Every epoch's training batches in turn; item ``i`` is the batch of step ``start + i``.

    Each epoch has ``len(data) // batch_size`` full batches (a remainder is left out, so a
    compiled step sees one batch size). Pass ``steps_per_epoch`` to ``fit``: the stream itself
    never ends.
    """

    def __init__(
        self,
        data: EncodedDataset,
        batch_size: int,
        seed: int,
        start: int = 0,
        bucket_by_length: bool = False,
    ):
        super().__init__(data)
        self.batch_size, self.seed, self.start = batch_size, seed, start
        self.bucket_by_length = bucket_by_length
        self.steps_per_epoch = len(data) // batch_size
        self._epoch, self._batches = None, None

    @property
    def num_batches(self):
        return None  # endless: fit's steps_per_epoch says where an epoch ends

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The example indices of every batch of ``epoch``, in order (the same every time)."""
        n, size = len(self.data), self.batch_size
        order = np.random.default_rng([self.seed, epoch]).permutation(n)
        used = order[: self.steps_per_epoch * size]
        if not self.bucket_by_length:
            return list(used.reshape(self.steps_per_epoch, size))
        lengths = self.data.lengths
        window = BUCKET_WINDOW * size
        chunks = [used[i : i + window] for i in range(0, len(used), window)]
        by_length = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in chunks])
        batches = by_length.reshape(self.steps_per_epoch, size)
        shuffled = np.random.default_rng([self.seed, epoch, 1]).permutation(len(batches))
        return list(batches[shuffled])

    def __getitem__(self, index: int):
        step = self.start + index
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._epoch, self._batches = epoch, self.epoch_batches(epoch)
        return self.batch(self._batches[position], trim=self.bucket_by_length)


class InferenceBatches(ArrayBatches):
    """Batches of at most ``batch_size`` examples of similar length, trimmed of shared padding.

    Item ``i`` is ``(features, labels)``; :attr:`order` gives, batch after batch, the indices
    of the examples in ``data``, so that outputs can be put back in the data's order.
    """

    def __init__(self, data: EncodedDataset, batch_size: int):
        super().__init__(data)
        self.batch_size = batch_size
        self.order = np.argsort(data.lengths, kind="stable")

    @property
    def num_batches(self):
        return math.ceil(len(self.data) / self.batch_size)

    def batch_rows(self, index: int) -> np.ndarray:
        return self.order[index * self.batch_size : (index + 1) * self.batch_size]

    def __getitem__(self, index: int):
        if not 0 <= index < self.num_batches:
            raise IndexError(index)
        return self.batch(self.batch_rows(index))
