"""Train an encoder-decoder on a synthetic task and measure its exact-match accuracy.

Training is teacher-forced through ``model.fit`` with an XLA-compiled step
(``jit_compile=True``) and a cross-entropy that ignores padding; evaluation decodes greedily
and counts an example right only if the whole output string equals the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from attention_lab.errors import AttentionLabError
from attention_lab.models.seq2seq import EncoderDecoder
from attention_lab.tasks.task import Seq2SeqTask
from attention_lab.tasks.vocabulary import PAD


@dataclass(frozen=True)
class TrainingSettings:
    """Hyperparameters of one training run; ``seed`` fixes the data and the initial weights."""

    epochs: int = 6
    n_train: int = 20_000
    batch_size: int = 64
    learning_rate: float = 3e-3
    embedding_dim: int = 32
    units: int = 64
    seed: int = 0


def build_model(task: Seq2SeqTask, attention: bool, settings: TrainingSettings) -> EncoderDecoder:
    """An untrained, compiled model sized for ``task``."""
    keras.utils.set_random_seed(settings.seed)
    model = EncoderDecoder(
        task.source_alphabet,
        task.target_alphabet,
        task.max_source_len,
        task.max_target_len,
        embedding_dim=settings.embedding_dim,
        units=settings.units,
        attention=attention,
    )
    model.build()
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD),
        jit_compile=True,
    )
    return model


def fit(model: EncoderDecoder, task: Seq2SeqTask, pairs, settings: TrainingSettings, **kwargs):
    """Teacher-forced ``model.fit`` on ``pairs``, reshuffled every epoch; returns the history.

    Every batch has exactly ``batch_size`` examples, so XLA compiles the step for one shape
    only: the ``len(pairs) % batch_size`` examples left over by each epoch's shuffle wait for
    a later epoch.
    """
    batch_size = settings.batch_size
    if len(pairs) < batch_size:
        raise AttentionLabError(
            f"{len(pairs)} training examples make no batch of {batch_size}; "
            "train on more examples or use a smaller batch"
        )
    arrays = task.arrays(pairs)
    inputs = {"source": arrays["source"], "decoder_input": arrays["decoder_input"]}
    dataset = (
        tf.data.Dataset.from_tensor_slices((inputs, arrays["labels"]))
        .shuffle(len(pairs), seed=settings.seed)
        .batch(batch_size, drop_remainder=True)
    )
    # The dataset shuffles itself; Keras's own shuffle does not apply to a tf.data input.
    return model.fit(dataset, epochs=settings.epochs, shuffle=False, **kwargs)


def exact_match(model: EncoderDecoder, pairs) -> float:
    """Fraction of ``pairs`` whose greedy translation equals the target exactly."""
    translations = model.translate([source for source, _ in pairs])
    return float(
        np.mean([t.text == target for t, (_, target) in zip(translations, pairs, strict=True)])
    )


def exact_match_by_length(model: EncoderDecoder, pairs, edges) -> list[tuple[int, int, int, float]]:
    """Exact match per source-length bucket ``edges[i] .. edges[i + 1] - 1``.

    Returns ``(first length, last length, examples, accuracy)`` per non-empty bucket.
    """
    translations = model.translate([source for source, _ in pairs])
    right = np.array([t.text == target for t, (_, target) in zip(translations, pairs, strict=True)])
    lengths = np.array([len(source) for source, _ in pairs])
    rows = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_bucket = (lengths >= low) & (lengths < high)
        if in_bucket.any():
            rows.append((low, high - 1, int(in_bucket.sum()), float(right[in_bucket].mean())))
    return rows
