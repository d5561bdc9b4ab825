"""What ``model.fit`` needs beyond Keras's own callbacks to fine-tune safely: resume at any step.

Keras has ``BackupAndRestore`` (resume after an interruption), ``ModelCheckpoint`` (keep the
best weights) and ``EarlyStopping``. For runs that are killed (a session that ends, an
out-of-memory kill) they fall short in three ways: their files are written in place, so a kill
during the write leaves a damaged backup; ``BackupAndRestore`` restarts an interrupted epoch
from its first batch, so a resumed run trains on some batches twice; and the best epoch and
the early-stopping count live in memory and are lost with the process.

:class:`TrainingCheckpoint` does the three jobs and keeps all of it on disk, in
``CHECKPOINTS/``:

    state.json            the training state: global step, finished epochs and their logs, the
                          unfinished epoch's running sums, the best epoch and its validation
                          figure, epochs without improvement, training time, the dropout seeds,
                          the settings it was written for, and the name of its weights file
    step-<N>.weights.h5   model and optimizer variables after step N (``model.save_weights``)
    best.weights.h5       the weights of the best epoch: highest validation accuracy, or lowest
                          validation loss (``keep_best``)

Every file is written under a temporary name and renamed; ``state.json`` is replaced last and
names its weights file, so a kill at any instant leaves the previous state whole. The decision
to stop early is taken at the epoch's end and saved with it, as Keras's ``EarlyStopping``
takes it (``patience`` epochs in a row without a better figure; a tie is no improvement). A
new run calls :meth:`TrainingCheckpoint.restore` before ``fit`` and is told the step to
continue from; with the batches of :class:`~attention_lab.training.data.TrainingStream` it
then takes exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.io import atomic_file, atomic_write_json
from attention_lab.training.run_checks import check_same_signature

STATE = "state.json"
BEST = "best.weights.h5"

# What "the best epoch" means: the validation log it is judged by, and whether more is better.
KEEP_BEST = {"accuracy": ("val_accuracy", "max"), "loss": ("val_loss", "min")}


@dataclass
class TrainingState:
    """Where a run stands; everything in it survives a kill (``state.json``)."""

    step: int = 0
    history: list[dict] = field(default_factory=list)  # one entry per finished epoch
    partial: dict = field(default_factory=dict)  # running sums of the unfinished epoch
    best_value: float | None = None  # the best epoch's validation accuracy or loss
    best_epoch: int | None = None
    epochs_without_improvement: int = 0
    stopped_early: bool = False
    train_seconds: float = 0.0
    train_examples: int = 0
    compile_seconds: float | None = None
    seeds: list[list[int]] = field(default_factory=list)
    weights: str | None = None
    signature: dict = field(default_factory=dict)


def _seed_variables(model) -> list:
    """The dropout layers' random-seed states: ``model.variables`` has them, weights files not."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class TrainingCheckpoint(keras.callbacks.Callback):
    """Atomic, step-exact backups of a ``fit`` run, its best epoch and early stopping.

    Args:
        directory: the ``checkpoints/`` folder of the run.
        steps_per_epoch: batches per epoch (to tell a finished epoch from an unfinished one).
        training: the run's :class:`~attention_lab.training.fit.TrainingConfig`: examples per
            step (for examples/s), ``checkpoint_every`` (also back up every this many steps
            inside an epoch), ``keep_best`` (the epoch with the highest validation
            ``"accuracy"`` or the lowest validation ``"loss"``) and
            ``early_stopping_patience`` (stop after this many epochs without a better figure).
        signature: what a resumed run must match (model, data, settings); a difference is
            refused, naming it.
    """

    def __init__(self, directory: str | Path, steps_per_epoch: int, training, signature: dict):
        super().__init__()
        self.directory, self.training = Path(directory), training
        self.steps_per_epoch = steps_per_epoch
        self.state = TrainingState(signature=signature)
        self._carried = {}  # the unfinished epoch's sums from the process that was killed
        self._batches_this_fit, self._last = 0, None

    def restore(self, model) -> TrainingState:
        """Load the newest backup into ``model`` (and its compiled optimizer); return the state.

        A fresh folder gives a fresh state. A backup written for other settings is refused.
        """
        path = self.directory / STATE
        if not path.is_file():
            return self.state
        try:
            saved = TrainingState(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as err:
            raise CheckpointError(
                f"{path} is not a training state this version reads ({type(err).__name__}); "
                "move the run folder away and train again"
            ) from None
        check_same_signature(self.directory, saved.signature, self.state.signature)
        if saved.weights:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            try:
                model.load_weights(self.directory / saved.weights)
            except (OSError, ValueError, KeyError) as err:
                raise CheckpointError(
                    f"{self.directory / saved.weights} cannot be loaded ({err}); it was written "
                    "for another model. Pass a new --out folder"
                ) from None
            for variable, value in zip(_seed_variables(model), saved.seeds, strict=False):
                variable.assign(np.asarray(value, dtype=variable.dtype))
        self.state, self._carried = saved, dict(saved.partial)
        return saved

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"step-{self.state.step:08d}.weights.h5"
        with atomic_file(self.directory / name) as tmp:
            self.model.save_weights(tmp)
        self.state.weights = name
        self.state.seeds = [np.asarray(v).tolist() for v in _seed_variables(self.model)]
        atomic_write_json(self.directory / STATE, asdict(self.state))
        for old in self.directory.glob("step-*.weights.h5"):
            if old.name != name:
                old.unlink()

    def on_train_begin(self, logs=None):
        self._batches_this_fit = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        state, elapsed = self.state, time.perf_counter() - self._last
        if self._batches_this_fit:
            state.train_seconds += elapsed
            state.train_examples += self.training.batch_size
        elif state.compile_seconds is None:
            state.compile_seconds = elapsed  # the first step traces and compiles: timed apart
        self._batches_this_fit += 1
        state.step += 1
        logs = {} if logs is None else logs
        if state.train_seconds:  # the same logs object: the progress bar shows examples/s
            logs["examples_per_second"] = state.train_examples / state.train_seconds
        loss = float(logs.get("loss", 0.0))
        if not math.isfinite(loss):
            raise AttentionLabError(
                f"the loss became {loss} at step {state.step}; nothing of this step was "
                "saved. Lower --learning-rate, or train in --precision float32"
            )
        # Keras logs this fit's running means: add a killed process's sums of the same epoch
        done = batch + 1
        state.partial = {"batches": self._carried.get("batches", 0) + done}
        for key in ("loss", "accuracy"):
            if key in logs:
                state.partial[key] = self._carried.get(key, 0.0) + float(logs[key]) * done
        every = self.training.checkpoint_every
        due = every and state.step % every == 0
        if due and state.step % self.steps_per_epoch:  # epoch ends save with their logs
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        state, sums = self.state, self.state.partial
        entry = {"epoch": epoch + 1}
        entry.update({k: sums[k] / sums["batches"] for k in ("loss", "accuracy") if k in sums})
        entry.update({k: float(v) for k, v in (logs or {}).items() if k.startswith("val_")})
        entry["train_seconds"] = state.train_seconds
        state.history.append(entry)
        state.partial, self._carried = {}, {}
        monitor, mode = KEEP_BEST[self.training.keep_best]
        value, best = entry.get(monitor), state.best_value
        if value is not None:
            if best is None or (value > best if mode == "max" else value < best):
                state.best_value, state.best_epoch = value, epoch + 1
                state.epochs_without_improvement = 0
                with atomic_file(self.directory / BEST) as tmp:
                    self.model.save_weights(tmp)
            else:
                state.epochs_without_improvement += 1
            patience = self.training.early_stopping_patience
            if patience and state.epochs_without_improvement >= patience:
                state.stopped_early = self.model.stop_training = True
        self._save()

    def load_best(self, model) -> bool:
        """Put the best epoch's weights into ``model``; False when no epoch was validated."""
        if not (self.directory / BEST).is_file():
            return False
        model.load_weights(self.directory / BEST)
        return True
