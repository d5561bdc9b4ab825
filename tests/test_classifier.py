"""The chapter's two classifiers: the pre-built head and the custom head, freezing, loading."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hf_checkpoints import save_hf_checkpoint
from layer_harness import check_layer
from tiny_runs import tiny_config, toy_sentiment

from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.models.bert import (
    BertCustomClassifier,
    BertForSequenceClassification,
    build_classifier,
    head_name,
    set_encoder_trainable,
)


def _params(layers) -> int:
    return sum(int(np.prod(v.shape)) for layer in layers for v in layer.weights)


def test_custom_head_has_the_chapters_154202_parameters_on_bert_base_width():
    config = tiny_config(hidden_size=768, num_attention_heads=12, num_hidden_layers=1)
    model = build_classifier("custom", config)
    assert _params([model.head_dense, model.logits]) == 154_202  # chapter section 6
    assert model.head_dense.units == 200 and model.head_dense.activation is keras.activations.relu
    assert model.head_dropout_1.rate == 0.2 and model.head_dropout_2.rate == 0.2
    # logits, not probabilities: no sigmoid squashing before a from_logits loss
    assert model.logits.activation is keras.activations.linear
    # the chapter's Dense layers keep Keras's initialisation, not BERT's normal(0.02)
    for dense in (model.head_dense, model.logits):
        assert isinstance(dense.kernel_initializer, keras.initializers.GlorotUniform)
    prebuilt = build_classifier("prebuilt", config)
    assert _params([prebuilt.classifier]) == 1_538  # chapter section 5: Dense(2) on 768


@pytest.mark.parametrize(
    ("cls", "head_kwargs"),
    [
        (BertForSequenceClassification, {}),
        (BertCustomClassifier, {"head_units": 8, "head_dropout": 0.3}),
    ],
)
def test_classifier_passes_the_layer_harness(cls, head_kwargs, tmp_path):
    config = tiny_config(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, num_labels=3)
    inputs = toy_sentiment(4).features
    logits = check_layer(cls, {"config": config, **head_kwargs}, (inputs,), directory=tmp_path)
    assert tuple(logits.shape) == (4, 3)


def test_heads_return_unbounded_logits():
    data = toy_sentiment(4)
    for head in ("prebuilt", "custom"):
        model = build_classifier(head, tiny_config())
        last = model.logits if head == "custom" else model.classifier
        last.bias.assign([-3.0, 3.0])  # no sigmoid after it: values leave (0, 1)
        logits = np.asarray(model(data.features))
        assert logits.shape == (4, 2) and logits.min() < -1.0 and logits.max() > 1.0
        assert head_name(model) == head
    with pytest.raises(AttentionLabError, match="unknown head"):
        build_classifier("attention", tiny_config())


def test_freezing_leaves_only_the_head_trainable_and_unfreezing_restores_it():
    model = build_classifier("custom", tiny_config())
    everything = len(model.trainable_variables)
    set_encoder_trainable(model, False)
    names = sorted(v.path.split("/", 1)[1] for v in model.trainable_variables)
    assert names == ["head_dense/bias", "head_dense/kernel", "logits/bias", "logits/kernel"]
    set_encoder_trainable(model, True)
    assert len(model.trainable_variables) == everything


def test_mixed_precision_keeps_float32_variables_and_returns_finite_logits():
    model = build_classifier("custom", tiny_config(), dtype="mixed_bfloat16")
    assert {v.dtype for v in model.trainable_variables} == {"float32"}
    logits = model(toy_sentiment(3).features)
    assert logits.dtype == "bfloat16" and np.isfinite(np.asarray(logits, np.float32)).all()


@pytest.fixture(scope="module")
def hf_dirs(tmp_path_factory):
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("hf")
    return {
        "head": save_hf_checkpoint(root / "head", head=True),
        "bare": save_hf_checkpoint(root / "bare"),
    }


def test_pretrained_prebuilt_keeps_a_hugging_face_head_and_custom_starts_fresh(hf_dirs):
    import torch
    import transformers

    from attention_lab.convert import load_bert

    ids = np.random.default_rng(0).integers(0, 120, size=(2, 7)).astype(np.int32)
    loaded = load_bert(hf_dirs["head"], "prebuilt")
    model, report = loaded.model, loaded.report
    assert isinstance(model, BertForSequenceClassification) and "classifier.weight" in report.loaded
    reference = transformers.BertForSequenceClassification.from_pretrained(hf_dirs["head"]).eval()
    with torch.no_grad():
        expected = reference(torch.tensor(ids, dtype=torch.long)).logits.numpy()
    np.testing.assert_allclose(np.asarray(model({"input_ids": ids})), expected, atol=1e-5)

    custom = load_bert(hf_dirs["head"], "custom")
    custom, report = custom.model, custom.report
    assert isinstance(custom, BertCustomClassifier)
    assert "classifier.weight" in report.skipped  # the HF head has no place in the custom head
    np.testing.assert_array_equal(
        custom.bert.pooler.dense.kernel.numpy(), model.bert.pooler.dense.kernel.numpy()
    )


def test_pretrained_without_pooler_is_refused(hf_dirs, tmp_path):
    from safetensors.numpy import save_file

    from attention_lab.convert import load_bert, read_state_dict

    state = {k: v for k, v in read_state_dict(hf_dirs["bare"]).items() if "pooler" not in k}
    (tmp_path / "config.json").write_text((hf_dirs["bare"] / "config.json").read_text())
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="no pooler"):
        load_bert(tmp_path, "custom")
