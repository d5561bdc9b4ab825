"""Train an encoder-decoder on a synthetic task, measure its exact match, keep it in a run folder
(chapter section 3, "Encoder-decoder networks" and "Attention").

Training is teacher-forced through ``model.fit`` with an XLA-compiled step
(``jit_compile=True``) and a cross-entropy that ignores padding; evaluation decodes greedily
and counts an example right only if the whole output string equals the target, overall and per
input-length bucket.

A run folder (``attention-lab seq2seq train --out DIR``) holds ``model.keras`` and
``training.json`` (task, settings, held-out exact match by length). It is written as a whole
through :func:`attention_lab.io.atomic_directory`, after training: a failed or interrupted run
leaves no folder, and an existing one is replaced only with ``overwrite=True`` and only if it
is a run folder itself.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from attention_lab.data.char_vocabulary import PAD
from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.io import atomic_directory, register_folder_file
from attention_lab.models.seq2seq import EncoderDecoder
from attention_lab.tasks.task import Seq2SeqTask

MODEL_FILE = "model.keras"
METADATA_FILE = "training.json"
register_folder_file(METADATA_FILE)  # a single output never lands beside it (attention_lab.io)
LENGTH_BUCKET = 5  # input lengths per row of the exact-match table
# What every training.json holds (more keys are kept as they are).
_RUN_KEYS = ("task", "attention", "settings", "exact_match", "exact_match_by_length")
_BUCKET_KEYS = ("first", "last", "examples", "exact_match")


@dataclass(frozen=True)
class TrainingSettings:
    """Hyperparameters of one training run; ``seed`` fixes the data and the initial weights."""

    epochs: int = 6
    n_train: int = 20_000
    batch_size: int = 64
    learning_rate: float = 3e-3
    embedding_dim: int = 32
    units: int = 64
    seed: int = 0


def build_model(
    task: Seq2SeqTask, use_attention: bool, settings: TrainingSettings
) -> EncoderDecoder:
    """An untrained, compiled model sized for ``task``."""
    keras.utils.set_random_seed(settings.seed)
    model = EncoderDecoder(
        task.source_alphabet,
        task.target_alphabet,
        task.max_source_len,
        task.max_target_len,
        embedding_dim=settings.embedding_dim,
        units=settings.units,
        use_attention=use_attention,
    )
    model.build()
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD),
        jit_compile=True,
    )
    return model


def fit(model: EncoderDecoder, task: Seq2SeqTask, pairs, settings: TrainingSettings, **kwargs):
    """Teacher-forced ``model.fit`` on ``pairs``, reshuffled every epoch; returns the history.

    Every batch has exactly ``batch_size`` examples, so XLA compiles the step for one shape
    only: the ``len(pairs) % batch_size`` examples left over by each epoch's shuffle wait for
    a later epoch.
    """
    batch_size = settings.batch_size
    if len(pairs) < batch_size:
        raise AttentionLabError(
            f"{len(pairs)} training examples make no batch of {batch_size}; "
            "train on more examples or use a smaller batch"
        )
    arrays = task.arrays(pairs)
    inputs = {"source": arrays["source"], "decoder_input": arrays["decoder_input"]}
    dataset = (
        tf.data.Dataset.from_tensor_slices((inputs, arrays["labels"]))
        .shuffle(len(pairs), seed=settings.seed)
        .batch(batch_size, drop_remainder=True)
    )
    # The dataset shuffles itself; Keras's own shuffle does not apply to a tf.data input.
    return model.fit(dataset, epochs=settings.epochs, shuffle=False, **kwargs)


def _right(model: EncoderDecoder, pairs) -> np.ndarray:
    translations = model.translate([source for source, _ in pairs])
    return np.array([t.text == target for t, (_, target) in zip(translations, pairs, strict=True)])


def exact_match(model: EncoderDecoder, pairs) -> float:
    """Fraction of ``pairs`` whose greedy translation equals the target exactly."""
    return float(np.mean(_right(model, pairs)))


def length_edges(task: Seq2SeqTask) -> list[int]:
    """Buckets of ``LENGTH_BUCKET`` input lengths from 5 up to the task's longest input."""
    return [*range(5, task.max_source_len + 1, LENGTH_BUCKET), task.max_source_len + 1]


def exact_match_by_length(model: EncoderDecoder, pairs, edges) -> list[tuple[int, int, int, float]]:
    """Exact match per source-length bucket ``edges[i] .. edges[i + 1] - 1``.

    Returns ``(first length, last length, examples, accuracy)`` per non-empty bucket.
    """
    right = _right(model, pairs)
    lengths = np.array([len(source) for source, _ in pairs])
    rows = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_bucket = (lengths >= low) & (lengths < high)
        if in_bucket.any():
            rows.append((low, high - 1, int(in_bucket.sum()), float(right[in_bucket].mean())))
    return rows


