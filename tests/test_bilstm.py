"""The chapter's BiLSTM: its parameter counts, its modes, and a short run that must learn."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from glove_imdb_data import glove_vectors, imdb_cache_dir, write_tiny_imdb_archive

from attention_lab.errors import AttentionLabError
from attention_lab.io import CACHE_ENV_VAR
from attention_lab.models.bilstm import build_bilstm_classifier, compile_bilstm


def _trainable(model) -> int:
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def test_chapter_parameter_counts():
    matrix = np.random.default_rng(0).normal(size=(93931, 50)).astype("float32")
    frozen = build_bilstm_classifier(93931, "frozen", matrix)
    # The chapter's summary: 4,854,375 parameters (about 4.85M), 157,825 trainable.
    assert frozen.count_params() == 4854375 and _trainable(frozen) == 157825
    np.testing.assert_array_equal(frozen.get_layer("embedding").get_weights()[0], matrix)
    finetune = build_bilstm_classifier(93931, "finetune", matrix)
    assert _trainable(finetune) == 4854375
    scratch = build_bilstm_classifier(93931, "scratch")
    assert _trainable(scratch) == 4854375
    assert not np.array_equal(scratch.get_layer("embedding").get_weights()[0], matrix)


def test_bad_configurations():
    with pytest.raises(AttentionLabError, match="needs the GloVe embedding matrix"):
        build_bilstm_classifier(10, "frozen")
    with pytest.raises(AttentionLabError, match=r"shape \(10, 3\), expected \(10, 50\)"):
        build_bilstm_classifier(10, "finetune", np.zeros((10, 3)))
    with pytest.raises(AttentionLabError, match="unknown mode"):
        build_bilstm_classifier(10, "thawed")


def test_empty_review_is_all_padding_and_predicts_a_probability():
    model = build_bilstm_classifier(20, "scratch", max_len=6)
    compile_bilstm(model)
    x = np.array([[0, 0, 0, 0, 0, 0], [3, 4, 5, 0, 0, 0]], dtype="int32")
    probabilities = model.predict(x, verbose=0)
    assert probabilities.shape == (2, 1) and np.isfinite(probabilities).all()
    assert float(probabilities.min()) > 0.0 and float(probabilities.max()) < 1.0
    loss = model.train_on_batch(x, np.array([0, 1]))
    assert np.isfinite(loss).all()


@pytest.mark.slow
def test_short_training_run_learns(tmp_path, imdb_archive, glove_file, monkeypatch):
    from attention_lab.training.bilstm import evaluate_bilstm, train_bilstm

    monkeypatch.setenv(CACHE_ENV_VAR, str(imdb_cache_dir(imdb_archive)))
    out = tmp_path / "run"
    metrics = train_bilstm(
        "finetune",
        epochs=3,
        out_dir=out,
        data=imdb_archive,
        glove_path=glove_vectors(glove_file),
        max_len=64,
        limit=3000,
        learning_rate=3e-3,
        seed=0,
        verbose=0,
    )
    # 3,000 train reviews, 3 epochs: well above chance (0.5) on 3,000 unseen test reviews.
    assert metrics["test"]["accuracy"] > 0.65
    assert metrics["train_reviews"] == metrics["test_reviews"] == 3000
    history = metrics["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    reloaded = evaluate_bilstm(out, data=imdb_archive, limit=3000, verbose=0)
    assert reloaded["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-6)
    with pytest.raises(AttentionLabError, match="model.keras is missing"):
        evaluate_bilstm(tmp_path)


class _InterruptAfterFirstEpoch(keras.callbacks.Callback):
    """What Ctrl-C does once the first epoch has been saved."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_an_interrupted_run_resumes_only_with_its_settings(tmp_path, monkeypatch):
    from attention_lab.training.bilstm import train_bilstm

    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    archive = write_tiny_imdb_archive(tmp_path / "aclImdb_v1.tar.gz")
    out = tmp_path / "run"
    settings = {"data": archive, "max_len": 8, "verbose": 0}
    with pytest.raises(KeyboardInterrupt):
        train_bilstm("scratch", 2, out, callbacks=[_InterruptAfterFirstEpoch()], **settings)
    saved = json.loads((out / "metrics.json").read_text())
    assert len(saved["history"]) == 1 and saved["test"] is None
    with pytest.raises(
        AttentionLabError, match=r"interrupted run \(1 of 2 epochs\); pass --resume"
    ):
        train_bilstm("scratch", 2, out, **settings)
    with pytest.raises(AttentionLabError, match="epochs 3 here, 2 in the run; max_len 9 here, 8"):
        train_bilstm("scratch", 3, out, resume=True, **{**settings, "max_len": 9})
    resumed = train_bilstm("scratch", 2, out, resume=True, **settings)
    assert [row["epoch"] for row in resumed["history"]] == [1, 2]
    assert resumed["history"][0] == saved["history"][0] and resumed["resumed_at"] == [1]
    assert resumed["unknown_tokens"] is None and resumed["test"] is not None
    with pytest.raises(AttentionLabError, match="holds a finished run"):
        train_bilstm("scratch", 2, out, resume=True, **settings)
