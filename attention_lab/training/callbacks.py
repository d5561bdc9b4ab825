"""What ``model.fit`` needs beyond Keras's own callbacks to fine-tune safely: resume at any step.

Keras has ``BackupAndRestore`` (resume after an interruption), ``ModelCheckpoint`` (keep the
best weights) and ``EarlyStopping``. For runs that are killed (a session that ends, an
out-of-memory kill) they fall short in three ways: their files are written in place, so a kill
during the write leaves a damaged backup; ``BackupAndRestore`` restarts an interrupted epoch
from its first batch, so a resumed run trains on some batches twice; and the best epoch and
the early-stopping count live in memory and are lost with the process.

:class:`TrainingCheckpoint` keeps all of it on disk, in ``CHECKPOINTS/``:

    state.json            the training state: global step, finished epochs and their logs, the
                          unfinished epoch's running sums, the best epoch and its validation
                          figure, epochs without improvement, training time, the dropout seeds,
                          and the name of the weights file that goes with it
    step-<N>.weights.h5   model and optimizer variables after step N (``model.save_weights``)
    best.weights.h5       the weights of the best epoch: highest validation accuracy, or lowest
                          validation loss (``keep_best``)

Every file is written under a temporary name and renamed; ``state.json`` is replaced last and
names its weights file, so a kill at any instant leaves the previous state whole. A new run
calls :meth:`TrainingCheckpoint.restore` before ``fit`` and is told the step to continue
from; with the batches of :class:`~attention_lab.training.data.TrainingStream` it then takes
exactly the steps an uninterrupted run would have taken.

:class:`ResumableEarlyStopping` is Keras's ``EarlyStopping`` started from the saved count.
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

STATE = "state.json"
BEST = "best.weights.h5"

# What "the best epoch" means: the validation log it is judged by, and whether more is better.
KEEP_BEST = {"accuracy": ("val_accuracy", "max"), "loss": ("val_loss", "min")}


def improves(value: float, best: float | None, keep_best: str) -> bool:
    """Whether an epoch's validation ``value`` beats the ``best`` so far (ties keep the first)."""
    if best is None:
        return True
    return value > best if KEEP_BEST[keep_best][1] == "max" else value < best


@dataclass
class TrainingState:
    """Where a run stands; everything in it survives a kill (``state.json``)."""

    step: int = 0
    history: list[dict] = field(default_factory=list)  # one entry per finished epoch
    partial: dict = field(default_factory=dict)  # running sums of the unfinished epoch
    keep_best: str = "accuracy"  # the figure best_value is
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

    @property
    def epoch(self) -> int:
        """Epochs finished so far (the 0-based index of the current one)."""
        return len(self.history)


