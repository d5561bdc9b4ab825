"""Kill training mid-epoch (SIGKILL), resume: the same steps, the same weights, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from tiny_runs import tiny_config, toy_sentiment

from attention_lab.errors import CheckpointError
from attention_lab.models.bert import build_classifier
from attention_lab.training import run_folder
from attention_lab.training.fit import TrainingConfig, fit_classifier

TESTS = Path(__file__).resolve().parent
# 48 examples: 6 steps per epoch, 12 in all; a backup every 2 steps; dropout on, so that the
# dropout seeds must be restored too for the weights to match.
CONFIG = dict(epochs=2, batch_size=8, learning_rate=3e-3, checkpoint_every=2)
MODEL = dict(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


class KillAt(keras.callbacks.Callback):
    def __init__(self, step: int):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def _run(directory: Path, kill_at: int | None = None):
    keras.utils.set_random_seed(0)
    model = build_classifier("prebuilt", tiny_config(**MODEL))
    result = fit_classifier(
        model,
        toy_sentiment(48),
        toy_sentiment(16, seed=1),
        directory,
        TrainingConfig(**CONFIG),
        progress=False,
        callbacks=[KillAt(kill_at)] if kill_at else [],
    )
    return model, result


def test_a_killed_run_resumes_to_the_same_steps_and_weights(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from test_training_resume import _run
        _run({str(tmp_path / "run")!r}, kill_at=9)  # epoch 2, batch 3: after the step-8 backup
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["step"] == 8 and state["weights"] == "step-00000008.weights.h5"
    assert len(state["history"]) == 1 and state["partial"]["batches"] == 2
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "best.weights.h5",
        "state.json",
        "step-00000008.weights.h5",
    ]  # no temporary file left by the kill

    resumed_model, resumed = _run(tmp_path / "run")
    reference_model, reference = _run(tmp_path / "reference")
    assert resumed["steps"] == reference["steps"] == 12
    assert len(resumed["history"]) == 2
    for mine, theirs in zip(resumed_model.weights, reference_model.weights, strict=True):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), atol=1e-6)
    for key in ("loss", "accuracy", "val_loss"):  # the interrupted epoch's logs are whole
        np.testing.assert_allclose(
            [h[key] for h in resumed["history"]],
            [h[key] for h in reference["history"]],
            rtol=1e-5,
        )


class InterruptAfterTheBackup(keras.callbacks.Callback):
    """Stops the process at the first epoch end without improvement, as soon as the backup has
    saved that epoch (a kill at that instant)."""

    def __init__(self, directory: Path):
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch, logs=None):
        state = json.loads((self.directory / "state.json").read_text())
        if state["epochs_without_improvement"]:
            raise KeyboardInterrupt


def _stopping_run(directory: Path, interrupt: bool = False):
    keras.utils.set_random_seed(0)
    validation = toy_sentiment(16, seed=1)
    validation.labels[:] = 1 - validation.labels  # the better it learns, the worse validation
    config = TrainingConfig(
        epochs=6, batch_size=8, learning_rate=1e-2, early_stopping_patience=1, keep_best="loss"
    )
    callbacks = [InterruptAfterTheBackup(directory)] if interrupt else []
    model = build_classifier("prebuilt", tiny_config())
    return fit_classifier(
        model, toy_sentiment(48), validation, directory, config, progress=False, callbacks=callbacks
    )


def test_a_run_killed_at_its_early_stop_stops_where_it_would_have(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _stopping_run(tmp_path / "run", interrupt=True)
    interrupted = json.loads((tmp_path / "run" / "state.json").read_text())
    assert interrupted["stopped_early"]  # decided at the epoch's end, saved with it
    resumed = _stopping_run(tmp_path / "run")
    reference = _stopping_run(tmp_path / "reference")
    assert reference["stopped_early"] and resumed["stopped_early"]
    assert len(resumed["history"]) == len(reference["history"]) == len(interrupted["history"])
    assert resumed["steps"] == reference["steps"] == interrupted["step"]
    assert resumed["best_epoch"] == reference["best_epoch"]


def test_a_backup_resumes_only_by_the_figure_its_best_epoch_was_kept_by(tmp_path):
    config = dict(epochs=1, batch_size=8, learning_rate=3e-3, keep_best="loss")
    data, validation = toy_sentiment(16), toy_sentiment(8, seed=1)
    fit_classifier(
        build_classifier("prebuilt", tiny_config()), data, validation, tmp_path,
        TrainingConfig(**config), progress=False,
    )  # fmt: skip
    with pytest.raises(
        CheckpointError, match="keep_best='loss', this run has keep_best='accuracy'"
    ):
        fit_classifier(
            build_classifier("prebuilt", tiny_config()), data, validation, tmp_path,
            TrainingConfig(**{**config, "keep_best": "accuracy"}), progress=False,
        )  # fmt: skip
    resumed = fit_classifier(
        build_classifier("prebuilt", tiny_config()), data, validation, tmp_path,
        TrainingConfig(**config), progress=False,
    )  # fmt: skip
    assert resumed["best_epoch"] == 1 and resumed["steps"] == 2


def test_a_resumed_run_must_match_every_setting_but_checkpoint_every():
    before = {"head": "prebuilt", "epochs": 2, "keep_best": "loss", "checkpoint_every": 200}
    now = {**before, "checkpoint_every": 50}
    assert run_folder.differences(run_folder.identity(before), run_folder.identity(now)) == []
    now["keep_best"] = "accuracy"
    assert run_folder.differences(
        run_folder.identity(before), run_folder.identity(now)
    ) == ["keep_best: 'loss' -> 'accuracy'"]  # fmt: skip
