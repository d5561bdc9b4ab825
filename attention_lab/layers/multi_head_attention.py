"""Multi-head self-attention (Vaswani et al., 2017, section 3.2.2; chapter section 3).

    head_i = Attention(X W_i^Q, X W_i^K, X W_i^V)
    MultiHead(X) = Concat(head_1, ..., head_h) W^O

The sublayers are named after Hugging Face's ``BertSelfAttention`` (``query``, ``key``,
``value``) and ``BertSelfOutput.dense`` (``attention_output``), so the converter's weight map
reads as a table.
"""

from __future__ import annotations

import keras
from keras import ops

from attention_lab.layers.scaled_dot_product import scaled_dot_product_attention


@keras.saving.register_keras_serializable(package="attention_lab")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Self-attention with ``num_heads`` heads of size ``hidden_size // num_heads``.

    Args:
        hidden_size: model width d_model (768 for BERT-Base).
        num_heads: number of heads h (12 for BERT-Base); d_k = hidden_size / h.
        attention_dropout: dropout rate on the attention probabilities.
        initializer_range: std of the truncated-normal kernel initializer.

    Call arguments:
        hidden_states: ``(batch, seq_len, hidden_size)``.
        attention_mask: additive mask ``(batch, 1, 1, seq_len)`` or None.
        training: enables dropout.

    Returns:
        ``(output, attention_probs)``: ``(batch, seq_len, hidden_size)`` and
        ``(batch, heads, seq_len, seq_len)`` (float32).
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        attention_dropout: float = 0.0,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})"
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.head_size = hidden_size // num_heads

    def build(self, input_shape):
        def dense(name):
            return keras.layers.Dense(
                self.hidden_size,
                kernel_initializer=keras.initializers.TruncatedNormal(
                    stddev=self.initializer_range
                ),
                dtype=self.dtype_policy,
                name=name,
            )

        self.query = dense("query")
        self.key = dense("key")
        self.value = dense("value")
        self.attention_output = dense("attention_output")
        for projection in (self.query, self.key, self.value):
            projection.build(input_shape)
        self.attention_output.build((*input_shape[:-1], self.hidden_size))
        self.dropout = keras.layers.Dropout(self.attention_dropout, dtype=self.dtype_policy)

    def _split_heads(self, x):
        batch, seq_len = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, seq_len, self.num_heads, self.head_size))
        return ops.transpose(x, (0, 2, 1, 3))  # (batch, heads, seq_len, head_size)

    def _merge_heads(self, x):
        batch, seq_len = ops.shape(x)[0], ops.shape(x)[2]
        x = ops.transpose(x, (0, 2, 1, 3))  # (batch, seq_len, heads, head_size)
        return ops.reshape(x, (batch, seq_len, self.hidden_size))

    def call(self, hidden_states, attention_mask=None, training=None):
        q = self._split_heads(self.query(hidden_states))  # (batch, heads, seq_len, head_size)
        k = self._split_heads(self.key(hidden_states))  # (batch, heads, seq_len, head_size)
        v = self._split_heads(self.value(hidden_states))  # (batch, heads, seq_len, head_size)
        context, probs = scaled_dot_product_attention(
            q, k, v, mask=attention_mask, dropout=self.dropout, training=training
        )  # (batch, heads, seq_len, head_size), (batch, heads, seq_len, seq_len)
        output = self.attention_output(self._merge_heads(context))  # (batch, seq_len, hidden)
        return output, probs

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            attention_dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
        )
        return config
