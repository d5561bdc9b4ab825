"""Kill training mid-epoch (SIGKILL), resume: same steps, same weights, no checkpoint lost."""

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
from tiny_runs import tiny_config, toy_sentiment

from attention_lab.models.classifier import build_classifier
from attention_lab.training import Trainer, TrainingConfig

TESTS = Path(__file__).resolve().parent
CONFIG = dict(
    epochs=2, batch_size=8, learning_rate=3e-3, jit_compile=False, checkpoint_every=2
)  # 48 examples: 6 steps per epoch, 12 in all


def _run(directory: Path, on_step=None):
    keras.utils.set_random_seed(0)
    model = build_classifier("prebuilt", tiny_config())
    trainer = Trainer(model, TrainingConfig(**CONFIG), directory, progress=False, on_step=on_step)
    return model, trainer.fit(toy_sentiment(48))


def test_a_killed_run_resumes_to_the_same_steps_and_weights(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(TESTS)!r})
        from test_training_resume import _run

        def kill_at_step_9(step, logs):
            if step == 9:  # epoch 2, batch 3: one step after the step-8 checkpoint
                os.kill(os.getpid(), signal.SIGKILL)

        _run({str(tmp_path / "run")!r}, on_step=kill_at_step_9)
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    pointer = json.loads((tmp_path / "run" / "latest.json").read_text())
    assert pointer == {"checkpoint": "ckpt-00000008"}  # intact despite the kill
    state = json.loads((tmp_path / "run" / "ckpt-00000008" / "state.json").read_text())
    assert (state["epoch"], state["batch"], state["global_step"]) == (1, 2, 8)

    resumed_model, resumed = _run(tmp_path / "run")
    reference_model, reference = _run(tmp_path / "reference")
    assert resumed["global_step"] == reference["global_step"] == 12
    assert len(resumed["history"]) == 2
    assert sorted(p.name for p in (tmp_path / "run").glob("ckpt-*")) == [
        "ckpt-00000010",  # the two newest are kept
        "ckpt-00000012",
    ]
    for mine, theirs in zip(resumed_model.variables, reference_model.variables, strict=True):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), atol=1e-6)
    np.testing.assert_allclose(
        resumed["history"][-1]["loss"], reference["history"][-1]["loss"], rtol=1e-6
    )
