"""Fine-tuning on model.fit: schedule, AdamW, split, batches, early stopping, the best epoch."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from tiny_runs import tiny_config, toy_sentiment

from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.models.bert import build_classifier
from attention_lab.training.adamw_fused import AdamW
from attention_lab.training.callbacks import TrainingCheckpoint
from attention_lab.training.data import (
    EncodedDataset,
    InferenceBatches,
    TrainingStream,
    padded_width,
    train_validation_split,
)
from attention_lab.training.evaluation import predict_logits
from attention_lab.training.fit import TrainingConfig, fit_classifier
from attention_lab.training.optimization import (
    WarmupLinearDecay,
    adamw,
    default_learning_rate,
)

FAST = dict(batch_size=8, learning_rate=3e-3, warmup_fraction=0.0)


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(2e-5, warmup_steps=10, total_steps=110)
    values = [float(schedule(step)) for step in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(values, [0.0, 1e-5, 2e-5, 1e-5, 0.0, 0.0], atol=1e-12)
    with pytest.raises(AttentionLabError, match=r"--warmup must be in \[0, 1\), got 1.0"):
        TrainingConfig(warmup_fraction=1.0)


def test_adamw_decays_weights_but_not_layernorm_or_biases():
    model = build_classifier("custom", tiny_config())
    optimizer = adamw(2e-5, total_steps=100)
    optimizer.build(model.trainable_variables)
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


def _variable_lengths(n: int, seed: int = 4) -> EncodedDataset:
    data = toy_sentiment(n, seq_len=40, seed=seed)
    lengths = np.random.default_rng(seed).integers(3, 41, size=n)
    mask = (np.arange(40)[None] < lengths[:, None]).astype(np.int32)
    data.features["attention_mask"] = mask
    data.features["input_ids"] *= mask
    return data


@pytest.mark.parametrize("bucket", [False, True])
def test_each_epoch_sees_every_example_once_in_a_seeded_order(bucket):
    data = _variable_lengths(70)
    data.features["token_type_ids"][:, 0] = np.arange(70)  # a row id to follow the rows
    stream = TrainingStream(data, batch_size=8, seed=3, bucket_by_length=bucket)
    assert stream.steps_per_epoch == 8 and stream.num_batches is None
    epochs = []
    for epoch in range(2):
        batches = [stream[epoch * 8 + b] for b in range(8)]
        ids = np.concatenate([f["token_type_ids"][:, 0] for f, _ in batches])
        assert len(ids) == 64 and len(set(ids)) == 64  # the remainder of 6 is left out
        for features, labels in batches:
            np.testing.assert_array_equal(labels, data.labels[features["token_type_ids"][:, 0]])
            width = features["input_ids"].shape[1]
            longest = features["attention_mask"].sum(axis=1).max()
            assert width == (padded_width(longest, 40) if bucket else 40)
        epochs.append(ids)
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch
    resumed = TrainingStream(data, batch_size=8, seed=3, start=11, bucket_by_length=bucket)
    np.testing.assert_array_equal(resumed[0][0]["input_ids"], stream[11][0]["input_ids"])
    if bucket:  # similar lengths share a batch: less padding than random batches
        padded = sum(f["input_ids"].size for f, _ in batches)
        assert padded < 64 * 40


def test_length_sorted_inference_equals_fully_padded_batches():
    data = _variable_lengths(37)
    model = build_classifier("prebuilt", tiny_config(max_position_embeddings=40))
    batches = InferenceBatches(data, batch_size=8)
    widths = {batches[i][0]["input_ids"].shape[1] for i in range(batches.num_batches)}
    assert len(widths) > 1 and max(widths) <= 40  # trimmed batches of several widths
    trimmed = predict_logits(model, data, batch_size=8)
    full = np.asarray(model(data.features, training=False))
    np.testing.assert_allclose(trimmed, full, atol=1e-5)


@pytest.mark.parametrize(("batch_size", "compiled"), [(64, False), (8, True)])
def test_one_batch_runs_as_it_is_and_several_are_traced_once(monkeypatch, batch_size, compiled):
    """A few texts (one batch) are not worth tracing a graph for; a data set is, once for its
    batches of every length and size. Both give the logits of the model called directly."""
    from attention_lab.runtime import Plan, choose_plan

    steps = []
    compile_fn = Plan.compile

    def compile_and_keep(plan, fn, example=None):
        steps.append(compile_fn(plan, fn, example))
        return steps[-1]

    monkeypatch.setattr(Plan, "compile", compile_and_keep)
    data = _variable_lengths(37)
    model = build_classifier("prebuilt", tiny_config(max_position_embeddings=40))
    logits = predict_logits(model, data, batch_size, plan=choose_plan("float32", "off"))
    assert bool(steps) == compiled
    if compiled:  # five batches, of several widths and two sizes: one graph for all
        assert steps[0].experimental_get_tracing_count() == 1
    full = np.asarray(model(data.features, training=False))
    np.testing.assert_allclose(logits, full, atol=1e-5)


def test_bad_labels_and_empty_data_are_refused(tmp_path):
    data = toy_sentiment(16)
    data.labels[5] = 2
    model = build_classifier("prebuilt", tiny_config())
    with pytest.raises(AttentionLabError, match="label 2 at index 5.*labels 0 … 1"):
        fit_classifier(model, data, None, tmp_path, TrainingConfig(**FAST), progress=False)
    empty = EncodedDataset({k: v[:0] for k, v in data.features.items()}, data.labels[:0])
    with pytest.raises(AttentionLabError, match="training set is empty"):
        fit_classifier(model, empty, None, tmp_path, TrainingConfig(**FAST), progress=False)
    assert not any(tmp_path.iterdir())
    with pytest.raises(AttentionLabError, match="no full batch of 8"):
        fit_classifier(model, toy_sentiment(5), None, tmp_path, TrainingConfig(**FAST))


def test_the_training_step_is_traced_once(tmp_path, monkeypatch):
    """AdamW's moments exist before the first step, so TensorFlow traces it once, not twice
    (a step that creates variables is traced again without them)."""
    model = build_classifier("prebuilt", tiny_config())
    traces = []
    step = model.train_step
    monkeypatch.setattr(model, "train_step", lambda data: traces.append(1) or step(data))
    config = TrainingConfig(**{**FAST, "epochs": 1})
    fit_classifier(model, toy_sentiment(16), None, tmp_path, config, progress=False)
    assert len(traces) == 1


def test_sequences_beyond_the_models_positions_are_refused_before_training(tmp_path):
    model = build_classifier("prebuilt", tiny_config(max_position_embeddings=8))
    with pytest.raises(AttentionLabError, match="12 positions.*max_position_embeddings=8"):
        fit_classifier(model, toy_sentiment(16), None, tmp_path, TrainingConfig(**FAST))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("keep_best", ["accuracy", "loss"])
def test_training_learns_in_bfloat16_stops_early_and_keeps_the_best_epoch(tmp_path, keep_best):
    keras.utils.set_random_seed(0)
    train = toy_sentiment(64, seed=1)
    validation = toy_sentiment(32, seed=2)
    validation.labels[:] = 1 - validation.labels  # the better it learns, the worse validation
    model = build_classifier("prebuilt", tiny_config(), dtype="mixed_bfloat16")
    config = TrainingConfig(
        epochs=6, early_stopping_patience=1, keep_best=keep_best, **{**FAST, "learning_rate": 1e-2}
    )
    result = fit_classifier(model, train, validation, tmp_path, config, progress=False)
    history = result["history"]
    assert history[-1]["loss"] < history[0]["loss"] - 0.02 and history[-1]["accuracy"] > 0.6
    assert result["stopped_early"] and len(history) < 6
    if keep_best == "loss":
        best = int(np.argmin([h["val_loss"] for h in history]))
    else:  # the first of equally accurate epochs
        best = int(np.argmax([h["val_accuracy"] for h in history]))
    assert result["best_epoch"] == best + 1
    logits = predict_logits(model, validation)  # the best epoch's weights are back in the model
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(validation.labels, logits)
    assert abs(float(loss) - history[best]["val_loss"]) < 2e-2  # bfloat16 steps, float32 here
    accuracy = np.mean(np.argmax(np.asarray(logits), -1) == validation.labels)
    assert abs(accuracy - history[best]["val_accuracy"]) <= 1 / 32
    assert result["steps"] == len(history) * 8 and result["examples_per_second"] > 0


@pytest.mark.parametrize(("keep_best", "kept", "wait"), [("accuracy", 2, 0), ("loss", 1, 1)])
def test_the_kept_epoch_follows_the_chosen_figure_when_loss_and_accuracy_disagree(
    tmp_path, keep_best, kept, wait
):
    model = build_classifier("prebuilt", tiny_config())
    training = TrainingConfig(keep_best=keep_best, early_stopping_patience=1)
    backup = TrainingCheckpoint(tmp_path, 1, training, {"keep_best": keep_best})
    backup.set_model(model)
    model.stop_training = False  # as fit sets it
    marked = model.weights[0]
    # IMDb's second epoch: more accurate, and more confident, so a higher loss; then a tie
    for epoch, logs in enumerate([{"val_loss": 0.28, "val_accuracy": 0.88},
                                  {"val_loss": 0.30, "val_accuracy": 0.90}]):  # fmt: skip
        marked.assign(np.full(marked.shape, epoch + 1.0))
        backup.on_train_batch_begin(0)
        backup.on_train_batch_end(0, {"loss": 0.5, "accuracy": 0.5})
        backup.on_epoch_end(epoch, dict(logs))
    state = backup.state
    assert state.best_epoch == kept and state.signature["keep_best"] == keep_best
    assert state.epochs_without_improvement == wait and model.stop_training == (wait == 1)
    assert backup.load_best(model) and np.all(np.asarray(marked) == kept)
    backup.on_train_batch_begin(0)
    backup.on_train_batch_end(0, {"loss": 0.5, "accuracy": 0.5})
    backup.on_epoch_end(2, {"val_loss": 0.28 if keep_best == "loss" else 0.30,
                            "val_accuracy": 0.90})  # fmt: skip
    assert state.best_epoch == kept and state.stopped_early  # a tie is no improvement
    with pytest.raises(AttentionLabError, match="--keep-best must be one of"):
        TrainingConfig(keep_best="f1")


def test_xla_compiled_steps_train_like_the_plain_graph(tmp_path):
    data = toy_sentiment(32, seed=3)
    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    initial = build_classifier("prebuilt", config).get_weights()
    losses = {}
    for jit in (False, True):  # the CPU default, then the GPU default
        model = build_classifier("prebuilt", config)
        model.set_weights(initial)
        training = TrainingConfig(epochs=2, **FAST)
        result = fit_classifier(
            model, data, None, tmp_path / str(jit), training, jit_compile=jit, progress=False
        )
        losses[jit] = [epoch["loss"] for epoch in result["history"]]
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)


def test_a_backup_from_other_settings_or_another_model_is_refused(tmp_path):
    data = toy_sentiment(16)
    config = TrainingConfig(epochs=1, **FAST)
    model = build_classifier("prebuilt", tiny_config())
    fit_classifier(model, data, None, tmp_path, config, signature={"head": "prebuilt"})
    with pytest.raises(CheckpointError, match="head='prebuilt'"):
        fit_classifier(model, data, None, tmp_path, config, signature={"head": "custom"})
    other = build_classifier("custom", tiny_config())
    with pytest.raises(CheckpointError, match="written for another model"):
        fit_classifier(other, data, None, tmp_path, config, signature={"head": "prebuilt"})


def test_a_diverging_loss_stops_with_a_clear_error(tmp_path):
    model = build_classifier("prebuilt", tiny_config())
    model.classifier.kernel.assign(np.full(model.classifier.kernel.shape, np.nan, np.float32))
    with pytest.raises(AttentionLabError, match="loss became nan at step 1"):
        fit_classifier(model, toy_sentiment(16), None, tmp_path, TrainingConfig(**FAST))


def test_the_default_learning_rate_suits_the_encoder_and_says_why():
    rate, why = default_learning_rate(768, freeze_encoder=False)
    assert rate == 2e-5 and "BERT-Base" in why
    rate, why = default_learning_rate(384, freeze_encoder=False)
    assert rate == 5e-5 and "sweep" in why
    rate, why = default_learning_rate(384, freeze_encoder=True)
    assert rate == 1e-3 and "frozen" in why
    with pytest.raises(AttentionLabError, match="needs a learning rate"):
        fit_classifier(
            build_classifier("prebuilt", tiny_config()),
            toy_sentiment(16),
            None,
            "unused",
            TrainingConfig(learning_rate=None),
        )


def test_the_fused_adam_step_equals_keras_adamw():
    data = toy_sentiment(16)
    initial = build_classifier("prebuilt", tiny_config()).get_weights()
    models = {}
    # Clipping (at a norm never reached) hands Keras's update dense gradients: on the
    # embedding's sparse one, Keras squares each row occurrence before summing repeated rows.
    clip = {"weight_decay": 0.01, "epsilon": 1e-6, "global_clipnorm": 1e9}
    for name, optimizer in (
        ("keras", keras.optimizers.AdamW(1e-2, **clip)),
        ("fused", AdamW(1e-2, **{**clip, "global_clipnorm": None})),
    ):
        model = build_classifier("prebuilt", tiny_config())
        model.set_weights(initial)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(True))
        for _ in range(3):  # embedding rows get sparse gradients; weight decay on kernels
            model.train_on_batch(data.features, data.labels)
        models[name] = model
    moved = 0
    for a, b in zip(models["keras"].weights, models["fused"].weights, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
        moved += 1
    assert moved > 20


FAULTS_AFTER_FROM_GENERATOR = """
import ctypes, resource
import tensorflow as tf
from attention_lab import backend

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def page_faults_of_freed_buffers(size=8 << 20):  # 8 MiB, as a step's activations are
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        buffer = libc.malloc(size)
        ctypes.memset(buffer, 1, size)
        libc.free(buffer)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

spec = tf.TensorSpec((), tf.int32)
for _ in tf.data.Dataset.from_generator(lambda: iter([0]), output_signature=spec):
    pass  # TensorFlow's own mallopt, as fit's first batch makes it
print(page_faults_of_freed_buffers(), end=" ")
backend.keep_freed_memory()
print(page_faults_of_freed_buffers())
"""


def _huge_pages_always() -> bool:
    """With transparent huge pages always on, an 8 MiB mapping faults in 2 MiB at a time, so
    the page counts below would not show the unmapping."""
    path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return path.is_file() and "[always]" in path.read_text()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc allocator setting")
@pytest.mark.skipif(_huge_pages_always(), reason="huge pages hide the 4 KiB page faults")
def test_freed_buffers_are_reused_after_tf_data_from_generator():
    # In a fresh process: once from_generator has run, every freed 8 MiB buffer is unmapped
    # and its 2,048 pages fault in again at the next use; after keep_freed_memory, reused.
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(
        [sys.executable, "-c", FAULTS_AFTER_FROM_GENERATOR],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    unmapped, reused = map(int, done.stdout.split())
    pages = 20 * 2048
    assert unmapped > pages / 2, done.stdout
    assert reused < pages / 4, done.stdout
