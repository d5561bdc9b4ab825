"""Multi-head self-attention (Vaswani et al., 2017, section 3.2.2; chapter section 3).

    head_i = Attention(X W_i^Q, X W_i^K, X W_i^V)
    MultiHead(X) = Concat(head_1, ..., head_h) W^O

The sublayers are named after Hugging Face's ``BertSelfAttention`` (``query``, ``key``,
``value``) and ``BertSelfOutput.dense`` (``attention_output``), so the converter's weight map
reads as a table.

The three input projections are taken as one product, X [W^Q | W^K | W^V]: the kernels stay
three variables, only the matmul is shared (one pass over X and one larger matmul instead of
three). Each projection acts on every token alone, so X is read as a ``(batch·len, hidden)``
matrix of tokens: on 2-D inputs TensorFlow's graph optimizer fuses a matmul with its bias into
one oneDNN kernel (docs/benchmarks.md, "bfloat16 on the CPU", has the measurements).
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

    def _project_qkv(self, tokens):
        """``tokens [W^Q | W^K | W^V] + [b^Q | b^K | b^V]``: the three projections, one matmul.

        ``tokens`` is ``(batch·len, hidden)``; returns ``(batch·len, 3·hidden)``, the queries,
        keys and values side by side. Under mixed precision the kernels read here are already
        the bfloat16 casts of the float32 variables.
        """
        projections = (self.query, self.key, self.value)
        kernel = ops.concatenate([p.kernel for p in projections], axis=-1)  # (hidden, 3·hidden)
        bias = ops.concatenate([p.bias for p in projections], axis=-1)  # (3·hidden,)
        return ops.matmul(tokens, kernel) + bias

    def call(self, hidden_states, attention_mask=None, training=None):
        batch, seq_len = ops.shape(hidden_states)[0], ops.shape(hidden_states)[1]
        tokens = ops.reshape(hidden_states, (-1, self.hidden_size))  # (batch·len, hidden)
        qkv = ops.reshape(
            self._project_qkv(tokens), (batch, seq_len, 3, self.num_heads, self.head_size)
        )
        # (3, batch, heads, seq_len, head_size): split the heads of Q, K and V at once
        q, k, v = ops.unstack(ops.transpose(qkv, (2, 0, 3, 1, 4)), 3, axis=0)
        context, probs = scaled_dot_product_attention(
            q, k, v, mask=attention_mask, dropout=self.dropout, training=training
        )  # (batch, heads, seq_len, head_size), (batch, heads, seq_len, seq_len)
        context = ops.transpose(context, (0, 2, 1, 3))  # merge heads: (batch, len, heads, size)
        output = self.attention_output(ops.reshape(context, (-1, self.hidden_size)))
        return ops.reshape(output, (batch, seq_len, self.hidden_size)), probs

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            attention_dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
        )
        return config
