"""Keras's AdamW with the Adam step as one fused kernel on TensorFlow: a faster optimizer with
the same update, kept apart from :mod:`attention_lab.training.optimization`, which says what
fine-tuning's optimizer is (as :mod:`attention_lab.models.bert_fused` is kept apart from the
model's definition)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="attention_lab")
class AdamW(keras.optimizers.AdamW):
    """Keras's AdamW, with the Adam step of each variable as one fused kernel on TensorFlow.

    Keras writes the Adam update as about twenty small operations per variable; TensorFlow's
    ``ResourceApplyAdam`` does the same arithmetic in one pass over the variable and its two
    moments (for BERT's 11.7M-weight word-embedding table the difference shows). The update
    is unchanged::

        m ← m + (1 - β₁)(g - m)        v ← v + (1 - β₂)(g² - v)
        θ ← θ - lr · √(1 - β₂ᵗ) / (1 - β₁ᵗ) · m / (√v + ε)

    and the decoupled weight decay is Keras's own. Other backends take Keras's update.

    One difference, in our favour: the word embeddings get a sparse gradient (the rows of
    the batch's tokens, a row once per occurrence). Keras squares each occurrence before the
    repeated rows are summed, so ``v`` of a token seen twice grows by 2g² instead of (2g)²;
    here, as in PyTorch, the rows are summed first. (With gradient clipping on, the default,
    Keras also gets the summed gradient and the two agree: tests/test_training.py.)
    """

    def update_step(self, gradient, variable, learning_rate):
        from attention_lab import backend

        if backend.name() != "tensorflow" or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype),
            beta1=tf.cast(self.beta_1, dtype),
            beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.convert_to_tensor(tf.cast(gradient, dtype)),  # sparse rows made dense
        )
