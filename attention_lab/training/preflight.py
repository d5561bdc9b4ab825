"""What fine-tuning refuses before anything runs: settings out of range, and data it cannot use.

Every check here runs before a model is trained (most before one is loaded), because compiled
steps can no longer check their inputs, and a refused command should leave nothing behind. A
bad value is refused in one line named by its command-line option (``--epochs must be a
positive integer, got 0``): a NaN or an infinity would train on nothing and reach run.json as
null, and a count of the wrong type would fail deep inside ``fit``.
"""

from __future__ import annotations

import math
import numbers

from attention_lab.errors import AttentionLabError
from attention_lab.training.callbacks import KEEP_BEST
from attention_lab.training.data import EncodedDataset


def check_training_config(t) -> None:
    """Refuse a ``TrainingConfig`` ``t`` with a value out of its range, naming its option."""
    patience, rate, warmup = t.early_stopping_patience, t.learning_rate, t.warmup_fraction
    rules = {  # option: (value, requirement, whether it is met)
        "--epochs": (t.epochs, "a positive integer", _positive_int(t.epochs)),
        "--batch-size": (t.batch_size, "a positive integer", _positive_int(t.batch_size)),
        "--learning-rate": (rate, "finite and positive", rate is None or _finite(rate, 0, 1)),
        "--warmup": (warmup, "in [0, 1)", _finite(warmup, 0) and warmup < 1),
        "--weight-decay": (t.weight_decay, "finite, >= 0", _finite(t.weight_decay, 0)),
        "--clipnorm": (t.clipnorm, "finite, >= 0", _finite(t.clipnorm, 0)),
        "--patience": (patience, "at least 1", patience is None or _at_least(patience, 1)),
        "--keep-best": (t.keep_best, f"one of {list(KEEP_BEST)}", t.keep_best in KEEP_BEST),
        "--seed": (t.seed, "an integer >= 0", _at_least(t.seed, 0)),
        "--checkpoint-every": (t.checkpoint_every, ">= 0", _at_least(t.checkpoint_every, 0)),
    }
    for option, (value, requirement, met) in rules.items():
        if not met:
            raise AttentionLabError(f"{option} must be {requirement}, got {value!r}")


def check_max_len(max_len, positions: int | None = None) -> None:
    """Refuse a ``max_len`` that is not an integer, or one outside ``2 … positions`` (the
    model's ``max_position_embeddings``, once it is known)."""
    if isinstance(max_len, bool) or not isinstance(max_len, int):
        raise AttentionLabError(f"max_len must be an integer, got {max_len!r}")
    if positions is not None and not 2 <= max_len <= positions:
        raise AttentionLabError(
            f"--max-len {max_len} is outside 2 … {positions}, the model's "
            f"positions; pass --max-len {min(150, positions)} or less"
        )


def check_data(config, train: EncodedDataset, validation: EncodedDataset | None, batch_size: int):
    """Refuse data that the classifier of ``config`` cannot train on, before anything runs:
    compiled steps can no longer check it."""
    train.check(config, "training set")
    if validation is not None:
        validation.check(config, "validation set")
    if len(train) < batch_size:
        raise AttentionLabError(
            f"{len(train)} training examples make no full batch of {batch_size}; pass more data "
            "(a larger --limit) or a smaller --batch-size"
        )


def _positive_int(value) -> bool:
    return isinstance(value, int) and value >= 1


def _at_least(value, low: int) -> bool:
    """An int (not a bool) of at least ``low``: what the API's callers may pass as a count."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _finite(value, low: float, strictly: int = 0) -> bool:
    """A finite real number (not a bool) of at least ``low`` (above it with ``strictly``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(value) and (value > low if strictly else value >= low)
