"""Scaled dot-product attention (Vaswani et al., 2017, section 3.2.1; chapter section 3).

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V

``M`` is an *additive* mask: 0 where a key may be attended to and a large negative number
where it may not (padding), so that its softmax weight is exactly zero. This is how BERT
(and Hugging Face's ``BertModel``) applies its ``attention_mask``.
"""

from __future__ import annotations

import math

from keras import ops

# Added to the scores of masked keys. exp(-1e9 - max) underflows to exactly 0.0 in float32,
# and the sum stays finite (unlike -inf), so a fully padded row cannot produce NaN.
MASK_VALUE = -1e9


def additive_attention_mask(attention_mask):
    """Turn a ``(batch, k_len)`` 1/0 padding mask into an additive mask.

    Returns float32 ``(batch, 1, 1, k_len)``: 0.0 for real tokens, ``MASK_VALUE`` for padding,
    ready to broadcast over heads and query positions.
    """
    mask = ops.cast(attention_mask, "float32")
    return (1.0 - mask)[:, None, None, :] * MASK_VALUE  # (batch, 1, 1, k_len)


def scaled_dot_product_attention(query, key, value, mask=None, dropout=None, training=None):
    """softmax(Q Kᵀ / √d_k + mask) V, returning ``(output, weights)``.

    Args:
        query: ``(..., q_len, d_k)``.
        key: ``(..., k_len, d_k)``.
        value: ``(..., k_len, d_v)``.
        mask: additive mask broadcastable to ``(..., q_len, k_len)`` (see
            :func:`additive_attention_mask`), or None.
        dropout: optional ``keras.layers.Dropout`` applied to the weights, as BERT does.
        training: passed to ``dropout``.

    The scores and the softmax are computed in float32 whatever the input dtype, so that
    mixed precision (bfloat16/float16 matmuls) keeps an exact-as-possible softmax.

    Returns:
        output ``(..., q_len, d_v)`` in the dtype of ``value`` and the attention weights
        (probabilities) ``(..., q_len, k_len)`` in float32, before dropout.
    """
    d_k = query.shape[-1]
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2))  # (..., q_len, k_len)
    scores = ops.cast(scores, "float32") / math.sqrt(d_k)
    if mask is not None:
        scores = scores + ops.cast(mask, "float32")  # mixed precision may hand it in bfloat16
    weights = ops.softmax(scores, axis=-1)  # (..., q_len, k_len), rows sum to 1
    dropped = dropout(weights, training=training) if dropout is not None else weights
    output = ops.matmul(ops.cast(dropped, value.dtype), value)  # (..., q_len, d_v)
    return output, weights
