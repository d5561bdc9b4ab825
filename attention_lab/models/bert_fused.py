"""A faster encoder block for TensorFlow graphs: the same weights, the same results up to rounding.

:class:`~attention_lab.models.bert.TransformerEncoderBlock` is the definition, written as the
equations read. This subclass computes the same block in the shapes that TensorFlow's graph
optimizer (Grappler's oneDNN remapper) turns into fewer, fused CPU kernels, much as Hugging
Face keeps its SDPA and flash attention kernels apart from the eager attention that defines
them. It registers itself as ``implementation="fused"`` in
:data:`~attention_lab.models.bert.ENCODER_BLOCKS`; :mod:`attention_lab.runtime` picks it where
the benchmarks show that it pays (``docs/benchmarks.md``, "The one-file model and the fused
block"). It adds no variables: the sublayers, their names and the weight map are those of the
definition, so a checkpoint loads into either, and the parity report holds for both.

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

At inference, two more:

- **LayerNorm in fewer passes** (:func:`layer_norm`): (x − μ) · (γ / √(σ² + ε)) + β in float32,
  exact up to the order of float32 sums; Keras's LayerNormalization computes the same in more
  passes over the tokens.
- **Scores in the compute dtype** (:func:`inference_attention`), not exact under mixed
  precision. The definition casts the scores ``(batch, heads, len, len)``, the largest tensor
  of the block, to float32, then divides, adds the mask and takes the softmax there, one pass
  over them each. Here Q Kᵀ · (1/√d_k) + M stays in the inputs' dtype, so the optimizer fuses
  the scale and the mask into the batched matmul, and the weights feed the second matmul
  without a cast. Under mixed precision the scores are rounded to bfloat16 once, as Hugging
  Face's attention under PyTorch's bfloat16 autocast rounds them; the bfloat16 parity report
  holds for it (``docs/benchmarks.md``, "Scores in bfloat16 at inference").
"""

from __future__ import annotations

import math

import keras
from keras import ops

from attention_lab.models.bert import (
    ACTIVATIONS,
    ENCODER_BLOCKS,
    TransformerEncoderBlock,
    activation,
    scaled_dot_product_attention,
)


def inference_attention(query, key, value, mask=None):
    """softmax(Q Kᵀ / √d_k + M) V with the scores in the inputs' dtype: inference only.

    Takes and returns what :func:`~attention_lab.models.bert.scaled_dot_product_attention` does,
    without dropout; the weights are computed in ``query``'s dtype and returned as float32.
    """
    scale = ops.cast(1.0 / math.sqrt(query.shape[-1]), query.dtype)
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) * scale  # (b, A, q_len, k_len)
    if mask is not None:
        scores = scores + ops.cast(mask, scores.dtype)
    weights = ops.softmax(scores, axis=-1)  # (b, A, q_len, k_len), in query's dtype
    return ops.matmul(weights, value), ops.cast(weights, "float32")  # (b, A, q_len, d_v)


def layer_norm(layer, x, training=None):
    """``layer``, a ``keras.layers.LayerNormalization`` over the last axis, applied to ``x``.

    When training, the layer itself; at inference, its γ, β and ε in fewer passes, computed in
    float32 and returned in ``x``'s dtype.
    """
    if training:
        return layer(x)
    x32 = ops.cast(x, "float32")
    mean = ops.mean(x32, axis=-1, keepdims=True)  # μ, (..., 1)
    centred = x32 - mean
    variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)  # σ², (..., 1)
    gamma, beta = (ops.convert_to_tensor(v, "float32") for v in (layer.gamma, layer.beta))
    scale = ops.rsqrt(variance + layer.epsilon) * gamma  # (..., H)
    return ops.cast(centred * scale + beta, x.dtype)


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
        if training:
            context, probs = scaled_dot_product_attention(
                q, k, v, mask=attention_mask, dropout=attention.dropout, training=training
            )
        else:
            context, probs = inference_attention(q, k, v, mask=attention_mask)
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (-1, c.hidden_size))
        attended = ops.reshape(attention.attention_output(context), ops.shape(hidden_states))
        attended = self.attention_output_dropout(attended, training=training)
        hidden_states = layer_norm(self.attention_LayerNorm, hidden_states + attended, training)

        tokens = ops.reshape(hidden_states, (-1, c.hidden_size))  # (batch·len, H)
        inner = self.intermediate(tokens)  # (batch·len, intermediate_size)
        inner = activation(c, inner) if training else ACTIVATIONS[c.hidden_act](inner)
        feed_forward = ops.reshape(self.output_dense(inner), ops.shape(hidden_states))
        feed_forward = self.output_dropout(feed_forward, training=training)
        return layer_norm(self.output_LayerNorm, hidden_states + feed_forward, training), probs


ENCODER_BLOCKS["fused"] = FusedTransformerEncoderBlock
