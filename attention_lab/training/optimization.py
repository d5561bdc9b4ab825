"""How fine-tuning updates the weights: AdamW on a warm-up + linear-decay learning rate.

The chapter compiles with ``Adam(learning_rate=2e-5)``. BERT's own fine-tuning recipe (Devlin
et al., 2019, appendix A.2), which the chapter's closing notes recommend, adds two things:

- **AdamW** (Loshchilov & Hutter, 2019): weight decay 0.01 applied apart from the gradient
  step, and not to LayerNorm's scales and offsets or to any bias;
- **the learning rate** warms up linearly over the first 10% of the steps, then decays
  linearly to zero, so that the first updates, made while the new head is still random, do
  not wreck the pre-trained encoder::

    lr(step) = peak · step / warmup                                  step < warmup
    lr(step) = peak · max(0, (total - step) / (total - warmup))      otherwise

The gradient's global norm is clipped to 1.0. Under ``tf.distribute`` Keras clips each
replica's share of the gradient before summing the shares (BERT's recipe clips the sum); with
one device, as here, they are the same. The optimizer is Keras's AdamW with its Adam step
fused into one kernel on TensorFlow (:mod:`attention_lab.training.adamw_fused`, the same
update).
"""

from __future__ import annotations

import keras
from keras import ops

from attention_lab.training.adamw_fused import AdamW

# Parameters that BERT's optimizer does not decay: LayerNorm's gamma/beta and every bias.
NO_WEIGHT_DECAY = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="attention_lab")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps`` to ``peak_learning_rate``, then linear decay.

    Args:
        peak_learning_rate: the rate reached at the end of warm-up (chapter: 2e-5).
        warmup_steps: steps of linear increase from 0 (0 starts at the peak).
        total_steps: step at which the rate reaches 0, after ``warmup_steps``
            (:class:`~attention_lab.training.fit.TrainingConfig` checks the warm-up's share).
    """

    def __init__(self, peak_learning_rate: float, warmup_steps: int, total_steps: int):
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = ops.cast(self.warmup_steps, "float32")
        total = ops.cast(self.total_steps, "float32")
        rising = step / ops.maximum(warmup, 1.0)
        falling = ops.maximum(0.0, (total - step) / (total - warmup))
        return self.peak_learning_rate * ops.where(step < warmup, rising, falling)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


# The peak learning rate when --learning-rate is not given (see default_learning_rate).
BERT_BASE_RATE = 2e-5  # the chapter's, and the BERT paper's grid (5e-5, 3e-5, 2e-5)
SMALL_ENCODER_RATE = 5e-5  # best validation accuracy of the sweep in docs/results.md
FROZEN_ENCODER_RATE = 1e-3  # Adam's default: the chapter's second stage


def default_learning_rate(hidden_size: int, freeze_encoder: bool) -> tuple[float, str]:
    """The peak learning rate for an encoder of width ``hidden_size``, and the reason.

    The chapter's 2e-5 is BERT-Base's rate. A smaller encoder takes larger steps: on
    all-MiniLM-L6-v2 (width 384), a sweep of 2e-5, 5e-5, 1e-4 and 2e-4 (3,200 training
    reviews, 2 epochs, ``docs/results.md``) reached its best validation accuracy at 5e-5.
    With the encoder frozen only the new head trains, at Adam's default rate.
    """
    if freeze_encoder:
        return FROZEN_ENCODER_RATE, "encoder frozen: only the head trains, at Adam's default rate"
    if hidden_size >= 768:
        return BERT_BASE_RATE, f"width {hidden_size}: BERT-Base's rate (the chapter's, 2e-5)"
    return (
        SMALL_ENCODER_RATE,
        f"width {hidden_size}, smaller than BERT-Base's 768: the best rate of the sweep on "
        "all-MiniLM-L6-v2 (docs/results.md)",
    )


def adamw(
    peak_learning_rate: float,
    total_steps: int,
    warmup_fraction: float = 0.1,
    weight_decay: float = 0.01,
    clipnorm: float = 1.0,
) -> keras.optimizers.AdamW:
    """AdamW on :class:`WarmupLinearDecay`, BERT's fine-tuning optimizer (epsilon 1e-6)."""
    schedule = WarmupLinearDecay(
        peak_learning_rate, int(warmup_fraction * total_steps), total_steps
    )
    optimizer = AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        epsilon=1e-6,
        global_clipnorm=clipnorm or None,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    return optimizer
