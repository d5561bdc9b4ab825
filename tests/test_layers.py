"""The BERT building blocks: equations, shapes, masking, and the shared layer harness."""

from __future__ import annotations

from math import erf, sqrt

import keras
import ml_dtypes
import numpy as np
import pytest
from keras import ops
from layer_harness import check_config, check_layer, check_mixed_precision, layer_cases

from attention_lab.errors import AttentionLabError
from attention_lab.layers import (
    BertEmbeddings,
    BertPooler,
    MultiHeadSelfAttention,
    TransformerEncoderBlock,
    additive_attention_mask,
    scaled_dot_product_attention,
)
from attention_lab.layers.encoder_block import activation_function

RNG = np.random.default_rng(0)
BATCH, LEN, HIDDEN, HEADS = 2, 7, 16, 4
# The second sequence has 4 real tokens and 3 padding positions.
PADDING_MASK = np.array([[1] * 7, [1] * 4 + [0] * 3], dtype=np.int32)
CASES = layer_cases()


def _hidden():
    return RNG.normal(size=(BATCH, LEN, HIDDEN)).astype(np.float32)


@pytest.mark.parametrize("name", [n for n in CASES if n != "bahdanau"])
def test_layer_passes_the_harness(name, tmp_path):
    CASES[name].check(tmp_path)


class _ForgetsAnArgument(keras.layers.Layer):
    def __init__(self, units: int = 4, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def call(self, x):
        return x * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}  # "scale" is missing


class _ClaimsBfloat16Probabilities(MultiHeadSelfAttention):
    # The compute_output_shape our attention used to have: Keras then gives every symbolic
    # output the compute dtype, though the probabilities are float32.
    def compute_output_shape(self, input_shape):
        batch, seq_len = input_shape[0], input_shape[1]
        return input_shape, (batch, self.num_heads, seq_len, seq_len)


class _UnusedWeight(keras.layers.Layer):
    def build(self, input_shape):
        self.used = self.add_weight(shape=(input_shape[-1],), name="used")
        self.unused = self.add_weight(shape=(input_shape[-1],), name="unused")

    def call(self, x):
        return x * self.used


def test_the_harness_catches_what_the_old_one_let_through():
    from layer_harness import _Case, check_gradients

    with pytest.raises(AssertionError, match="'scale' is missing from get_config"):
        check_config(_Case(_ForgetsAnArgument, {"units": 3}, (np.ones((1, 2), "float32"),), {}))
    case = _Case(
        _ClaimsBfloat16Probabilities, {"hidden_size": HIDDEN, "num_heads": 2}, (_hidden(),), {}
    )
    layer = case.make()
    with pytest.raises(AssertionError, match="symbolic call"):
        check_mixed_precision(case, layer, case.call(layer), float32_outputs=(1,))
    case = _Case(_UnusedWeight, {}, (_hidden(),), {})
    layer = case.make()
    case.call(layer)
    with pytest.raises(AssertionError, match="no gradient reaches.*unused"):
        check_gradients(case, layer)


def test_scaled_dot_product_attention_matches_the_equation():
    q, k, v = (RNG.normal(size=(2, 3, 5, 8)).astype(np.float32) for _ in range(3))
    out, weights = scaled_dot_product_attention(q, k, v)
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(8)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    np.testing.assert_allclose(out, expected @ v, atol=1e-5)


def test_scaled_dot_product_attention_keeps_float32_scores_under_bfloat16():
    q, k, v = (ops.cast(RNG.normal(size=(2, 3, 5, 8)), "bfloat16") for _ in range(3))
    mask = ops.cast(additive_attention_mask(np.array([[1] * 5, [1, 1, 0, 0, 0]])), "bfloat16")
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask[:, None, 0])
    assert keras.backend.standardize_dtype(weights.dtype) == "float32"
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    assert np.all(np.asarray(weights)[1, :, :, 2:] == 0.0)


