"""A faster encoder block for TensorFlow graphs: the same weights, the same results.

:class:`~attention_lab.models.bert.TransformerEncoderBlock` is the definition, written as the
equations read. This subclass computes the same block in the shapes that TensorFlow's graph
optimizer (Grappler's oneDNN remapper) turns into fewer, fused CPU kernels, much as Hugging
Face keeps its SDPA and flash attention kernels apart from the eager attention that defines
them. It registers itself as ``implementation="fused"`` in
:data:`~attention_lab.models.bert.ENCODER_BLOCKS`; :mod:`attention_lab.runtime` picks it where
the benchmarks show that it pays (``docs/benchmarks.md``, "The fused encoder block"). It adds
no variables: the sublayers, their names and the weight map are those of the definition, so a
checkpoint loads into either, and the parity report holds for both.

Three rewrites, each exact up to the order of float32 sums:

- **Q, K and V in one matmul**: X [W^Q | W^K | W^V] + [b^Q | b^K | b^V], one pass over X; the
  kernels stay three variables, concatenated at each call.
- **Tokens as a 2-D matrix**: the position-wise layers (the projections, the feed-forward
  layers) act on each token alone, so X is read as ``(batch·len, H)``. TensorFlow fuses a 2-D
  matmul with its bias add into one oneDNN kernel, and not a 3-D one.
- **GELU fused at inference**: under mixed precision the definition computes GELU in float32.
  At inference this block applies it to the bfloat16 matmul output, which lets the optimizer
  fuse matmul, bias and GELU into one kernel that computes bias and GELU on the float32 sums and
  rounds once. When training, GELU stays in float32 (the backward pass needs the
  pre-activation, so the fusion cannot happen there).
"""

from __future__ import annotations

import keras
from keras import ops

from attention_lab.models.bert import (
    ACTIVATIONS,
    ENCODER_BLOCKS,
    TransformerEncoderBlock,
    activation,
    scaled_dot_product_attention,
)


@keras.saving.register_keras_serializable(package="attention_lab")
class FusedTransformerEncoderBlock(TransformerEncoderBlock):
    """:class:`~attention_lab.models.bert.TransformerEncoderBlock` with the rewrites above."""

    def call(self, hidden_states, attention_mask=None, training=None):
        c, attention = self.config, self.attention
        batch, length = ops.shape(hidden_states)[0], ops.shape(hidden_states)[1]
        tokens = ops.reshape(hidden_states, (-1, c.hidden_size))  # (batch·len, H)

        projections = (attention.query, attention.key, attention.value)
        kernel = ops.concatenate([p.kernel for p in projections], axis=-1)  # (H, 3H)
        bias = ops.concatenate([p.bias for p in projections], axis=-1)  # (3H,)
        qkv = ops.reshape(
            ops.matmul(tokens, kernel) + bias,
            (batch, length, 3, c.num_attention_heads, c.head_size),
        )
        q, k, v = ops.unstack(ops.transpose(qkv, (2, 0, 3, 1, 4)), 3, axis=0)  # (b, A, len, d_k)
        context, probs = scaled_dot_product_attention(
            q, k, v, mask=attention_mask, dropout=attention.dropout, training=training
        )
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (-1, c.hidden_size))
        attended = ops.reshape(attention.attention_output(context), ops.shape(hidden_states))
        attended = self.attention_output_dropout(attended, training=training)
        hidden_states = self.attention_LayerNorm(hidden_states + attended)  # (batch, len, H)

        tokens = ops.reshape(hidden_states, (-1, c.hidden_size))  # (batch·len, H)
        inner = self.intermediate(tokens)  # (batch·len, intermediate_size)
        inner = activation(c, inner) if training else ACTIVATIONS[c.hidden_act](inner)
        feed_forward = ops.reshape(self.output_dense(inner), ops.shape(hidden_states))
        feed_forward = self.output_dropout(feed_forward, training=training)
        return self.output_LayerNorm(hidden_states + feed_forward), probs


ENCODER_BLOCKS["fused"] = FusedTransformerEncoderBlock
