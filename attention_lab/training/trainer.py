"""Fine-tuning loop: AdamW, warm-up + linear decay, clipping, XLA, mixed precision, tf.distribute.

The chapter trains with ``model.fit(..., epochs=3)`` and Adam at 2e-5. This loop spells out
what ``fit`` hides and adds what fine-tuning needs at scale:

- **AdamW** (Loshchilov & Hutter, 2019) with weight decay 0.01, switched off for LayerNorm
  scales/offsets and every bias, as in BERT's own optimizer;
- **learning rate**: linear warm-up over the first 10% of steps, then linear decay to zero
  (:class:`~attention_lab.training.schedule.WarmupLinearDecay`);
- **gradient clipping** to a global norm of 1.0, applied to the gradient of the *whole* batch
  (after the replicas' gradients are summed);
- **XLA**: the forward and backward pass is one ``tf.function(jit_compile=True)``;
- **mixed precision**: the model's dtype policy (``mixed_bfloat16``/``mixed_float16``) runs
  matmuls in 16 bits while variables, softmax (see
  :func:`~attention_lab.layers.scaled_dot_product_attention`), LayerNorm and the loss stay
  float32; float16 adds dynamic loss scaling (``keras.optimizers.LossScaleOptimizer``);
- **tf.distribute**: each replica computes the gradient of its share of the batch,
  ``strategy.reduce`` sums them, and the optimizer updates the mirrored variables once.
  :func:`default_strategy` picks ``MirroredStrategy`` when several GPUs are visible; several
  machines use ``tf.distribute.MultiWorkerMirroredStrategy`` (set ``TF_CONFIG`` on each
  worker and pass the strategy in);
- **checkpoints** at the end of every epoch (and every ``checkpoint_every`` steps), written
  atomically; a run started again on the same folder resumes from the newest one and ends
  with the same number of steps as an uninterrupted run
  (:mod:`~attention_lab.training.checkpoints`);
- **early stopping** on the validation loss, keeping the best epoch's weights;
- a progress bar with the loss, accuracy and throughput in examples per second.

The loss is sparse softmax cross-entropy on the logits. The chapter's one-hot labels with
``BinaryCrossentropy(from_logits=True)`` on two outputs is the same objective for the
pre-built model; for its custom model (sigmoid before that loss) see
:class:`~attention_lab.models.classifier.BertCustomClassifier`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_write_text
from attention_lab.training import checkpoints
from attention_lab.training.data import EncodedDataset, length_sorted_batches, train_batches
from attention_lab.training.schedule import WarmupLinearDecay

# Parameters that BERT's optimizer does not decay: LayerNorm's gamma/beta and every bias.
NO_WEIGHT_DECAY = ("bias", "gamma", "beta")
BEST_WEIGHTS = "best.npz"


@dataclasses.dataclass
class TrainingConfig:
    """Hyper-parameters of one fine-tuning run (chapter section 5 defaults).

    Attributes:
        epochs: passes over the training set (chapter: 3).
        batch_size: global batch, split evenly over the replicas (chapter: 16).
        learning_rate: peak learning rate after warm-up (chapter: 2e-5).
        warmup_fraction: share of all steps spent warming up.
        weight_decay: AdamW's decoupled decay (not applied to LayerNorm and biases).
        clipnorm: largest global gradient norm; ``0`` disables clipping.
        jit_compile: compile the steps with XLA.
        early_stopping_patience: epochs without a better validation loss before stopping
            (``None``: never stop early).
        seed: seeds the epoch order (and, with it, which examples form each batch).
        checkpoint_every: also checkpoint every N steps inside an epoch (0: epoch ends only).
        keep_checkpoints: how many recent checkpoints to keep.
    """

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    jit_compile: bool = True
    early_stopping_patience: int | None = None
    seed: int = 42
    checkpoint_every: int = 0
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise AttentionLabError(
                f"epochs ({self.epochs}) and batch size ({self.batch_size}) must be positive"
            )
        if not self.learning_rate > 0:
            raise AttentionLabError(f"learning rate must be positive, got {self.learning_rate}")


def default_strategy() -> tf.distribute.Strategy:
    """``MirroredStrategy`` over every GPU when there are several, else the default strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()


