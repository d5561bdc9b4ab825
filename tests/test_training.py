"""The fine-tuning loop: schedule, AdamW, split, early stopping, checkpoints, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_runs import tiny_config, toy_sentiment

from attention_lab.cli.main import main
from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.models.classifier import build_classifier
from attention_lab.training import (
    EncodedDataset,
    Trainer,
    TrainingConfig,
    WarmupLinearDecay,
    make_optimizer,
    train_validation_split,
)
from attention_lab.training.checkpoints import variable_key
from attention_lab.training.finetune import check_max_len

FAST = dict(jit_compile=False, batch_size=8, learning_rate=3e-3, warmup_fraction=0.0)


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(2e-5, warmup_steps=10, total_steps=110)
    values = [float(schedule(step)) for step in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(values, [0.0, 1e-5, 2e-5, 1e-5, 0.0, 0.0], atol=1e-12)
    with pytest.raises(AttentionLabError, match="warmup_steps"):
        WarmupLinearDecay(2e-5, warmup_steps=10, total_steps=10)


def test_adamw_decays_weights_but_not_layernorm_or_biases():
    model = build_classifier("custom", tiny_config())
    optimizer = make_optimizer(model, TrainingConfig(), total_steps=100)
    decayed = {v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)}
    for v in model.trainable_variables:
        is_exempt = v.name in ("bias", "gamma", "beta")
        assert (v.path in decayed) != is_exempt, v.path
    assert any("LayerNorm/gamma" in v.path for v in model.trainable_variables)
    assert optimizer.global_clipnorm == 1.0


def test_validation_split_is_20_percent_seeded_and_disjoint():
    data = toy_sentiment(101)
    data.features["input_ids"][:, 1] = np.arange(101)  # a row id to follow the rows
    train, validation = train_validation_split(data, 0.2, seed=42)
    assert (len(train), len(validation)) == (80, 21)  # ceil(0.2 * 101) = 21, as scikit-learn
    train_ids = set(train.features["input_ids"][:, 1])
    validation_ids = set(validation.features["input_ids"][:, 1])
    assert not train_ids & validation_ids and len(train_ids | validation_ids) == 101
    again, _ = train_validation_split(data, 0.2, seed=42)
    np.testing.assert_array_equal(again.labels, train.labels)
    other, _ = train_validation_split(data, 0.2, seed=7)
    assert not np.array_equal(other.features["input_ids"][:, 1], train.features["input_ids"][:, 1])


def test_bad_labels_and_empty_data_are_refused(tmp_path):
    data = toy_sentiment(16)
    data.labels[5] = 2
    trainer = Trainer(build_classifier("prebuilt", tiny_config()), TrainingConfig(**FAST), tmp_path)
    with pytest.raises(AttentionLabError, match="label 2 at index 5.*labels 0 … 1"):
        trainer.fit(data)
    empty = EncodedDataset({k: v[:0] for k, v in data.features.items()}, data.labels[:0])
    with pytest.raises(AttentionLabError, match="training set is empty"):
        trainer.fit(empty)


def test_max_len_beyond_the_models_positions_is_refused():
    config = tiny_config()
    check_max_len(32, config)
    with pytest.raises(AttentionLabError, match="max_position_embeddings=32"):
        check_max_len(33, config)


def test_training_learns_the_toy_task_in_bfloat16_and_stops_early(tmp_path):
    train = toy_sentiment(64, seed=1)
    validation = toy_sentiment(32, seed=2)
    validation.labels[:] = 1 - validation.labels  # the better it learns, the worse validation
    model = build_classifier("prebuilt", tiny_config(), dtype="mixed_bfloat16")
    config = TrainingConfig(epochs=6, early_stopping_patience=1, **{**FAST, "learning_rate": 1e-2})
    result = Trainer(model, config, tmp_path, progress=False).fit(train, validation)
    history = result["history"]
    assert history[-1]["loss"] < history[0]["loss"] - 0.02 and history[-1]["accuracy"] > 0.6
    assert result["stopped_early"] and len(history) < 6
    best = int(np.argmin([h["val_loss"] for h in history]))
    assert history[-1]["val_loss"] > history[best]["val_loss"]
    with np.load(tmp_path / "best.npz") as best_weights:  # the best epoch's weights are restored
        np.testing.assert_array_equal(
            best_weights[variable_key(model.classifier.kernel)], model.classifier.kernel.numpy()
        )
    assert result["global_step"] == len(history) * 8


def test_xla_compiled_steps_train_like_the_plain_graph(tmp_path):
    data = toy_sentiment(32, seed=3)
    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    initial = build_classifier("prebuilt", config).get_weights()
    losses = {}
    for jit in (False, True):  # the CPU default, then the GPU default
        model = build_classifier("prebuilt", config)
        model.set_weights(initial)
        training = TrainingConfig(epochs=2, **{**FAST, "jit_compile": jit})
        result = Trainer(model, training, tmp_path / str(jit), progress=False).fit(data)
        losses[jit] = [epoch["loss"] for epoch in result["history"]]
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)


def test_a_checkpoint_from_another_model_is_refused(tmp_path):
    data = toy_sentiment(16)
    config = TrainingConfig(epochs=1, **FAST)
    Trainer(
        build_classifier("prebuilt", tiny_config()),
        config,
        tmp_path,
        signature={"head": "prebuilt"},
        progress=False,
    ).fit(data)
    other = build_classifier("custom", tiny_config())
    with pytest.raises(CheckpointError, match="head='prebuilt'"):
        Trainer(other, config, tmp_path, signature={"head": "custom"}, progress=False).fit(data)
    from attention_lab.training import checkpoints

    latest = checkpoints.latest_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="another model"):
        checkpoints.restore_checkpoint(latest, other, make_optimizer(other, config, 10))


def test_cli_reports_missing_checkpoints_and_bad_max_len_in_one_line(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such checkpoint directory" in err
    (tmp_path / "not-a-run").mkdir()
    assert main(["predict", "--checkpoint", str(tmp_path / "not-a-run"), "great"]) == 2
    assert "not a folder written by `attention-lab finetune`" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"head": "custom"}))
    assert main(["export", "--checkpoint", str(run), "--out", str(tmp_path / "hf")]) == 2
    assert "training has not finished" in capsys.readouterr().err
