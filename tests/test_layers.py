"""The BERT building blocks: equations, shapes, masking, and the shared layer harness."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_harness import check_layer

from attention_lab.layers import (
    BertEmbeddings,
    BertPooler,
    MultiHeadSelfAttention,
    TransformerEncoderBlock,
    additive_attention_mask,
    scaled_dot_product_attention,
)

RNG = np.random.default_rng(0)
BATCH, LEN, HIDDEN, HEADS = 2, 7, 16, 4
# The second sequence has 4 real tokens and 3 padding positions.
PADDING_MASK = np.array([[1] * 7, [1] * 4 + [0] * 3], dtype=np.int32)


def _hidden():
    return tf.constant(RNG.normal(size=(BATCH, LEN, HIDDEN)), dtype=tf.float32)


def test_scaled_dot_product_attention_matches_the_equation():
    q, k, v = (RNG.normal(size=(2, 3, 5, 8)).astype(np.float32) for _ in range(3))
    out, weights = scaled_dot_product_attention(q, k, v)
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(8)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    np.testing.assert_allclose(out, expected @ v, atol=1e-5)


def test_additive_mask_gives_padding_exactly_zero_weight():
    mask = additive_attention_mask(PADDING_MASK)
    assert tuple(mask.shape) == (BATCH, 1, 1, LEN)
    q = k = v = tf.constant(RNG.normal(size=(BATCH, HEADS, LEN, 4)), dtype=tf.float32)
    _, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    weights = np.asarray(weights)
    assert np.all(weights[1, :, :, 4:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)


def test_multi_head_self_attention_harness_and_shapes():
    layer = MultiHeadSelfAttention(HIDDEN, HEADS)
    out, probs = check_layer(layer, _hidden(), additive_attention_mask(PADDING_MASK))
    assert tuple(out.shape) == (BATCH, LEN, HIDDEN)
    assert tuple(probs.shape) == (BATCH, HEADS, LEN, LEN)
    assert [w.path.split("/")[-2] for w in layer.weights[::2]] == [
        "query",
        "key",
        "value",
        "attention_output",
    ]
    assert np.all(np.asarray(probs)[1, :, :, 4:] == 0.0)


def test_multi_head_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadSelfAttention(10, 3)


def test_encoder_block_harness_and_padding_invariance():
    block = TransformerEncoderBlock(HIDDEN, HEADS, intermediate_size=32, hidden_dropout=0.0)
    hidden = _hidden()
    out, probs = check_layer(block, hidden, additive_attention_mask(PADDING_MASK))
    assert tuple(out.shape) == (BATCH, LEN, HIDDEN)
    assert tuple(probs.shape) == (BATCH, HEADS, LEN, LEN)
    # The real tokens of row 1 alone give the same outputs as with 3 padding positions.
    alone, _ = block(hidden[1:, :4], additive_attention_mask(PADDING_MASK[1:, :4]))
    np.testing.assert_allclose(np.asarray(out)[1, :4], np.asarray(alone)[0], atol=1e-5)


def test_encoder_block_uses_exact_erf_gelu():
    x = tf.constant([[-3.0, -0.5, 0.0, 0.7, 2.5]])
    from math import erf, sqrt

    from attention_lab.layers.encoder_block import ACTIVATIONS

    expected = [v * 0.5 * (1 + erf(v / sqrt(2))) for v in x.numpy()[0]]
    np.testing.assert_allclose(ACTIVATIONS["gelu"](x).numpy()[0], expected, atol=1e-6)
    # bfloat16 in and out, computed in float32: only the output is rounded to bfloat16
    # (TensorFlow's own bfloat16 GELU differs at about 40% of these 801 points)
    grid = tf.cast(tf.constant(np.linspace(-4, 4, 801), tf.float32), tf.bfloat16)
    out = ACTIVATIONS["gelu"](grid)
    assert out.dtype == tf.bfloat16
    in_float32 = keras.activations.gelu(tf.cast(grid, tf.float32), approximate=False)
    np.testing.assert_array_equal(out.numpy(), tf.cast(in_float32, tf.bfloat16).numpy())


def test_embeddings_harness_and_position_table():
    layer = BertEmbeddings(vocab_size=50, hidden_size=HIDDEN, max_position_embeddings=16)
    ids = tf.constant(RNG.integers(0, 50, size=(BATCH, LEN)), dtype=tf.int32)
    types = tf.constant(PADDING_MASK)
    out = check_layer(layer, ids, types)
    assert tuple(out.shape) == (BATCH, LEN, HIDDEN)
    assert [w.path.split("/")[-2] for w in layer.weights] == [
        "word_embeddings",
        "position_embeddings",
        "token_type_embeddings",
        "LayerNorm",
        "LayerNorm",
    ]


def test_pooler_harness_reads_the_cls_position():
    layer = BertPooler(HIDDEN)
    hidden = _hidden()
    pooled = check_layer(layer, hidden)
    changed = tf.concat([hidden[:, :1], tf.zeros_like(hidden[:, 1:])], axis=1)
    np.testing.assert_allclose(layer(changed), pooled, atol=1e-6)
    assert np.all(np.abs(np.asarray(pooled)) <= 1.0)  # tanh