def test_additive_mask_gives_padding_exactly_zero_weight():
    mask = additive_attention_mask(PADDING_MASK)
    assert tuple(mask.shape) == (BATCH, 1, 1, LEN)
    q = k = v = RNG.normal(size=(BATCH, HEADS, LEN, 4)).astype(np.float32)
    _, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    weights = np.asarray(weights)
    assert np.all(weights[1, :, :, 4:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)


def test_multi_head_self_attention_names_and_padding():
    layer = MultiHeadSelfAttention(HIDDEN, HEADS)
    out, probs = layer(_hidden(), additive_attention_mask(PADDING_MASK))
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


def test_encoder_block_padding_invariance_and_names():
    block = TransformerEncoderBlock(HIDDEN, HEADS, intermediate_size=32, hidden_dropout=0.0)
    hidden = _hidden()
    out, probs = block(hidden, additive_attention_mask(PADDING_MASK))
    assert tuple(out.shape) == (BATCH, LEN, HIDDEN)
    assert tuple(probs.shape) == (BATCH, HEADS, LEN, LEN)
    # The real tokens of row 1 alone give the same outputs as with 3 padding positions.
    alone, _ = block(hidden[1:, :4], additive_attention_mask(PADDING_MASK[1:, :4]))
    np.testing.assert_allclose(np.asarray(out)[1, :4], np.asarray(alone)[0], atol=1e-5)
    # Hugging Face's attention.output.dropout and output.dropout, both at hidden_dropout.
    assert block.attention_output_dropout.name == "attention_output_dropout"
    assert block.output_dropout.name == "output_dropout"


def test_encoder_block_refuses_an_unknown_activation():
    with pytest.raises(AttentionLabError, match="'swish' is not one of"):
        TransformerEncoderBlock(HIDDEN, HEADS, hidden_act="swish")


def test_gelu_is_the_exact_erf_gelu_computed_in_float32():
    x = np.array([[-3.0, -0.5, 0.0, 0.7, 2.5]], np.float32)
    expected = [v * 0.5 * (1 + erf(v / sqrt(2))) for v in x[0]]
    gelu = activation_function("gelu")
    np.testing.assert_allclose(np.asarray(gelu(x))[0], expected, atol=1e-6)
    # bfloat16 in and out, computed in float32: only the output is rounded to bfloat16
    # (TensorFlow's own bfloat16 GELU differs at about 40% of these 801 points)
    grid = np.linspace(-4, 4, 801).astype(ml_dtypes.bfloat16)
    out = gelu(ops.convert_to_tensor(grid))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    in_float32 = keras.activations.gelu(grid.astype(np.float32), approximate=False)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(out), np.asarray(in_float32).astype(ml_dtypes.bfloat16)
    )


def test_gelu_tanh_is_the_tanh_approximation():
    x = np.linspace(-4, 4, 81).astype(np.float32)
    tanh_form = 0.5 * x * (1 + np.tanh(sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(activation_function("gelu_tanh")(x), tanh_form, atol=1e-6)


def test_each_hugging_face_activation_name_computes_what_transformers_computes():
    torch = pytest.importorskip("torch")
    activations = pytest.importorskip("transformers.activations")
    from attention_lab.config import ACTIVATIONS, HF_ACTIVATIONS

    x = np.linspace(-6, 6, 241).astype(np.float32)
    for hf_name, ours in HF_ACTIVATIONS.items():
        expected = activations.ACT2FN[hf_name](torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(
            activation_function(ours)(x), expected, atol=2e-6, err_msg=hf_name
        )
    # export writes a name that reads back as the same activation
    assert all(HF_ACTIVATIONS[row.hf_name] == name for name, row in ACTIVATIONS.items())


def test_embeddings_sum_three_tables_then_normalise():
    layer = BertEmbeddings(vocab_size=50, hidden_size=HIDDEN, max_position_embeddings=16)
    ids = RNG.integers(0, 50, size=(BATCH, LEN)).astype(np.int32)
    out = np.asarray(layer(ids, PADDING_MASK))
    assert [w.path.split("/")[-2] for w in layer.weights] == [
        "word_embeddings",
        "position_embeddings",
        "token_type_embeddings",
        "LayerNorm",
        "LayerNorm",
    ]
    words, positions, types, gamma, beta = (np.asarray(w) for w in layer.weights)
    summed = words[ids] + positions[:LEN][None] + types[PADDING_MASK]
    mean, var = summed.mean(-1, keepdims=True), summed.var(-1, keepdims=True)
    expected = (summed - mean) / np.sqrt(var + 1e-12) * gamma + beta
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_embeddings_refuse_out_of_range_ids_with_their_position():
    layer = BertEmbeddings(vocab_size=50, hidden_size=HIDDEN, max_position_embeddings=16)
    ids = np.zeros((BATCH, LEN), np.int32)
    ids[1, 5] = 50
    with pytest.raises(AttentionLabError, match=r"input_ids contains id 50 at index \(1, 5\)"):
        layer(ids, PADDING_MASK)
    ids[1, 5] = -1
    with pytest.raises(AttentionLabError, match=r"id -1 at index \(1, 5\)"):
        layer(ids, PADDING_MASK)
    with pytest.raises(AttentionLabError, match="token_type_ids contains id 2"):
        layer(np.zeros_like(ids), PADDING_MASK * 2)


def test_pooler_is_tanh_of_a_dense_layer_on_the_cls_position():
    layer = BertPooler(HIDDEN)
    hidden = _hidden()
    pooled = np.asarray(layer(hidden))
    kernel, bias = (np.asarray(w) for w in layer.weights)
    np.testing.assert_allclose(pooled, np.tanh(hidden[:, 0] @ kernel + bias), atol=1e-6)
    changed = np.concatenate([hidden[:, :1], np.zeros_like(hidden[:, 1:])], axis=1)
    np.testing.assert_allclose(layer(changed), pooled, atol=1e-6)


def test_check_layer_returns_the_eager_outputs(tmp_path):
    out = check_layer(BertPooler, {"hidden_size": HIDDEN}, (_hidden(),), directory=tmp_path)
    assert tuple(out.shape) == (BATCH, HIDDEN)