def is_seq2seq_run(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder this module wrote (its ``training.json`` and model)."""
    path = Path(path)
    try:
        metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(metadata, dict) and "task" in metadata and (path / MODEL_FILE).is_file()


def _ours_before_markers(path: Path) -> bool:
    """A run folder written before the ``.attention_lab`` marker: its ``training.json`` and a
    ``model.keras`` that is a Keras archive (a zip file), not just files of those names."""
    import zipfile

    return is_seq2seq_run(path) and zipfile.is_zipfile(Path(path) / MODEL_FILE)


def _write_run(model: EncoderDecoder, folder: Path, metadata: dict) -> None:
    model.save(folder / MODEL_FILE)
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def save_run(
    model: EncoderDecoder, out: str | os.PathLike, metadata: dict, overwrite: bool = False
) -> Path:
    """Write ``model.keras`` and ``training.json`` as one folder ``out``, atomically.

    An existing ``out`` is an error unless ``overwrite``; even then only a run folder (see
    :func:`is_seq2seq_run`) or an empty folder is replaced.
    """
    with atomic_directory(
        out, overwrite, is_ours=_ours_before_markers, writer="seq2seq train"
    ) as tmp:
        _write_run(model, tmp, metadata)
    return Path(out)


def train_run(
    task: Seq2SeqTask,
    use_attention: bool,
    settings: TrainingSettings,
    n_test: int,
    out: str | os.PathLike,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    verbose: int = 2,
) -> dict:
    """What ``attention-lab seq2seq train`` does: train, evaluate on held-out inputs, save.

    ``out`` is checked before anything is trained (an existing folder needs ``overwrite`` and
    must be a run folder) and written only when training and evaluation have finished.
    Returns the metadata written to ``training.json``.
    """
    with atomic_directory(
        out, overwrite, is_ours=_ours_before_markers, writer="seq2seq train"
    ) as tmp:
        train, test = task.split(settings.n_train, n_test, settings.seed)
        model = build_model(task, use_attention, settings)
        kind = "attention" if use_attention else "plain"
        log(
            f"{task.name}: {task.description}; {kind} encoder-decoder, "
            f"{model.count_params():,} parameters, {len(train):,} training examples"
        )
        start = time.perf_counter()
        history = fit(model, task, train, settings, verbose=verbose)
        train_seconds = time.perf_counter() - start
        by_length = exact_match_by_length(model, test, length_edges(task))
        metadata = {
            "task": task.name,
            "attention": use_attention,
            "settings": asdict(settings),
            "train_seconds": round(train_seconds, 1),
            "final_loss": float(history.history["loss"][-1]),
            "test_examples": len(test),
            "exact_match": sum(n * accuracy for _, _, n, accuracy in by_length) / len(test),
            "exact_match_by_length": [
                {"first": first, "last": last, "examples": n, "exact_match": accuracy}
                for first, last, n, accuracy in by_length
            ],
        }
        _write_run(model, tmp, metadata)
    return metadata


def _not_a_run(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(
        f"{path}: {problem}; not a seq2seq run folder. Write one with `attention-lab seq2seq "
        "train --out DIR`"
    )


def read_run_metadata(path: str | os.PathLike) -> dict:
    """The ``training.json`` of a run folder: task, settings and held-out exact match."""
    path = Path(path)
    for name in (MODEL_FILE, METADATA_FILE):
        if not (path / name).is_file():
            raise _not_a_run(path, f"no {name}")
    try:
        metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _not_a_run(path, f"{METADATA_FILE} is not JSON ({err})") from err
    if not isinstance(metadata, dict):
        raise _not_a_run(path, f"{METADATA_FILE} holds a {type(metadata).__name__}, not an object")
    missing = [key for key in _RUN_KEYS if key not in metadata]
    rows = metadata.get("exact_match_by_length")
    if not missing and not (
        isinstance(rows, list)
        and all(isinstance(row, dict) and set(_BUCKET_KEYS) <= set(row) for row in rows)
    ):
        missing = [f"exact_match_by_length rows with {', '.join(_BUCKET_KEYS)}"]
    if missing:
        raise _not_a_run(path, f"{METADATA_FILE} lacks {', '.join(missing)}")
    return metadata


def load_run(path: str | os.PathLike) -> tuple[EncoderDecoder, dict]:
    """Load a folder written by :func:`train_run` or :func:`save_run`: ``(model, metadata)``."""
    path = Path(path)
    metadata = read_run_metadata(path)
    try:
        model = keras.saving.load_model(path / MODEL_FILE)
    except Exception as err:  # noqa: BLE001 - Keras raises many types for a damaged file
        raise CheckpointError(
            f"{path / MODEL_FILE} cannot be loaded ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no details'}); train it again with "
            "`attention-lab seq2seq train --out DIR`"
        ) from err
    if not isinstance(model, EncoderDecoder):
        raise _not_a_run(path, f"{MODEL_FILE} holds a {type(model).__name__}, not a seq2seq model")
    return model, metadata
