"""BertModel: BERT-Base defaults, the layer harness, outputs, masking, retracing, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf
from layer_harness import check_layer

from attention_lab.convert.hf_checkpoint import bert_config
from attention_lab.errors import AttentionLabError, ConfigError
from attention_lab.models.bert import BertConfig, BertModel

TINY = BertConfig(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=24,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)


def _batch(batch=3, length=10, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, TINY.vocab_size, size=(batch, length)).astype(np.int32)
    mask = np.ones((batch, length), np.int32)
    mask[1, 6:] = 0
    ids[1, 6:] = 0
    types = np.zeros((batch, length), np.int32)
    types[2, 5:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


@pytest.fixture(scope="module")
def tiny_model():
    model = BertModel(TINY)
    model.build()
    return model


def test_bert_base_defaults_match_the_chapter():
    config = BertConfig()
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (
        12,
        768,
        12,
    )
    assert (config.intermediate_size, config.vocab_size, config.layer_norm_eps) == (
        3072,
        28996,
        1e-12,
    )
    model = BertModel(config)
    model.build()
    # Chapter section 5: the BERT main layer of bert-base-cased has 108,310,272 parameters.
    assert model.count_params() == 108_310_272


def test_bert_model_passes_the_layer_harness(tmp_path):
    config = BertConfig(
        **{**TINY.to_dict(), "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.2}
    )
    check_layer(
        BertModel, {"config": config, "add_pooling_layer": True}, (_batch(),), directory=tmp_path
    )


def test_outputs_and_shapes(tiny_model):
    out = tiny_model(_batch(), output_hidden_states=True, output_attentions=True)
    assert tuple(out["sequence_output"].shape) == (3, 10, 32)
    assert tuple(out["pooled_output"].shape) == (3, 32)
    assert len(out["hidden_states"]) == TINY.num_hidden_layers + 1
    assert len(out["attentions"]) == TINY.num_hidden_layers
    assert tuple(out["attentions"][0].shape) == (3, 4, 10, 10)
    assert np.all(np.asarray(out["attentions"][-1])[1, :, :, 6:] == 0.0)
    assert set(tiny_model(_batch())) == {"sequence_output", "pooled_output"}


def test_padding_leaves_real_tokens_unchanged(tiny_model):
    batch = _batch()
    short = {k: v[1:2, :6] for k, v in batch.items()}
    padded = tiny_model(batch)["sequence_output"]
    alone = tiny_model(short)["sequence_output"]
    np.testing.assert_allclose(np.asarray(padded)[1, :6], np.asarray(alone)[0], atol=1e-5)


def test_optional_inputs_default_to_ones_and_zeros(tiny_model):
    batch = _batch()
    ids_only = {"input_ids": batch["input_ids"]}
    full = {
        "input_ids": batch["input_ids"],
        "attention_mask": np.ones_like(batch["input_ids"]),
        "token_type_ids": np.zeros_like(batch["input_ids"]),
    }
    np.testing.assert_array_equal(
        tiny_model(ids_only)["sequence_output"], tiny_model(full)["sequence_output"]
    )


def test_eager_equals_xla_in_tf_function_and_compile(tiny_model):
    batch = _batch()
    eager = tiny_model(batch, output_attentions=True)
    xla = tf.function(lambda b: tiny_model(b, output_attentions=True), jit_compile=True)(batch)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(eager[key], xla[key], atol=1e-5, rtol=0)
    for a, b in zip(eager["attentions"], xla["attentions"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)

    tiny_model.compile(jit_compile=True)
    predicted = tiny_model.predict(batch, batch_size=3, verbose=0)
    np.testing.assert_allclose(predicted["sequence_output"], eager["sequence_output"], atol=1e-5)


def test_no_retracing_for_repeated_batches_of_one_shape(tiny_model):
    forward = tf.function(lambda b: tiny_model(b)["pooled_output"], jit_compile=True)
    for seed in range(4):
        forward({k: tf.constant(v) for k, v in _batch(seed=seed).items()})
    assert forward.experimental_get_tracing_count() == 1


def test_config_round_trip_and_hf_config():
    transformers = pytest.importorskip("transformers")
    hf = transformers.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=24,
    )  # fmt: skip
    config = bert_config(hf.to_dict())
    assert config.hidden_size == 32 and config.layer_norm_eps == 1e-12
    assert BertConfig.from_dict(config.to_dict()) == config
    assert BertModel.from_config(BertModel(config).get_config()).config == config
    # every field Hugging Face writes keeps its name and value, so config.json maps one to one
    shared = set(hf.to_dict()) & set(config.to_dict())
    assert len(shared) >= 13
    assert all(hf.to_dict()[k] == getattr(config, k) for k in shared)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"position_embedding_type": "relative_key"}, "'absolute'"),
        ({"hidden_act": "swish"}, "hidden_act='swish' must be one of"),
        ({"hidden_size": 30, "num_attention_heads": 4}, "a divisor of hidden_size=30"),
        ({"num_hidden_layers": 0}, "positive integer"),
    ],
)
def test_config_errors_name_the_problem(values, message):
    with pytest.raises(ConfigError, match=message):
        BertConfig.from_dict(values)


@pytest.mark.parametrize(
    ("field", "value", "requirement"),
    [
        ("hidden_dropout_prob", 1.5, r"a dropout probability in \[0, 1\)"),
        ("hidden_dropout_prob", 1.0, "a dropout probability"),
        ("attention_probs_dropout_prob", -0.1, "a dropout probability"),
        ("attention_probs_dropout_prob", float("nan"), "a dropout probability"),
        ("hidden_dropout_prob", None, "a dropout probability"),
        ("layer_norm_eps", -1e-12, "a finite number > 0"),
        ("layer_norm_eps", 0.0, "a finite number > 0"),
        ("layer_norm_eps", float("nan"), "a finite number > 0"),
        ("initializer_range", float("inf"), "a finite number > 0"),
        ("initializer_range", "0.02", "a finite number > 0"),
        ("vocab_size", 768.0, "a positive integer"),
        ("intermediate_size", True, "a positive integer"),
        ("max_position_embeddings", -512, "a positive integer"),
        ("num_labels", 0, "a positive integer"),
        ("pad_token_id", 28996, r"a token id in \[0, vocab_size=28996\)"),
        ("pad_token_id", -1, "a token id"),
    ],
)
def test_every_config_field_is_checked_and_the_error_says_the_fix(field, value, requirement):
    expected = rf"BertConfig\.{field}={re.escape(repr(value))} must be {requirement}"
    fix = rf"set {field} in config\.json \(or BertConfig\) to a valid value, e\.g\."
    with pytest.raises(ConfigError, match=f"{expected}.*{fix}"):
        bert_config({field: value})
    with pytest.raises(ConfigError, match=expected):
        BertConfig(**{field: value})


def test_hugging_face_activation_names_are_ours():
    assert bert_config({"hidden_act": "gelu_new"}).hidden_act == "gelu_new"
    assert bert_config({"hidden_act": "gelu_pytorch_tanh"}).hidden_act == "gelu_pytorch_tanh"


def test_token_id_out_of_range_is_refused_not_clamped(tiny_model):
    batch = _batch()
    batch["input_ids"][0, 3] = TINY.vocab_size
    with pytest.raises(AttentionLabError, match=r"input_ids contains id 99 at index \(0, 3\)"):
        tiny_model(batch)
    batch = _batch()
    batch["token_type_ids"][2, 1] = 2
    with pytest.raises(AttentionLabError, match="token_type_ids contains id 2"):
        tiny_model(batch)
    # In a compiled call the ids have no values yet: the pipelines check them before the call
    # (check_inputs); the model's own check still refuses, while tracing, what shapes show
    # (TensorFlow's autograph hands our message on inside its StagingError).
    graph = tf.function(lambda b: tiny_model(b)["pooled_output"])
    with pytest.raises(Exception, match="max_position_embeddings=24"):
        graph(_batch(length=TINY.max_position_embeddings + 1))


def test_sequence_longer_than_positions_is_refused(tiny_model):
    batch = _batch(length=TINY.max_position_embeddings + 1)
    with pytest.raises(AttentionLabError, match="max_position_embeddings=24"):
        tiny_model(batch)


def test_non_dict_input_is_refused(tiny_model):
    with pytest.raises(AttentionLabError, match="expects a dict"):
        tiny_model(np.zeros((1, 4), np.int32))


def test_no_init_weights_starts_at_zero_and_draws_the_same_seeds():
    """Loading builds under ``no_init_weights``: nothing is drawn, yet Python's random stream
    (from which Keras seeds dropout) ends where a normal build leaves it."""
    import random

    from attention_lab.models.bert import no_init_weights

    def query_kernel_after_build():
        random.seed(7)
        model = BertModel(TINY)
        model.build()
        kernel = {w.path.split("/", 1)[1]: w for w in model.weights}[
            "layer_0/attention/query/kernel"
        ]
        return kernel.numpy(), random.random()

    drawn, after_drawn = query_kernel_after_build()
    with no_init_weights():
        skipped, after_skipped = query_kernel_after_build()
    again, _ = query_kernel_after_build()  # the context is left: weights are drawn again
    random.seed(7)
    assert random.random() != after_drawn  # building draws seeds from the stream
    assert after_skipped == after_drawn
    assert not np.any(skipped)
    assert np.std(drawn) > 0 and np.std(again) > 0
