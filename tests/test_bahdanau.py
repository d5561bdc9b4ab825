"""BahdanauAttention: the equation, the padding mask, the shared layer harness."""

from __future__ import annotations

import numpy as np
import pytest
from layer_harness import layer_cases

from attention_lab.layers.bahdanau import BahdanauAttention

BATCH, SOURCE_LEN, QUERY_DIM, VALUE_DIM, UNITS = 3, 7, 6, 8, 5


@pytest.fixture
def inputs():
    rng = np.random.default_rng(0)
    query = rng.normal(size=(BATCH, QUERY_DIM)).astype("float32")
    values = rng.normal(size=(BATCH, SOURCE_LEN, VALUE_DIM)).astype("float32")
    lengths = np.array([7, 4, 1])
    mask = np.arange(SOURCE_LEN)[None, :] < lengths[:, None]  # (batch, S)
    return query, values, mask


def test_passes_the_layer_harness(tmp_path):
    case = layer_cases()["bahdanau"]
    context, weights = case.check(tmp_path)
    query, values = case.args
    assert tuple(context.shape) == (len(query), values.shape[-1])
    assert tuple(weights.shape) == values.shape[:2]


def test_scores_are_v_tanh_w1h_plus_w2s(inputs):
    query, values, _ = inputs
    layer = BahdanauAttention(UNITS)
    context, weights = layer(query, values)
    w1, w2 = layer.W1.kernel.numpy(), layer.W2.kernel.numpy()
    v = layer.v.numpy()
    scores = np.tanh(values @ w1 + (query @ w2)[:, None, :]) @ v  # (batch, S)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, np.einsum("bs,bsd->bd", expected, values), atol=1e-5)


def test_padded_positions_get_exactly_zero_weight(inputs):
    query, values, mask = inputs
    layer = BahdanauAttention(UNITS)
    context, weights = layer(query, values, mask=mask)
    weights = np.asarray(weights)
    assert np.all(weights[~mask] == 0.0)
    assert np.all(weights[mask] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(weights[2, 0], 1.0)  # a one-token source takes all the weight
    # Whatever sits in the padded positions cannot change the context.
    scrambled = np.where(mask[..., None], values, 1e3).astype("float32")
    np.testing.assert_allclose(layer(query, scrambled, mask=mask)[0], context, atol=1e-5)


def test_precomputed_w1h_gives_the_same_result(inputs):
    query, values, mask = inputs
    layer = BahdanauAttention(UNITS)
    direct = layer(query, values, mask=mask)
    cached = layer(query, values, mask=mask, projected_values=layer.project_values(values))
    for a, b in zip(direct, cached, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
