"""One Transformer encoder block as BERT uses it (Vaswani et al., 2017, section 3.1; Devlin et
al., 2019; chapter section 3, "Transformer").

Post-LayerNorm, exactly as in BERT and Hugging Face's ``BertLayer``:

    A  = LayerNorm(X + Dropout(MultiHeadSelfAttention(X)))        # attention sub-layer
    Y  = LayerNorm(A + Dropout(W₂ · GELU(W₁ · A + b₁) + b₂))      # feed-forward sub-layer

The chapter describes the feed-forward sub-layer with a ReLU (the original Transformer); BERT
uses the exact GELU, x · Φ(x) with Φ computed through erf, which is what ``hidden_act="gelu"``
selects here (the names of every supported activation, ours and Hugging Face's, are in
:data:`attention_lab.config.ACTIVATIONS`).

Under mixed precision the activation is computed in float32 when training, as softmax and
LayerNorm are: a bfloat16 erf rounds its argument to 8 bits, and TensorFlow's bfloat16 erf and
its gradient are slow on CPU. At inference it is applied to the bfloat16 matmul output
directly: TensorFlow's graph optimizer then fuses matmul, bias and GELU into one oneDNN kernel,
which computes bias and GELU on the float32 sums and rounds once (the optimizer cannot fuse
them when training, because the backward pass needs the pre-activation). Both ways the
position-wise layers see the batch as one ``(batch·len, H)`` matrix of tokens, since TensorFlow
fuses 2-D matmuls only. The measurements are in ``docs/benchmarks.md`` ("bfloat16 on the CPU").
"""

from __future__ import annotations

import keras
from keras import ops

from attention_lab.config import ACTIVATIONS
from attention_lab.errors import AttentionLabError
from attention_lab.layers.multi_head_attention import MultiHeadSelfAttention


def activation_function(hidden_act: str, in_float32: bool = True):
    """The feed-forward activation named ``hidden_act``; it returns its input's dtype.

    ``in_float32``: computed in float32, so that under mixed precision only the result is
    rounded to bfloat16, once (in float32 the casts do nothing). Otherwise computed in the
    input's dtype, which lets TensorFlow fuse it into the matmul before it (see
    :class:`TransformerEncoderBlock`).
    """
    row = ACTIVATIONS[hidden_act]
    function = getattr(keras.activations, row.keras_name)

    def apply(x):
        if not in_float32:
            return function(x, **row.keras_kwargs)
        return keras.ops.cast(function(keras.ops.cast(x, "float32"), **row.keras_kwargs), x.dtype)

    return apply


@keras.saving.register_keras_serializable(package="attention_lab")
class TransformerEncoderBlock(keras.layers.Layer):
    """Self-attention and feed-forward sub-layers, each followed by residual + LayerNorm.

    Sublayer names follow Hugging Face's ``BertLayer``: ``attention`` (query/key/value and
    ``attention_output``), ``attention_output_dropout`` (HF ``attention.output.dropout``, at
    rate ``hidden_dropout``), ``attention_LayerNorm`` (HF ``attention.output.LayerNorm``),
    ``intermediate`` (HF ``intermediate.dense``), ``output`` (HF ``output.dense``),
    ``output_dropout`` (HF ``output.dropout``), ``output_LayerNorm`` (HF ``output.LayerNorm``).

    Call arguments:
        hidden_states: ``(batch, seq_len, hidden_size)``.
        attention_mask: additive mask ``(batch, 1, 1, seq_len)`` or None.

    Returns:
        ``(hidden_states, attention_probs)``: ``(batch, seq_len, hidden_size)`` and
        ``(batch, heads, seq_len, seq_len)``.
    """

    def __init__(
        self,
        hidden_size: int = 768,
        num_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout: float = 0.1,
        attention_dropout: float = 0.1,
        layer_norm_eps: float = 1e-12,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_act not in ACTIVATIONS:
            raise AttentionLabError(
                f"hidden_act {hidden_act!r} is not one of {sorted(ACTIVATIONS)}; pick one of them"
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, input_shape):
        init = keras.initializers.TruncatedNormal(stddev=self.initializer_range)
        policy = self.dtype_policy
        self.attention = MultiHeadSelfAttention(
            self.hidden_size,
            self.num_heads,
            attention_dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
            dtype=policy,
            name="attention",
        )
        self.attention_output_dropout = keras.layers.Dropout(
            self.hidden_dropout, dtype=policy, name="attention_output_dropout"
        )
        self.attention_LayerNorm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=policy, name="attention_LayerNorm"
        )
        self.intermediate = keras.layers.Dense(  # W₁ · A + b₁; GELU is applied in call()
            self.intermediate_size,
            kernel_initializer=init,
            dtype=policy,
            name="intermediate",
        )
        self.output_dense = keras.layers.Dense(
            self.hidden_size, kernel_initializer=init, dtype=policy, name="output"
        )
        self.output_dropout = keras.layers.Dropout(
            self.hidden_dropout, dtype=policy, name="output_dropout"
        )
        self.output_LayerNorm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=policy, name="output_LayerNorm"
        )
        self.attention.build(input_shape)
        self.attention_LayerNorm.build(input_shape)
        self.intermediate.build(input_shape)
        self.output_dense.build((*input_shape[:-1], self.intermediate_size))
        self.output_LayerNorm.build(input_shape)

    def call(self, hidden_states, attention_mask=None, training=None):
        attended, probs = self.attention(hidden_states, attention_mask, training=training)
        attended = self.attention_output_dropout(attended, training=training)
        hidden_states = self.attention_LayerNorm(hidden_states + attended)  # (batch, len, H)

        # Position-wise: each token goes through the feed-forward layers alone, so they see the
        # batch as one matrix of tokens (2-D matmuls, which TensorFlow fuses with bias and GELU).
        tokens = ops.reshape(hidden_states, (-1, self.hidden_size))  # (batch·len, H)
        activation = activation_function(self.hidden_act, in_float32=bool(training))
        intermediate = activation(self.intermediate(tokens))  # (batch·len, intermediate_size)
        feed_forward = ops.reshape(self.output_dense(intermediate), ops.shape(hidden_states))
        feed_forward = self.output_dropout(feed_forward, training=training)
        hidden_states = self.output_LayerNorm(hidden_states + feed_forward)  # (batch, len, H)
        return hidden_states, probs

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout=self.hidden_dropout,
            attention_dropout=self.attention_dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
