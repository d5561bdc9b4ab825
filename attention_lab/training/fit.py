"""Fine-tuning a BERT classifier with Keras's own ``compile`` and ``fit`` (chapter sections 5-6).

The chapter trains with ``model.compile(optimizer=Adam(2e-5), loss=BinaryCrossentropy(
from_logits=True), metrics=["accuracy"])`` and ``model.fit(train, validation_data=val,
epochs=3)``. :func:`fit_classifier` is that call, with what fine-tuning at scale adds:

- the loss on the logits: sparse softmax cross-entropy on labels 0/1, the same objective as
  the chapter's one-hot ``BinaryCrossentropy(from_logits=True)`` on two outputs (for the
  chapter's custom head, which puts a sigmoid before that loss, see
  :class:`~attention_lab.models.bert.BertCustomClassifier`);
- AdamW on a warm-up + linear-decay schedule with clipping (:mod:`.optimization`);
- XLA (``jit_compile``) and mixed precision (the model's dtype policy; Keras adds loss scaling
  for float16), as :mod:`attention_lab.runtime` chooses;
- ``tf.distribute``: build and compile the model inside ``strategy.scope()`` (several GPUs:
  ``MirroredStrategy``; several machines: ``MultiWorkerMirroredStrategy`` with ``TF_CONFIG``),
  and ``fit`` splits every batch over the replicas;
- resuming at the exact step after a kill, keeping the best epoch and early stopping, all
  surviving the process (:mod:`.callbacks`); the progress bar shows examples/s.
"""

from __future__ import annotations

import dataclasses

import keras

from attention_lab.errors import AttentionLabError
from attention_lab.training.callbacks import TrainingCheckpoint
from attention_lab.training.data import EncodedDataset, InferenceBatches, TrainingStream
from attention_lab.training.optimization import adamw
from attention_lab.training.preflight import check_data, check_training_config


@dataclasses.dataclass
class TrainingConfig:
    """Hyper-parameters of one fine-tuning run (chapter section 5 defaults).

    Attributes:
        epochs: passes over the training set (chapter: 3).
        batch_size: global batch, split evenly over the replicas (chapter: 16).
        learning_rate: peak learning rate after warm-up (chapter: 2e-5); ``None`` lets
            :func:`~attention_lab.training.finetune.finetune` choose it for the model
            (:func:`~attention_lab.training.optimization.default_learning_rate`).
        warmup_fraction: share of all steps spent warming up, in [0, 1).
        weight_decay: AdamW's decoupled decay (not applied to LayerNorm and biases).
        clipnorm: largest global gradient norm; ``0`` disables clipping.
        early_stopping_patience: epochs without a better ``keep_best`` figure before stopping
            (``None``: never stop early).
        keep_best: which epoch's weights the run ends with: the highest validation
            ``"accuracy"`` (the figure a classifier is judged by) or the lowest validation
            ``"loss"`` (Keras's ``ModelCheckpoint`` default). On IMDb the loss often rises in
            the second epoch while the accuracy still improves, as the model grows confident.
        seed: seeds the head's initial weights, dropout and the order of the batches.
        checkpoint_every: also back up every N steps inside an epoch (0: at epoch ends only).
        bucket_by_length: batch reviews of similar length, padded only to the longest.
    """

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float | None = 2e-5
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    early_stopping_patience: int | None = None
    keep_best: str = "accuracy"
    seed: int = 42
    checkpoint_every: int = 0
    bucket_by_length: bool = False

    def __post_init__(self) -> None:
        check_training_config(self)  # each value in its range, named by its option


def compile_classifier(model, training: TrainingConfig, total_steps: int, jit_compile: bool):
    """The chapter's ``model.compile``, on logits, with AdamW and the schedule."""
    model.compile(
        optimizer=adamw(
            training.learning_rate,
            total_steps,
            training.warmup_fraction,
            training.weight_decay,
            training.clipnorm,
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    # Keras would create AdamW's moments inside the first traced step, and TensorFlow traces a
    # step that creates variables twice: created here, the step is traced once.
    model.optimizer.build(model.trainable_variables)


def fit_classifier(
    model,
    train: EncodedDataset,
    validation: EncodedDataset | None,
    checkpoint_dir,
    training: TrainingConfig,
    jit_compile: bool = False,
    signature: dict | None = None,
    progress: bool = True,
    callbacks=(),
) -> dict:
    """Train ``model`` (a built classifier returning logits) to ``training.epochs``, or resume.

    A ``checkpoint_dir`` that holds a backup resumes from its step; a backup written for
    another ``signature`` is refused. With ``validation``, the best epoch's weights (by
    ``training.keep_best``) are in ``model`` at the end. Returns the training record: ``history``
    (one entry per epoch), ``steps``, ``best_epoch``, ``stopped_early``, ``train_seconds``,
    ``examples_per_second`` and ``compile_seconds``.
    """
    if training.learning_rate is None:
        raise AttentionLabError("fit_classifier needs a learning rate; pass one in TrainingConfig")
    check_data(model.config, train, validation, training.batch_size)
    spe = len(train) // training.batch_size  # full batches only: one shape per compiled step
    compile_classifier(model, training, spe * training.epochs, jit_compile)
    settings = {"steps_per_epoch": spe, "epochs": training.epochs, "keep_best": training.keep_best}
    backup = TrainingCheckpoint(checkpoint_dir, spe, training, {**(signature or {}), **settings})
    state = backup.restore(model)
    if state.step:
        print(f"resuming from step {state.step} (epoch {len(state.history) + 1})", flush=True)
    val = None if validation is None else InferenceBatches(validation, 64).for_fit()

    def run(first_epoch: int, epochs: int, steps: int) -> None:
        stream = TrainingStream(
            train, training.batch_size, training.seed, backup.state.step, training.bucket_by_length
        )
        model.fit(
            stream.for_fit(),
            initial_epoch=first_epoch,
            epochs=epochs,
            steps_per_epoch=steps,
            validation_data=val,
            callbacks=[backup, *callbacks],
            shuffle=False,  # the stream shuffles each epoch itself, seeded
            verbose=1 if progress else 2,
        )

    epoch, position = divmod(state.step, spe)
    if position and not state.stopped_early:  # first the steps an interrupted epoch had left
        run(epoch, epoch + 1, spe - position)
        epoch += 1
    if epoch < training.epochs and not backup.state.stopped_early:
        run(epoch, training.epochs, spe)
    best = validation is not None and backup.load_best(model)
    state = backup.state
    return {
        "history": state.history,
        "steps": state.step,
        "steps_per_epoch": spe,
        "best_epoch": state.best_epoch if best else None,
        "stopped_early": state.stopped_early,
        "train_seconds": state.train_seconds,
        "train_examples": state.train_examples,
        "examples_per_second": (
            state.train_examples / state.train_seconds if state.train_seconds else None
        ),
        "compile_seconds": state.compile_seconds,
    }
