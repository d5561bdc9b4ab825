"""Seconds per epoch of the chapter's GloVe BiLSTM (section 2), from timed training steps.

The model and its compilation are :mod:`attention_lab.models.bilstm`'s own
(``build_bilstm_classifier`` + ``compile_bilstm``, Keras ``jit_compile="auto"``). A full
epoch is 25,000 reviews in batches of 100 (250 steps) padded to 150 tokens; we time a few
``train_on_batch`` steps on random token ids of that shape with the vocabulary size our
encoder builds on the IMDb train split (93,931, asserted in ``tests/test_imdb_encoder.py``)
and a random embedding matrix (its values do not change the speed), and report
250 × the median step. The data pipeline (already encoded arrays) is not included.
"""

from __future__ import annotations

import numpy as np

from attention_lab.training.bilstm import BATCH_SIZE
from benchmarks.timing import Timing, alternate

IMDB_TRAIN_REVIEWS = 25_000
IMDB_VOCAB_SIZE = 93_931
MAX_LEN = 150
MODES = ("frozen", "finetune")


def measure_bilstm(
    quick: bool, warmup: int, repeats: int, log=print
) -> tuple[dict[str, Timing], int]:
    """Timings of one training step per mode and the number of steps in an epoch."""
    from attention_lab.models.bilstm import build_bilstm_classifier, compile_bilstm

    vocab, batch, length = (500, 4, 16) if quick else (IMDB_VOCAB_SIZE, BATCH_SIZE, MAX_LEN)
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((vocab, 50)).astype(np.float32)
    x = rng.integers(1, vocab, (batch, length)).astype(np.int32)
    y = rng.integers(0, 2, (batch,)).astype(np.float32)
    steps = {}
    for mode in MODES:
        model = build_bilstm_classifier(vocab, mode, matrix, max_len=length)
        compile_bilstm(model)
        steps[f"BiLSTM {mode}"] = lambda m=model: m.train_on_batch(x, y)
    timings = alternate(steps, batch, warmup=warmup, repeats=repeats, log=log)
    return timings, IMDB_TRAIN_REVIEWS // BATCH_SIZE
