"""The BERT building blocks of models/bert.py (and the fused block of models/bert_fused.py):
equations, shapes, masking, the one input check, and the shared layer harness."""

from __future__ import annotations

from math import erf, sqrt

import keras
import ml_dtypes
import numpy as np
import pytest
from keras import ops
from layer_harness import check_config, check_layer, check_mixed_precision, layer_cases

from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import (
    ACTIVATIONS,
    BertConfig,
    BertEmbeddings,
    BertPooler,
    MultiHeadSelfAttention,
    TransformerEncoderBlock,
    activation,
    additive_attention_mask,
    check_inputs,
    scaled_dot_product_attention,
)
from attention_lab.models.bert_fused import FusedTransformerEncoderBlock

RNG = np.random.default_rng(0)
BATCH, LEN, HIDDEN, HEADS = 2, 7, 16, 4
# The second sequence has 4 real tokens and 3 padding positions.
PADDING_MASK = np.array([[1] * 7, [1] * 4 + [0] * 3], dtype=np.int32)
CASES = layer_cases()
CONFIG = BertConfig(
    vocab_size=50,
    hidden_size=HIDDEN,
    num_hidden_layers=1,
    num_attention_heads=HEADS,
    intermediate_size=32,
    max_position_embeddings=16,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)


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
        return input_shape, (batch, self.config.num_attention_heads, seq_len, seq_len)


class _UnusedWeight(keras.layers.Layer):
    def build(self, input_shape):
        self.used = self.add_weight(shape=(input_shape[-1],), name="used")
        self.unused = self.add_weight(shape=(input_shape[-1],), name="unused")

    def call(self, x):
        return x * self.used


def test_the_harness_catches_what_the_old_one_let_through():
    from layer_harness import LayerCase, check_gradients

    with pytest.raises(AssertionError, match="'scale' is missing from get_config"):
        check_config(LayerCase(_ForgetsAnArgument, {"units": 3}, (np.ones((1, 2), "float32"),)))
    case = LayerCase(_ClaimsBfloat16Probabilities, {"config": CONFIG}, (_hidden(),))
    layer = case.make()
    with pytest.raises(AssertionError, match="symbolic call"):
        check_mixed_precision(case, layer, case.call(layer), float32_outputs=(1,))
    case = LayerCase(_UnusedWeight, {}, (_hidden(),))
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
    layer = MultiHeadSelfAttention(CONFIG)
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


def test_encoder_block_padding_invariance_and_names():
    block = TransformerEncoderBlock(CONFIG)
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


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("training", [False, True])
def test_the_fused_block_computes_what_the_definition_computes(precision, training):
    """Same weights, same outputs: float32 to the order of its sums; under mixed bfloat16 the
    fused block at inference rounds the GELU input once less and the attention scores once more
    (within bfloat16's rounding)."""
    hidden, mask = _hidden(), additive_attention_mask(PADDING_MASK)
    plain = TransformerEncoderBlock(CONFIG, dtype=precision, name="layer_0")
    fused = FusedTransformerEncoderBlock(CONFIG, dtype=precision, name="layer_0")
    plain(hidden, mask)
    fused(hidden, mask)
    assert [v.path for v in fused.weights] == [v.path for v in plain.weights]  # one weight map
    fused.set_weights(plain.get_weights())
    tolerance = 1e-5 if precision == "float32" else 4 * 2**-7
    for a, b in zip(
        plain(hidden, mask, training=training), fused(hidden, mask, training=training), strict=True
    ):
        a, b = (np.asarray(ops.convert_to_numpy(ops.cast(t, "float32"))) for t in (a, b))
        np.testing.assert_allclose(b, a, atol=tolerance * np.abs(a).max(), rtol=0)


def test_gelu_is_the_exact_erf_gelu_computed_in_float32():
    x = np.array([[-3.0, -0.5, 0.0, 0.7, 2.5]], np.float32)
    expected = [v * 0.5 * (1 + erf(v / sqrt(2))) for v in x[0]]

    def gelu(x):
        return activation(CONFIG, x)

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


