"""MirroredStrategy over two logical CPU devices trains exactly like one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Logical devices must be configured before TensorFlow initialises its devices: a fresh process.
SCRIPT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, {tests!r})
import keras
from tiny_runs import tiny_config, toy_sentiment
from attention_lab.models.classifier import build_classifier
from attention_lab.training import Trainer, TrainingConfig

config = TrainingConfig(epochs=2, batch_size=8, learning_rate=3e-3, jit_compile={jit})
data = toy_sentiment(48)
keras.utils.set_random_seed(0)
initial = [v.numpy() for v in build_classifier("prebuilt", tiny_config()).variables]
curves = {{}}
for name, strategy in [
    ("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
    ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
]:
    with strategy.scope():
        model = build_classifier("prebuilt", tiny_config())
        for variable, value in zip(model.variables, initial):
            variable.assign(value)
    losses = []
    trainer = Trainer(model, config, {out!r} + "/" + name, strategy=strategy, progress=False,
                      on_step=lambda step, logs: losses.append(logs["loss"]))
    trainer.fit(data)
    curves[name] = {{"losses": losses, "replicas": strategy.num_replicas_in_sync,
                    "kernel": model.classifier.kernel.numpy().tolist()}}
print("RESULT" + json.dumps(curves))
"""


def test_mirrored_loss_curve_matches_one_device(tmp_path):
    script = SCRIPT.format(tests=str(TESTS), out=str(tmp_path), jit=False)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(s for s in done.stdout.splitlines() if s.startswith("RESULT"))
    curves = json.loads(line.removeprefix("RESULT"))
    one, mirrored = curves["one"], curves["mirrored"]
    assert (one["replicas"], mirrored["replicas"]) == (1, 2)
    assert len(one["losses"]) == len(mirrored["losses"]) == 12
    assert len(set(one["losses"])) == 12  # every step moved the running loss
    for a, b in zip(one["losses"], mirrored["losses"], strict=True):
        assert abs(a - b) <= 1e-5 * max(1.0, abs(a))
    flat_one = [x for row in one["kernel"] for x in row]
    flat_mirrored = [x for row in mirrored["kernel"] for x in row]
    assert max(abs(a - b) for a, b in zip(flat_one, flat_mirrored, strict=True)) <= 1e-5
