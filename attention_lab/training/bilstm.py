"""Training and evaluating the chapter's GloVe + BiLSTM classifier on IMDb (section 2).

:func:`prepare_imdb_glove` does the chapter's preprocessing end to end (vocabulary over the
train split, encoder, pad to 150, GloVe embedding matrix); :func:`train_bilstm` trains one mode
for some epochs and writes to ``out_dir``:

- ``model.keras`` (after every epoch, so an interrupted run can still be evaluated),
- ``vocab.txt`` + ``encoder.json`` (to encode new text the same way),
- ``metrics.json`` (per-epoch train metrics and seconds, then test metrics; rewritten after
  every epoch),
- ``curves.png`` (loss and accuracy per epoch).

Every write is atomic (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attention_lab.data.glove import (
    EmbeddingMatrix,
    GloveVectors,
    build_embedding_matrix,
    load_glove,
)
from attention_lab.data.imdb import read_imdb, resolve_imdb_source
from attention_lab.data.text_encoder import TokenEncoder, build_vocabulary, encode_texts
from attention_lab.errors import AttentionLabError

BATCH_SIZE = 100


@dataclass
class PreparedData:
    encoder: TokenEncoder
    max_tokens: int
    x_train: np.ndarray  # (n_train, max_len) int32
    y_train: np.ndarray  # (n_train,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    embedding: EmbeddingMatrix | None
    empty_reviews: int  # train + test reviews with no token at all (all-padding rows)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _limited(split, limit: int | None):
    if limit is None:
        return split.texts, split.labels
    if limit < 1:
        raise AttentionLabError(f"--limit must be at least 1, got {limit}")
    return split.texts[:limit], split.labels[:limit]


def prepare_imdb_glove(
    data=None,
    glove_path=None,
    max_len: int = 150,
    truncate: str = "last",
    encoder_mode: str = "faithful",
    limit: int | None = None,
) -> PreparedData:
    """Vocabulary over the train split (its first ``limit`` reviews if given), encode, pad.

    ``glove_path``: a GloVe file, or vectors already loaded by
    :func:`~attention_lab.data.glove.load_glove`; ``None`` skips GloVe (the ``scratch`` mode).
    """
    source = resolve_imdb_source(data)
    train_texts, y_train = _limited(read_imdb("train", source=source), limit)
    test_texts, y_test = _limited(read_imdb("test", source=source), limit)
    vocabulary, max_tokens = build_vocabulary(train_texts)
    encoder = TokenEncoder(vocabulary, lowercase=True, mode=encoder_mode)
    x_train = encode_texts(encoder, train_texts, max_len, truncate)
    x_test = encode_texts(encoder, test_texts, max_len, truncate)
    embedding = None
    if glove_path is not None:
        glove = glove_path if isinstance(glove_path, GloveVectors) else load_glove(glove_path)
        embedding = build_embedding_matrix(encoder, glove)
    empty = int((x_train[:, 0] == 0).sum() + (x_test[:, 0] == 0).sum())
    return PreparedData(encoder, max_tokens, x_train, y_train, x_test, y_test, embedding, empty)


def _batches(x: np.ndarray, y: np.ndarray, shuffle_seed: int | None = None):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(BATCH_SIZE).prefetch(2)


def _plot_curves(history: list[dict], test: dict | None, path: Path) -> None:
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for axis, key in zip(axes, ("loss", "accuracy"), strict=True):
        axis.plot(epochs, [row[key] for row in history], marker="o", label="train")
        if test is not None:
            axis.scatter([epochs[-1]], [test[key]], color="C3", zorder=3, label="test")
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.legend()
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=".curves.", suffix=".png", dir=path.parent)
    os.close(fd)
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def _save_model(model, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".keras", dir=path.parent)
    os.close(fd)
    model.save(tmp)
    os.replace(tmp, path)


def train_bilstm(
    mode: str,
    epochs: int,
    out_dir,
    data=None,
    glove_path=None,
    max_len: int = 150,
    truncate: str = "last",
    encoder_mode: str = "faithful",
    limit: int | None = None,
    seed: int = 42,
    learning_rate: float = 1e-3,
    resume: bool = False,
    verbose: int = 2,
) -> dict:
    """Train one mode for ``epochs`` epochs, evaluate on the test split, write ``out_dir``.

    ``resume=True`` continues an interrupted run in ``out_dir`` from its last saved epoch
    (model and optimizer state from ``model.keras``), with the same settings. The shuffle order
    and dropout masks after the restart differ from an uninterrupted run's (they are seeded by
    ``seed`` plus the epoch it restarts at). Returns the dictionary written to ``metrics.json``.
    """
    import keras

    from attention_lab.models.bilstm import MODES, build_bilstm_classifier, compile_bilstm

    if mode not in MODES:
        raise AttentionLabError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if epochs < 1:
        raise AttentionLabError(f"--epochs must be at least 1, got {epochs}")
    if mode != "scratch" and glove_path is None:
        raise AttentionLabError(f"mode {mode!r} needs GloVe vectors: pass --glove PATH")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    prepared = prepare_imdb_glove(
        data, glove_path if mode != "scratch" else None, max_len, truncate, encoder_mode, limit
    )
    encoder = prepared.encoder
    _atomic_write(out / "vocab.txt", "\n".join(encoder.vocab_list).encode("utf-8"))
    encoder_config = {"mode": encoder_mode, "lowercase": True, "max_len": max_len}
    encoder_config["truncate"] = truncate
    _atomic_write(out / "encoder.json", json.dumps(encoder_config, indent=2).encode())

    keras.utils.set_random_seed(seed)
    matrix = prepared.embedding.matrix if prepared.embedding is not None else None
    model = build_bilstm_classifier(encoder.vocab_size, mode, matrix, max_len=max_len)
    compile_bilstm(model, learning_rate)
    settings = {
        "mode": mode,
        "epochs": epochs,
        "truncate": truncate,
        "encoder_mode": encoder_mode,
        "max_len": max_len,
        "limit": limit,
        "seed": seed,
        "learning_rate": learning_rate,
        "train_reviews": len(prepared.y_train),
        "test_reviews": len(prepared.y_test),
        "vocab_size": encoder.vocab_size,
        "max_tokens": prepared.max_tokens,
        "empty_reviews": prepared.empty_reviews,
        "unknown_tokens": prepared.embedding.unknown_tokens if prepared.embedding else None,
        "total_params": int(model.count_params()),
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
    }
    metrics = {**settings, "prepare_seconds": round(time.perf_counter() - started, 1)}
    metrics.update(history=[], test=None)
    if resume:
        model, metrics = _resume(out, settings, metrics)
    initial_epoch = len(metrics["history"])
    if initial_epoch >= epochs:
        raise AttentionLabError(f"{out} already holds {initial_epoch} epochs; raise --epochs")
    keras.utils.set_random_seed(seed + initial_epoch)

    def write_metrics() -> None:
        _atomic_write(out / "metrics.json", json.dumps(metrics, indent=2).encode())

    class EpochRecorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._start, 1)}
            row.update({key: float(value) for key, value in (logs or {}).items()})
            metrics["history"].append(row)
            _save_model(self.model, out / "model.keras")
            write_metrics()

    model.fit(
        _batches(prepared.x_train, prepared.y_train, shuffle_seed=seed + initial_epoch),
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=[EpochRecorder()],
        shuffle=False,  # the dataset reshuffles itself, seeded; Keras cannot shuffle a tf.data
        verbose=verbose,
    )
    results = model.evaluate(
        _batches(prepared.x_test, prepared.y_test), return_dict=True, verbose=verbose
    )
    metrics["test"] = {key: float(value) for key, value in results.items()}
    write_metrics()
    _plot_curves(metrics["history"], metrics["test"], out / "curves.png")
    return metrics


def _resume(out: Path, settings: dict, fresh: dict):
    """The saved model and metrics of an interrupted run whose settings match ``settings``."""
    import keras

    if not (out / "model.keras").exists() or not (out / "metrics.json").exists():
        raise AttentionLabError(f"nothing to resume in {out}: no model.keras and metrics.json")
    saved = json.loads((out / "metrics.json").read_text())
    changed = [key for key in settings if key != "epochs" and saved.get(key) != settings[key]]
    if changed:
        raise AttentionLabError(
            f"cannot resume {out}: settings differ ({', '.join(changed)}); use a new --out"
        )
    saved.update(epochs=settings["epochs"], test=None)
    saved.setdefault("resumed_at", []).append(len(saved["history"]))
    saved["prepare_seconds"] = fresh["prepare_seconds"]
    return keras.models.load_model(out / "model.keras"), saved


def evaluate_bilstm(model_dir, data=None, limit: int | None = None, verbose: int = 2) -> dict:
    """Load ``model_dir`` written by :func:`train_bilstm` and evaluate it on the test split."""
    import keras

    model_dir = Path(model_dir)
    for name in ("model.keras", "vocab.txt", "encoder.json"):
        if not (model_dir / name).exists():
            raise AttentionLabError(
                f"{model_dir / name} is missing: pass a folder written by `attention-lab glove "
                "train --out DIR`"
            )
    config = json.loads((model_dir / "encoder.json").read_text())
    vocabulary = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
    encoder = TokenEncoder(vocabulary, lowercase=config["lowercase"], mode=config["mode"])
    test_texts, y_test = _limited(read_imdb("test", data), limit)
    x_test = encode_texts(encoder, test_texts, config["max_len"], config["truncate"])
    model = keras.models.load_model(model_dir / "model.keras")
    results = model.evaluate(_batches(x_test, y_test), return_dict=True, verbose=verbose)
    return {"test_reviews": len(y_test), **{key: float(v) for key, v in results.items()}}
