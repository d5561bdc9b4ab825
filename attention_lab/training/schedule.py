"""Learning rate: linear warm-up, then linear decay to zero (Devlin et al., 2019, appendix A.2).

    lr(step) = peak · step / warmup                                  step < warmup
    lr(step) = peak · max(0, (total - step) / (total - warmup))      otherwise

The chapter's closing notes on fine-tuning recommend exactly this: warm the learning rate up,
then decay it, so that the first updates, made while the new head is still random, do not
wreck the pre-trained encoder.
"""

from __future__ import annotations

import keras
from keras import ops

from attention_lab.errors import AttentionLabError


@keras.saving.register_keras_serializable(package="attention_lab")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps`` to ``peak_learning_rate``, then linear decay.

    Args:
        peak_learning_rate: the rate reached at the end of warm-up (chapter: 2e-5).
        warmup_steps: steps of linear increase from 0 (0 starts at the peak).
        total_steps: step at which the rate reaches 0; must exceed ``warmup_steps``.
    """

    def __init__(self, peak_learning_rate: float, warmup_steps: int, total_steps: int):
        if total_steps <= 0 or not 0 <= warmup_steps < total_steps:
            raise AttentionLabError(
                f"learning-rate schedule needs 0 <= warmup_steps ({warmup_steps}) < total_steps "
                f"({total_steps}); train on more data or for more epochs"
            )
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