def _seed_variables(model) -> list:
    """The dropout layers' random-seed states: ``model.variables`` has them, weights files not."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class TrainingCheckpoint(keras.callbacks.Callback):
    """Atomic, step-exact backups of a ``fit`` run, its best epoch and its epoch logs.

    Args:
        directory: the ``checkpoints/`` folder of the run.
        steps_per_epoch: batches per epoch (to tell a finished epoch from an unfinished one).
        batch_size: examples per step (for examples/s).
        every_steps: also back up every this many steps inside an epoch (0: at epoch ends).
        keep_best: keep the epoch with the highest validation ``"accuracy"`` or the lowest
            validation ``"loss"`` (Keras's ``ModelCheckpoint`` default).
        signature: what a resumed run must match (model, data, settings); a difference is
            refused, naming it.
    """

    def __init__(
        self,
        directory: str | Path,
        steps_per_epoch: int,
        batch_size: int,
        every_steps: int = 0,
        keep_best: str = "accuracy",
        signature: dict | None = None,
    ):
        super().__init__()
        self.directory = Path(directory)
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.every_steps = every_steps
        self.keep_best = keep_best
        self.state = TrainingState(keep_best=keep_best, signature=dict(signature or {}))
        self._batches_this_fit = 0
        self._last = None
        self._current_sums = {"batches": 0}
        self._carried = {}  # the unfinished epoch's sums from the process that was killed

    # --- reading ------------------------------------------------------------------------

    def saved_state(self) -> TrainingState | None:
        path = self.directory / STATE
        if not path.is_file():
            return None
        try:
            return TrainingState(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as err:
            raise CheckpointError(
                f"{path} is not a training state this version reads ({type(err).__name__}); "
                "move the run folder away and train again"
            ) from None

    def restore(self, model) -> TrainingState:
        """Load the newest backup into ``model`` (and its compiled optimizer); return the state.

        A fresh folder gives a fresh state. A backup written for other settings is refused.
        """
        saved = self.saved_state()
        if saved is None:
            return self.state
        if saved.keep_best != self.keep_best:
            raise CheckpointError(
                f"{self.directory} keeps the best epoch by validation {saved.keep_best}, this run "
                f"by {self.keep_best}; pass --keep-best {saved.keep_best} to resume it, or a new "
                "--out folder"
            )
        for key, value in saved.signature.items():  # what the backup was written for
            if self.state.signature.get(key) != value:
                raise CheckpointError(
                    f"{self.directory} was written for {key}={value!r}, this run has "
                    f"{key}={self.state.signature.get(key)!r}; pass the original settings to "
                    "resume, or a new --out folder"
                )
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
        self.state = saved
        self._carried = dict(saved.partial)
        return saved

    # --- writing ------------------------------------------------------------------------

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

    # --- fit's events -------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._batches_this_fit = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._batches_this_fit == 0 and self.state.compile_seconds is None:
            self.state.compile_seconds = now - self._last  # the first step traces: apart
        elif self._batches_this_fit > 0:
            self.state.train_seconds += now - self._last
            self.state.train_examples += self.batch_size
        self._batches_this_fit += 1
        self.state.step += 1
        if logs is not None and self.state.train_seconds:  # the progress bar shows examples/s
            logs["examples_per_second"] = self.state.train_examples / self.state.train_seconds
        logs = logs or {}
        loss = float(logs.get("loss", 0.0))
        if not math.isfinite(loss):
            raise AttentionLabError(
                f"the loss became {loss} at step {self.state.step}; nothing of this step was "
                "saved. Lower --learning-rate, or train in --precision float32"
            )
        sums = self._epoch_sums(logs, batch + 1)
        due = self.every_steps and self.state.step % self.every_steps == 0
        if due and self.state.step % self.steps_per_epoch:  # epoch ends save with their logs
            self.state.partial = sums
            self._save()

    def _epoch_sums(self, logs: dict, batches_this_epoch: int) -> dict:
        """Running sums of this epoch's loss and accuracy, including a previous process's."""
        before = self._carried
        sums = {"batches": before.get("batches", 0) + batches_this_epoch}
        for key in ("loss", "accuracy"):
            if key in logs:
                sums[key] = before.get(key, 0.0) + float(logs[key]) * batches_this_epoch
        self._current_sums = sums
        return sums

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        sums = self._current_sums
        entry = {"epoch": epoch + 1}
        for key in ("loss", "accuracy"):
            if key in sums and sums["batches"]:
                entry[key] = sums[key] / sums["batches"]
        entry.update({k: v for k, v in logs.items() if k.startswith("val_")})
        entry["train_seconds"] = self.state.train_seconds
        self.state.history.append(entry)
        self.state.partial, self._carried = {}, {}
        self._current_sums = {"batches": 0}
        value = entry.get(KEEP_BEST[self.keep_best][0])
        if value is not None:
            if improves(value, self.state.best_value, self.keep_best):
                self.state.best_value, self.state.best_epoch = value, epoch + 1
                self.state.epochs_without_improvement = 0
                with atomic_file(self.directory / BEST) as tmp:
                    self.model.save_weights(tmp)
            else:
                self.state.epochs_without_improvement += 1
        self._save()

    def on_train_end(self, logs=None):
        if self.model.stop_training and not self.state.stopped_early:
            self.state.stopped_early = True
            self._save()

    def load_best(self, model) -> bool:
        """Put the best epoch's weights into ``model``; False when no epoch was validated."""
        if not (self.directory / BEST).is_file():
            return False
        model.load_weights(self.directory / BEST)
        return True


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's ``EarlyStopping`` on the figure the best epoch is kept by, started from a resumed
    run's count."""

    def __init__(self, patience: int, state: TrainingState, keep_best: str = "accuracy"):
        monitor, mode = KEEP_BEST[keep_best]
        super().__init__(monitor=monitor, patience=patience, mode=mode)
        self.resumed = state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.resumed.best_value is not None:
            self.best = self.resumed.best_value
            self.wait = self.resumed.epochs_without_improvement