def make_optimizer(model, config: TrainingConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """AdamW on the warm-up/decay schedule, with loss scaling under float16."""
    warmup = int(config.warmup_fraction * total_steps)
    schedule = WarmupLinearDecay(config.learning_rate, warmup, total_steps)
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=config.weight_decay,
        epsilon=1e-6,
        global_clipnorm=config.clipnorm or None,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    if model.dtype_policy.compute_dtype == "float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    return optimizer


def _to_tensors(features: dict[str, np.ndarray]) -> dict[str, tf.Tensor]:
    return {k: tf.constant(v) for k, v in features.items()}


class Trainer:
    """Fine-tunes a classifier on :class:`~attention_lab.training.data.EncodedDataset` s.

    Create the model inside ``strategy.scope()`` and pass the same strategy here. The
    trainable variables are read now: after freezing or unfreezing the encoder, create a new
    Trainer (the chapter recompiles).

    Args:
        model: a classifier returning logits ``(batch, num_labels)``.
        config: the :class:`TrainingConfig`.
        checkpoint_dir: where checkpoints go; a run on a folder that has them resumes.
        signature: what a checkpoint must match to be resumed (head, config, ...).
        strategy: a ``tf.distribute.Strategy`` (default: :func:`default_strategy`).
        progress: show a progress bar.
        on_step: called as ``on_step(global_step, logs)`` after every step.
    """

    def __init__(
        self,
        model: keras.Model,
        config: TrainingConfig,
        checkpoint_dir: str | Path,
        signature: dict | None = None,
        strategy: tf.distribute.Strategy | None = None,
        progress: bool = True,
        on_step: Callable[[int, dict], None] | None = None,
    ):
        self.model = model
        self.config = config
        self.checkpoint_dir = Path(checkpoint_dir)
        self.signature = dict(signature or {})
        self.signature.update(
            batch_size=config.batch_size,
            trainable=[checkpoints.variable_key(v) for v in model.trainable_variables],
        )
        self.strategy = strategy or default_strategy()
        self.progress = progress
        self.on_step = on_step
        replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % replicas:
            raise AttentionLabError(
                f"batch size {config.batch_size} does not split over {replicas} replicas; "
                f"use a multiple of {replicas}"
            )
        self._train_step = None
        self._predict_step = None
        self._traced = False

    # --- compiled steps -------------------------------------------------------------------

    def _build_steps(self, total_steps: int) -> None:
        model, config, strategy = self.model, self.config, self.strategy
        with strategy.scope():
            self.optimizer = make_optimizer(model, config, total_steps)
        optimizer = self.optimizer
        variables = model.trainable_variables
        global_batch = float(config.batch_size)

        @tf.function(jit_compile=config.jit_compile, reduce_retracing=True)
        def replica_gradients(features, labels):
            with tf.GradientTape() as tape:
                logits = tf.cast(model(features, training=True), tf.float32)  # (batch, labels)
                per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
                loss = tf.reduce_sum(per_example) / global_batch  # share of the global mean
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, variables)
            correct = tf.reduce_sum(
                tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
            )
            return loss, correct, grads

        def train_step(features, labels):
            loss, correct, grads = strategy.run(replica_gradients, args=(features, labels))
            loss = strategy.reduce("SUM", loss, axis=None)
            correct = strategy.reduce("SUM", correct, axis=None)
            grads = [strategy.reduce("SUM", g, axis=None) for g in grads]  # whole-batch gradient
            optimizer.apply(grads, variables)  # clips the global norm, then updates
            return loss, correct

        self._train_step = tf.function(train_step)

        @tf.function(jit_compile=config.jit_compile, reduce_retracing=True)
        def predict_step(features):
            return tf.cast(model(features, training=False), tf.float32)

        self._predict_step = predict_step

    def _distribute(self, features, labels):
        if self.strategy.num_replicas_in_sync == 1:
            return _to_tensors(features), tf.constant(labels)
        dataset = tf.data.Dataset.from_tensors((features, labels))
        return next(iter(self.strategy.experimental_distribute_dataset(dataset)))

    # --- evaluation -----------------------------------------------------------------------

    def predict_logits(self, data: EncodedDataset, batch_size: int | None = None) -> np.ndarray:
        """Logits ``(n, num_labels)`` in the order of ``data``."""
        if self._predict_step is None:
            raise AttentionLabError("call fit() first, or use attention_lab.training.predict")
        return predict_logits(
            self.model, data, batch_size or self.config.batch_size, step=self._predict_step
        )

    def evaluate(self, data: EncodedDataset) -> dict[str, float]:
        logits = self.predict_logits(data)
        return loss_and_accuracy(logits, data.labels)

    # --- the loop -------------------------------------------------------------------------

    def fit(self, train: EncodedDataset, validation: EncodedDataset | None = None) -> dict:
        """Train (or resume) to ``config.epochs``; return the record written to ``history.json``.

        Returns a dict with ``history`` (one entry per epoch), ``global_step``,
        ``stopped_early``, ``train_seconds`` and ``examples_per_second``.
        """
        config = self.config
        num_labels = int(self.model.config.num_labels)
        train.check(num_labels, "training set")
        if validation is not None:
            validation.check(num_labels, "validation set")
        steps_per_epoch = len(train) // config.batch_size
        if steps_per_epoch == 0:
            raise AttentionLabError(
                f"{len(train)} training examples make no full batch of {config.batch_size}; "
                "pass more data or a smaller --batch-size"
            )
        total_steps = steps_per_epoch * config.epochs
        self._build_steps(total_steps)
        self.signature.update(steps_per_epoch=steps_per_epoch, epochs=config.epochs)

        state = {
            "epoch": 0,
            "batch": 0,
            "global_step": 0,
            "history": [],
            "best_val_loss": None,
            "epochs_without_improvement": 0,
            "stopped_early": False,
            "train_seconds": 0.0,
            "train_examples": 0,
            "signature": self.signature,
        }
        latest = checkpoints.latest_checkpoint(self.checkpoint_dir)
        if latest is not None:
            checkpoints.check_signature(
                checkpoints.read_state(latest)["signature"], self.signature, str(latest)
            )
            state = checkpoints.restore_checkpoint(latest, self.model, self.optimizer)
            print(
                f"resuming from {latest} (epoch {state['epoch'] + 1}, batch {state['batch']}, "
                f"step {state['global_step']})",
                flush=True,
            )

        while state["epoch"] < config.epochs and not state["stopped_early"]:
            self._run_epoch(state, train, steps_per_epoch)
            epoch_logs = state.pop("epoch_logs")
            if validation is not None:
                epoch_logs.update({f"val_{k}": v for k, v in self.evaluate(validation).items()})
            print(_format_epoch(state["epoch"] + 1, config.epochs, epoch_logs), flush=True)
            if validation is not None:
                self._early_stopping(state, epoch_logs["val_loss"])
            state["history"].append(epoch_logs)
            state["epoch"] += 1
            state["batch"] = 0
            checkpoints.save_checkpoint(
                self.checkpoint_dir, self.model, self.optimizer, state, config.keep_checkpoints
            )

        best = self.checkpoint_dir / BEST_WEIGHTS
        if validation is not None and best.is_file():
            with np.load(best) as arrays:
                checkpoints.assign_arrays(self.model.variables, dict(arrays), str(best))
        seconds = state["train_seconds"]
        return {
            "history": state["history"],
            "global_step": state["global_step"],
            "steps_per_epoch": steps_per_epoch,
            "stopped_early": state["stopped_early"],
            "train_seconds": seconds,
            "train_examples": state["train_examples"],
            "compile_seconds": state.get("compile_seconds"),
            "examples_per_second": state["train_examples"] / seconds if seconds else None,
        }

    def _run_epoch(self, state: dict, train: EncodedDataset, steps_per_epoch: int) -> None:
        from tqdm.auto import tqdm

        config = self.config
        epoch = state["epoch"]
        logs_sum = state.setdefault("partial", {"loss": 0.0, "correct": 0.0, "examples": 0})
        bar = tqdm(
            total=steps_per_epoch,
            initial=state["batch"],
            desc=f"epoch {epoch + 1}/{config.epochs}",
            unit="step",
            disable=not self.progress,
            mininterval=2.0,
        )
        started, counted = time.perf_counter(), 0
        for features, labels in train_batches(
            train, config.batch_size, epoch, config.seed, start=state["batch"]
        ):
            loss, correct = self._train_step(*self._distribute(features, labels))
            loss = float(loss)
            if not self._traced:  # the first step traces and compiles: timed apart
                self._traced = True
                state["compile_seconds"] = time.perf_counter() - started
                started = time.perf_counter()
                counted = -len(labels)
            if not math.isfinite(loss):
                raise AttentionLabError(
                    f"the loss became {loss} at step {state['global_step'] + 1}; lower the "
                    "learning rate or use --precision float32"
                )
            state["batch"] += 1
            state["global_step"] += 1
            counted += len(labels)
            logs_sum["loss"] += loss * len(labels)
            logs_sum["correct"] += float(correct)
            logs_sum["examples"] += len(labels)
            elapsed = time.perf_counter() - started
            logs = {
                "loss": logs_sum["loss"] / logs_sum["examples"],
                "accuracy": logs_sum["correct"] / logs_sum["examples"],
                "examples_per_second": counted / elapsed,
            }
            bar.set_postfix(
                loss=f"{logs['loss']:.4f}",
                acc=f"{logs['accuracy']:.4f}",
                ex_s=f"{logs['examples_per_second']:.1f}",
                refresh=False,
            )
            bar.update(1)
            if self.on_step is not None:
                self.on_step(state["global_step"], logs)
            every = config.checkpoint_every
            if every and state["global_step"] % every == 0 and state["batch"] < steps_per_epoch:
                self._account_time(state, started, counted)
                started, counted = time.perf_counter(), 0
                checkpoints.save_checkpoint(
                    self.checkpoint_dir,
                    self.model,
                    self.optimizer,
                    state,
                    config.keep_checkpoints,
                )
        bar.close()
        self._account_time(state, started, counted)
        partial = state.pop("partial")
        state["epoch_logs"] = {
            "epoch": epoch + 1,
            "loss": partial["loss"] / max(partial["examples"], 1),
            "accuracy": partial["correct"] / max(partial["examples"], 1),
            "train_seconds": state["train_seconds"],
        }

    @staticmethod
    def _account_time(state: dict, started: float, counted: int) -> None:
        state["train_seconds"] += time.perf_counter() - started
        state["train_examples"] += counted

    def _early_stopping(self, state: dict, val_loss: float) -> None:
        best = state["best_val_loss"]
        if best is None or val_loss < best:
            state["best_val_loss"] = val_loss
            state["epochs_without_improvement"] = 0
            arrays = checkpoints.variables_to_arrays(self.model.variables)
            path = self.checkpoint_dir / BEST_WEIGHTS
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(path)
            return
        state["epochs_without_improvement"] += 1
        patience = self.config.early_stopping_patience
        if patience is not None and state["epochs_without_improvement"] >= patience:
            state["stopped_early"] = True
            print(f"early stopping: no better validation loss for {patience} epoch(s)")