def test_gelu_new_is_the_tanh_approximation():
    x = np.linspace(-4, 4, 81).astype(np.float32)
    tanh_form = 0.5 * x * (1 + np.tanh(sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(ACTIVATIONS["gelu_new"](x), tanh_form, atol=1e-6)


def test_each_hugging_face_activation_name_computes_what_transformers_computes():
    torch = pytest.importorskip("torch")
    activations = pytest.importorskip("transformers.activations")

    x = np.linspace(-6, 6, 241).astype(np.float32)
    for name, function in ACTIVATIONS.items():  # our hidden_act names are Hugging Face's
        expected = activations.ACT2FN[name](torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(function(x), expected, atol=2e-6, err_msg=name)


def test_embeddings_sum_three_tables_then_normalise():
    layer = BertEmbeddings(CONFIG)
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


def _inputs(length=LEN, **changes):
    inputs = {
        "input_ids": np.zeros((BATCH, length), np.int32),
        "attention_mask": np.ones((BATCH, length), np.int32),
        "token_type_ids": np.zeros((BATCH, length), np.int32),
    }
    for name, (where, value) in changes.items():
        inputs[name][where] = value
    return inputs


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (_inputs(input_ids=((1, 5), 50)), r"input_ids contains id 50 at index \(1, 5\)"),
        (_inputs(input_ids=((1, 5), -1)), r"id -1 at index \(1, 5\)"),
        (_inputs(token_type_ids=((0, 2), 2)), "token_type_ids contains id 2 .* outside"),
        (_inputs(length=17), "17 positions but the model has only max_position_embeddings=16"),
        ({"input_ids": np.zeros((2, 4), np.int32), "attention_mask": np.ones((2, 5))}, "shape"),
        ({"input_ids": np.full((2, 4), 0.5, np.float32)}, "input_ids holds fractional values"),
        ({"input_ids": np.zeros(4, np.int32)}, r"input_ids has shape \(4,\)"),
        ({"input_ids": np.zeros((1, 4), np.int32), "attention_masks": 0}, "'attention_masks'"),
        ({"attention_mask": np.ones((1, 4))}, "'input_ids' or 'inputs_embeds'"),
        (np.zeros((1, 4), np.int32), "expects a dict"),
    ],
)
def test_check_inputs_refuses_what_the_model_cannot_read(inputs, message):
    with pytest.raises(AttentionLabError, match=message):
        check_inputs(CONFIG, inputs)


def test_check_inputs_passes_a_good_batch_and_skips_values_it_cannot_see():
    check_inputs(CONFIG, _inputs())
    check_inputs(CONFIG, {"inputs_embeds": np.zeros((2, 3, HIDDEN), np.float32)})
    # Traced ids have no values yet: only shapes and dtypes are checked, values before the call.
    symbolic = {"input_ids": keras.KerasTensor((None, 8), "int32")}
    check_inputs(CONFIG, symbolic)


def test_pooler_is_tanh_of_a_dense_layer_on_the_cls_position():
    layer = BertPooler(CONFIG)
    hidden = _hidden()
    pooled = np.asarray(layer(hidden))
    kernel, bias = (np.asarray(w) for w in layer.weights)
    np.testing.assert_allclose(pooled, np.tanh(hidden[:, 0] @ kernel + bias), atol=1e-6)
    changed = np.concatenate([hidden[:, :1], np.zeros_like(hidden[:, 1:])], axis=1)
    np.testing.assert_allclose(layer(changed), pooled, atol=1e-6)


def test_check_layer_returns_the_eager_outputs(tmp_path):
    out = check_layer(BertPooler, {"config": CONFIG}, (_hidden(),), directory=tmp_path)
    assert tuple(out.shape) == (BATCH, HIDDEN)
