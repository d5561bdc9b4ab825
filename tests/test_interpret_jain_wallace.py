"""The attention BiLSTM and the "attention is not explanation" measurements (Jain and Wallace,
2019; Wiegreffe and Pinter, 2019), and the experiment's quick mode on the real IMDb and GloVe."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from glove_imdb_data import glove_vectors

from attention_lab.errors import AttentionLabError
from attention_lab.interpret import explanation as ex
from attention_lab.models.attention_bilstm import AttentionBiLSTMClassifier
from attention_lab.training.attention_bilstm import predict_probabilities

# Three reviews of 6, 4 and 2 tokens, padded with 0 to 8.
IDS = np.array(
    [[5, 9, 3, 7, 2, 8, 0, 0], [4, 4, 6, 1, 0, 0, 0, 0], [9, 2, 0, 0, 0, 0, 0, 0]], np.int32
)
LENGTHS = (IDS != 0).sum(axis=1)


def _model(attention: str = "learned") -> AttentionBiLSTMClassifier:
    keras.utils.set_random_seed(3)
    model = AttentionBiLSTMClassifier(
        12, embedding_dim=6, rnn_units=5, attention_units=4, attention=attention
    )
    model.build()
    return model


@pytest.mark.parametrize("attention", ["learned", "uniform"])
def test_attention_is_a_distribution_over_the_real_tokens(attention):
    model = _model(attention)
    weights, states, output = ex.attention_and_states(model, IDS)
    assert weights.shape == IDS.shape and states.shape == (3, 8, 10)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert not weights[IDS == 0].any()
    if attention == "uniform":
        np.testing.assert_allclose(weights[IDS != 0], np.repeat(1.0 / LENGTHS, LENGTHS))
    np.testing.assert_allclose(output, predict_probabilities(model, IDS), atol=1e-6)
    config = model.get_config()
    assert AttentionBiLSTMClassifier.from_config(config).get_config() == config
    with pytest.raises(AttentionLabError, match="unknown attention 'dot'"):
        AttentionBiLSTMClassifier(12, attention="dot")


def test_leave_one_out_removes_each_token_in_turn():
    model = _model()
    loo = ex.leave_one_out(model, IDS)
    assert not loo[IDS == 0].any()
    full = predict_probabilities(model, IDS[:1])[0]
    without_third = np.array([[5, 9, 7, 2, 8, 0, 0, 0]], np.int32)
    assert loo[0, 2] == pytest.approx(abs(full - predict_probabilities(model, without_third)[0]))


def test_gradient_importance_is_the_gradient_times_the_embedding():
    import tensorflow as tf

    model = _model()
    importance = ex.gradient_importance(model, IDS)
    assert not importance[IDS == 0].any() and (importance[IDS != 0] > 0).all()
    embeddings, mask = model.embed(IDS[1:2])
    weights = model.attend(model.encode(embeddings, mask), mask)  # held constant
    t = 0.1  # d/dt ŷ(e + t·e₂) at 0 is ∂ŷ/∂e₂ · e₂: a central difference along e₂ itself
    step = t * np.asarray(embeddings)[0, 2]
    outputs = [
        float(tf.sigmoid(model.classify(model.encode(e, mask), weights))[0])
        for e in (
            tf.tensor_scatter_nd_add(embeddings, [[0, 2]], [step]),
            tf.tensor_scatter_nd_add(embeddings, [[0, 2]], [-step]),
        )
    ]
    assert importance[1, 2] == pytest.approx(abs(outputs[0] - outputs[1]) / (2 * t), rel=0.02)


def test_permuting_uniform_weights_changes_nothing():
    medians = ex.permuted_output_change(_model("uniform"), IDS, permutations=5)
    np.testing.assert_allclose(medians, 0.0, atol=1e-6)
    assert (ex.permuted_output_change(_model(), IDS, permutations=5) >= 0).all()


def test_adversarial_attention_keeps_the_output_and_stays_on_real_tokens():
    model = _model()
    weights, _, output = ex.attention_and_states(model, IDS)
    jsd, change, adversarial = ex.adversarial_attention(model, IDS, epsilon=0.01, steps=30)
    assert (change <= 0.01).all() and (jsd >= 0).all() and (jsd <= np.log(2)).all()
    assert jsd.max() > 0  # something different was found
    np.testing.assert_allclose(adversarial.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(ex.jensen_shannon(adversarial, weights), jsd, atol=1e-4)
    assert not adversarial[IDS == 0].any()


def test_empty_reviews_are_refused():
    with pytest.raises(AttentionLabError, match="no token at all"):
        ex.leave_one_out(_model(), np.zeros((1, 8), np.int32))


@pytest.mark.slow
def test_quick_experiment_writes_its_results(imdb_archive, glove_file, tmp_path):
    from attention_lab.interpret.jain_wallace import QUICK, run, table

    out = tmp_path / "jw"
    results = run(out, imdb_archive, glove_vectors(glove_file), settings=QUICK, verbose=0)
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(results))
    assert results["train_reviews"] == QUICK.train_reviews == results["test_reviews"]
    assert set(results["accuracy"]) == {"learned", "uniform"}
    assert results["example"]["review"] == "the chapter's review"
    for row in results["kendall_tau"].values():
        assert -1 <= row["mean"] <= 1 and row["count"] == QUICK.measure_reviews
    with np.load(out / "arrays.npz") as arrays:
        assert arrays["adversarial_change"].max() <= QUICK.epsilon
        assert len(arrays["permutation_median"]) == QUICK.measure_reviews
    for name in ("jain_wallace", *(f"example_{k}" for k in ("attention", "adversarial"))):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "uniform attention" in table(results)
    with pytest.raises(AttentionLabError, match="already exists"):
        run(out, imdb_archive, glove_file, settings=QUICK)


def test_experiment_refuses_a_folder_it_did_not_write_before_running(tmp_path):
    from attention_lab.interpret.jain_wallace import QUICK, run

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(AttentionLabError, match="not written by attention_lab"):
        run(tmp_path, glove="unused.txt", settings=QUICK, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