def _format_epoch(epoch: int, epochs: int, logs: dict) -> str:
    parts = [f"epoch {epoch}/{epochs}"]
    parts += [f"{k}={v:.4f}" for k, v in logs.items() if k not in ("epoch", "train_seconds")]
    return "  ".join(parts)


def loss_and_accuracy(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``logits`` against integer ``labels``."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(labels)), labels].mean()
    accuracy = (logits.argmax(axis=1) == labels).mean()
    return {"loss": float(loss), "accuracy": float(accuracy)}


def predict_logits(
    model: keras.Model,
    data: EncodedDataset,
    batch_size: int = 64,
    jit_compile: bool = False,
    step=None,
    progress: bool = False,
) -> np.ndarray:
    """Logits of ``model`` for every example, batched by length (see ``length_sorted_batches``)."""
    from tqdm.auto import tqdm

    if step is None:
        step = tf.function(
            lambda f: tf.cast(model(f, training=False), tf.float32),
            jit_compile=jit_compile,
            reduce_retracing=True,
        )
    out = np.zeros((len(data), int(model.config.num_labels)), dtype=np.float32)
    bar = tqdm(total=len(data), unit="ex", disable=not progress, mininterval=5.0, desc="predict")
    for rows, features in length_sorted_batches(data, batch_size):
        out[rows] = np.asarray(step(_to_tensors(features)))[: len(rows)]
        bar.update(len(rows))
    bar.close()
    return out


def write_json(path: Path, record: dict) -> None:
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")
