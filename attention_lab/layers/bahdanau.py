"""Additive attention (Bahdanau, Cho and Bengio, 2015, "Neural Machine Translation by Jointly
Learning to Align and Translate", section 3.1 and appendix A.1.2; chapter section 3,
"Attention").

For the decoder state ``sₜ₋₁`` and the encoder states ``h₁ … h_S``:

    eₜᵢ = vᵀ tanh(W₁ hᵢ + W₂ sₜ₋₁)        alignment score of source position i
    αₜ  = softmax(eₜ)                      over the source positions, padding excluded
    cₜ  = Σᵢ αₜᵢ hᵢ                         the context vector

Padded source positions get a score of ``MASK_VALUE`` (-1e9) added, so their weight is
exactly zero. ``W₁ hᵢ`` does not depend on the output step ``t``: a decoder computes it once
per source sequence with :meth:`BahdanauAttention.project_values` and passes it to every step.
"""

from __future__ import annotations

import keras
from keras import ops

# Added to the scores of padded positions: exp(-1e9 - max) is exactly 0.0 in float32.
MASK_VALUE = -1e9


@keras.saving.register_keras_serializable(package="attention_lab")
class BahdanauAttention(keras.layers.Layer):
    """``vᵀ tanh(W₁hᵢ + W₂sₜ₋₁)`` scores, masked softmax, weighted sum of the values.

    Args:
        units: size of the hidden layer of the scoring network (the rows of ``W₁``, ``W₂``
            and the length of ``v``).

    Call arguments:
        query: the decoder state ``sₜ₋₁``, ``(batch, query_dim)``.
        values: the encoder states ``h``, ``(batch, source_len, value_dim)``.
        mask: optional ``(batch, source_len)``, true/1 for real tokens, false/0 for padding.
        projected_values: optional ``W₁ h`` from :meth:`project_values`, to skip recomputing
            it at every decoder step.

    Returns:
        ``(context, weights)``: ``(batch, value_dim)`` and ``(batch, source_len)``, the
        weights summing to 1 over the unmasked positions.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        # The padding mask arrives as an argument; the context has no source axis left to
        # mask, so no Keras mask passes through (see compute_mask).
        self.supports_masking = True

    def build(self, query_shape, values_shape, mask_shape=None, projected_values_shape=None):
        policy = self.dtype_policy
        self.W1 = keras.layers.Dense(self.units, use_bias=False, dtype=policy, name="W1")
        self.W2 = keras.layers.Dense(self.units, use_bias=False, dtype=policy, name="W2")
        self.W1.build(values_shape)
        self.W2.build(query_shape)
        self.v = self.add_weight(name="v", shape=(self.units,), initializer="glorot_uniform")
        self.built = True

    def project_values(self, values):
        """``W₁ hᵢ`` for every source position: ``(batch, source_len, units)``."""
        return self.W1(values)

    def call(self, query, values, mask=None, projected_values=None):
        if projected_values is None:
            projected_values = self.project_values(values)  # (batch, S, units)
        projected_query = self.W2(query)[:, None, :]  # (batch, 1, units)
        hidden = ops.tanh(projected_values + projected_query)  # (batch, S, units)
        scores = ops.einsum("bsu,u->bs", hidden, self.v)  # (batch, S): vᵀ tanh(…)
        if mask is not None:
            scores = scores + (1.0 - ops.cast(mask, scores.dtype)) * MASK_VALUE
        weights = ops.softmax(scores, axis=-1)  # (batch, S), rows sum to 1
        context = ops.einsum("bs,bsd->bd", weights, values)  # (batch, value_dim)
        return context, weights

    def compute_mask(self, query, previous_mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config
