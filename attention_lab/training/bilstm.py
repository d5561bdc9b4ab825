"""Training and evaluating the chapter's GloVe + BiLSTM classifier on IMDb (section 2).

:func:`prepare_imdb_glove` does the chapter's preprocessing end to end (vocabulary over the
train split, encoder, pad to 150, GloVe embedding matrix); :func:`train_bilstm` trains one mode
for some epochs and writes a run folder:

- ``vocab.txt`` + ``encoder.json`` (to encode new text the same way),
- ``metrics.json``: the settings, per-epoch train metrics and seconds, then the test metrics
  (``"test": null`` until the run has finished); rewritten after every epoch,
- ``model.keras`` after every epoch (model and optimizer), so that an interrupted run can be
  resumed or evaluated,
- ``curves.png`` (loss and accuracy per epoch) when the run has finished.

Nothing is lost: every input (the arguments, the IMDb data, the GloVe file) is checked before
the folder is created; a finished run is never overwritten; an interrupted one is continued
only with ``resume=True`` and the very settings it was started with (the differences are named
otherwise); and every file is written whole through :mod:`attention_lab.io`.
"""

from __future__ import annotations

import json
import math
import os
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
from attention_lab.data.text_encoder import TokenEncoder, encode_and_pad
from attention_lab.data.treebank import encoder_for, make_encoder
from attention_lab.errors import AttentionLabError, CheckpointError, check_at_least_one
from attention_lab.io import (
    atomic_directory,
    atomic_file,
    atomic_write_json,
    atomic_write_text,
    check_separate,
)

BATCH_SIZE = 100
# The BiLSTM runs one step per token: IMDb's longest review is about 2,800 tokens, and a
# --max-len far beyond it only pads (100,000 ran for minutes and filled the memory).
MAX_LEN = 4096
METRICS_FILE = "metrics.json"
# What the user chooses; a resumed run must be given the same (and the same data, below).
CHOSEN = ("mode", "epochs", "truncate", "encoder_mode", "max_len", "limit", "seed", "learning_rate")
# Chosen too (issue 33's exercises), with the value a run recorded before they existed.
EXERCISE_OPTIONS = {
    "tokenizer": "tfds",
    "embedding_dropout": 0.0,
    "validation_split": 0.0,
    "test_every_epoch": False,
}


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


def prepare_imdb_glove(
    data=None,
    glove_path=None,
    max_len: int = 150,
    truncate: str = "last",
    encoder_mode: str = "faithful",
    limit: int | None = None,
    tokenizer: str = "tfds",
) -> PreparedData:
    """Vocabulary over the train split (its first ``limit`` reviews if given), encode, pad.

    ``glove_path``: a GloVe file, or vectors already loaded by
    :func:`~attention_lab.data.glove.load_glove`; ``None`` skips GloVe (the ``scratch`` mode).
    """
    check_at_least_one("--limit", limit)
    source = resolve_imdb_source(data)
    train, test = read_imdb("train", source=source), read_imdb("test", source=source)
    train_texts, y_train = train.texts[:limit], train.labels[:limit]  # [:None]: all of it
    test_texts, y_test = test.texts[:limit], test.labels[:limit]
    encoder, max_tokens = make_encoder(tokenizer, train_texts, encoder_mode)
    x_train = encode_and_pad(encoder, train_texts, max_len, truncate)
    x_test = encode_and_pad(encoder, test_texts, max_len, truncate)
    embedding = None
    if glove_path is not None:
        glove = glove_path if isinstance(glove_path, GloveVectors) else load_glove(glove_path)
        embedding = build_embedding_matrix(encoder, glove)
    empty = int((x_train[:, 0] == 0).sum() + (x_test[:, 0] == 0).sum())
    return PreparedData(encoder, max_tokens, x_train, y_train, x_test, y_test, embedding, empty)


def _batches(x: np.ndarray, y: np.ndarray, shuffle_seed: int | None = None, epoch=None):
    """Batches of ``(x, y)``; with ``shuffle_seed``, in an order that depends on the seed and
    the value of the variable ``epoch`` alone (a stateless shuffle of the indices, read as each
    epoch's iterator runs): a run resumed at epoch k sees the order an unkilled run saw."""
    import tensorflow as tf

    if shuffle_seed is None:
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH_SIZE).prefetch(2)
    xs, ys, seed, last = (
        tf.constant(x),
        tf.constant(y),
        tf.constant(shuffle_seed, tf.int64),
        len(x) - 1,
    )

    def position(i):
        key = tf.stack([seed, epoch.read_value()])
        return tf.random.experimental.index_shuffle(i, seed=key, max_index=last)

    indices = tf.data.Dataset.range(len(x)).map(position).batch(BATCH_SIZE)
    return indices.map(lambda at: (tf.gather(xs, at), tf.gather(ys, at))).prefetch(2)


def _reseed_dropout(model, seed: int, epoch: int) -> None:
    """Set every dropout random state of ``model`` from ``(seed, epoch)`` alone, in the
    model's own variable order: a run resumed at an epoch draws the masks an unkilled run
    drew (a freshly loaded model's generators would start from other seeds)."""
    states = [v for v in model.non_trainable_variables if v.path.endswith("seed_generator_state")]
    for index, state in enumerate(states):
        state.assign(np.array([seed * 7919 + index + 1, epoch << 20], dtype=state.dtype))


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
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def _saved_metrics(out: Path) -> dict | None:
    """The run record in ``out``; None when ``out`` is absent or an empty folder."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None
    try:
        saved = json.loads((out / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        saved = None
    if not isinstance(saved, dict) or not all(key in saved for key in (*CHOSEN, "history")):
        raise AttentionLabError(
            f"--out {out} exists and is not a `glove train` run folder (no readable "
            f"{METRICS_FILE}); it is left as it is. Pass a new --out"
        )
    return saved


def _differences(saved: dict, wanted: dict, keys) -> list[str]:
    return [
        f"{key} {wanted[key]!r} here, {saved.get(key, EXERCISE_OPTIONS.get(key))!r} in the run"
        for key in keys
        if saved.get(key, EXERCISE_OPTIONS.get(key)) != wanted[key]
    ]


def _check_out(out: Path, chosen: dict, resume: bool) -> dict | None:
    """Refuse what would overwrite a run; the interrupted run to continue, if ``resume``."""
    saved = _saved_metrics(out)
    if saved is not None and saved.get("test") is not None:
        raise AttentionLabError(
            f"--out {out} holds a finished run ({len(saved['history'])} epochs, test accuracy "
            f"{saved['test'].get('accuracy', float('nan')):.4f}); it is kept. Pass a new --out"
        )
    if saved is not None and not resume:
        raise AttentionLabError(
            f"--out {out} holds an interrupted run ({len(saved['history'])} of "
            f"{saved['epochs']} epochs); pass --resume to continue it with the same settings, "
            "or a new --out"
        )
    if saved is None and resume:
        raise AttentionLabError(f"nothing to resume in {out}: it holds no `glove train` run")
    if saved is not None:
        changed = _differences(saved, chosen, chosen)
        if changed:
            raise AttentionLabError(
                f"cannot resume {out}: the settings differ ({'; '.join(changed)}); pass the "
                "run's settings, or a new --out"
            )
    return saved


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
    callbacks=(),
    tokenizer: str = "tfds",
    embedding_dropout: float = 0.0,
    validation_split: float = 0.0,
    test_every_epoch: bool = False,
) -> dict:
    """Train one mode for ``epochs`` epochs, evaluate on the test split, write ``out_dir``.

    ``out_dir`` must be new (or an empty folder), or, with ``resume=True``, an interrupted run
    of the same settings, continued from its last saved epoch (model and optimizer state from
    ``model.keras``). The shuffle order and the dropout masks of each epoch are drawn from
    ``seed`` and the epoch alone, so a resumed run ends where an unkilled one does.
    ``callbacks``: more Keras callbacks, called after the one that saves each epoch. Returns
    the dictionary written to ``metrics.json``.

    Issue 33's exercises: ``tokenizer`` ``"treebank"`` (:mod:`attention_lab.data.treebank`);
    ``embedding_dropout``, a Dropout between the embedding and the first LSTM;
    ``validation_split``, that share of the training reviews (drawn with ``seed``) held out
    and scored after every epoch (``val_*`` in the history: choose settings on it, never on
    the test reviews); ``test_every_epoch``, the test figures after every epoch (``test_*``).
    """
    import keras

    from attention_lab.models.bilstm import MODES, build_bilstm_classifier, compile_bilstm

    if mode not in MODES:
        raise AttentionLabError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    check_at_least_one("--epochs", epochs)
    check_at_least_one("--max-len", max_len)
    if max_len > MAX_LEN:
        memory = BATCH_SIZE * max_len * 4 * 128 * 4  # the batch's LSTM activations (float32)
        raise AttentionLabError(
            f"--max-len {max_len:,} is beyond the limit of {MAX_LEN:,} tokens (one BiLSTM step "
            f"per token; a batch alone would need over {memory / 2**30:.1f} GiB of activations "
            f"and IMDb's longest review has about 2,800 tokens); pass --max-len {MAX_LEN} or less"
        )
    if not math.isfinite(learning_rate) or not learning_rate > 0:
        raise AttentionLabError(f"--learning-rate must be positive, got {learning_rate}")
    check_at_least_one("--limit", limit)
    if not 0.0 <= validation_split < 1.0:
        raise AttentionLabError(f"--validation-split must be in [0, 1), got {validation_split}")
    if mode != "scratch" and glove_path is None:
        raise AttentionLabError(f"mode {mode!r} needs GloVe vectors: pass --glove PATH")
    out = Path(out_dir)
    chosen = dict(
        mode=mode,
        epochs=epochs,
        truncate=truncate,
        encoder_mode=encoder_mode,
        max_len=max_len,
        limit=limit,
        seed=seed,
        learning_rate=learning_rate,
        tokenizer=tokenizer,
        embedding_dropout=embedding_dropout,
        validation_split=validation_split,
        test_every_epoch=test_every_epoch,
    )
    paths = [p for p in (data, glove_path) if isinstance(p, (str, os.PathLike))]
    check_separate(out, *paths)  # --out never is, holds or lies in an input file
    saved = _check_out(out, chosen, resume)
    started = time.perf_counter()
    prepared = prepare_imdb_glove(
        data,
        glove_path if mode != "scratch" else None,
        max_len,
        truncate,
        encoder_mode,
        limit,
        tokenizer,
    )
    validation = None
    if validation_split > 0:  # held out of training, drawn with the seed
        order = np.random.default_rng(seed).permutation(len(prepared.y_train))
        held = order[: round(validation_split * len(order))]
        kept = np.sort(order[len(held) :])
        validation = (prepared.x_train[held], prepared.y_train[held])
        prepared.x_train, prepared.y_train = prepared.x_train[kept], prepared.y_train[kept]
    encoder = prepared.encoder
    keras.utils.set_random_seed(seed)
    matrix = prepared.embedding.matrix if prepared.embedding is not None else None
    model = build_bilstm_classifier(
        encoder.vocab_size, mode, matrix, max_len=max_len, embedding_dropout=embedding_dropout
    )
    compile_bilstm(model, learning_rate)
    settings = {
        **chosen,
        "train_reviews": len(prepared.y_train),
        "test_reviews": len(prepared.y_test),
        "validation_reviews": 0 if validation is None else len(validation[1]),
        "vocab_size": encoder.vocab_size,
        "max_tokens": prepared.max_tokens,
        "empty_reviews": prepared.empty_reviews,
        "unknown_tokens": prepared.embedding.unknown_tokens if prepared.embedding else None,
        "total_params": int(model.count_params()),
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
    }
    prepare_seconds = round(time.perf_counter() - started, 1)
    if saved is None:
        metrics = {**settings, "prepare_seconds": prepare_seconds, "history": [], "test": None}
        # absent or empty: checked above; marked as ours
        with atomic_directory(out, overwrite=True, writer="glove train") as tmp:
            atomic_write_text(tmp / "vocab.txt", "\n".join(encoder.vocab_list))
            encoder_config = {"mode": encoder_mode, "lowercase": True, "max_len": max_len}
            encoder_config.update(truncate=truncate, tokenizer=tokenizer)
            atomic_write_json(tmp / "encoder.json", encoder_config)
            atomic_write_json(tmp / METRICS_FILE, metrics, indent=2)
    else:
        changed = _differences(saved, settings, settings)
        if changed:
            raise AttentionLabError(
                f"cannot resume {out}: the data differ ({'; '.join(changed)}); pass the data "
                "and GloVe file the run was started with, or a new --out"
            )
        metrics = {**saved, "prepare_seconds": prepare_seconds}
        if metrics["history"]:
            metrics.setdefault("resumed_at", []).append(len(metrics["history"]))
            model = keras.models.load_model(out / "model.keras")
    initial_epoch = len(metrics["history"])
    keras.utils.set_random_seed(seed + initial_epoch)
    import tensorflow as tf

    order = tf.Variable(0, dtype=tf.int64, trainable=False)  # the epoch the batches are for

    test_batches = _batches(prepared.x_test, prepared.y_test)

    class EpochRecorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            order.assign(epoch)
            _reseed_dropout(self.model, seed, epoch)
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._start, 1)}
            row.update({key: float(value) for key, value in (logs or {}).items()})
            if test_every_epoch:
                scores = self.model.evaluate(test_batches, return_dict=True, verbose=0)
                row.update({f"test_{key}": float(value) for key, value in scores.items()})
            metrics["history"].append(row)
            with atomic_file(out / "model.keras") as tmp:
                self.model.save(tmp)
            atomic_write_json(out / METRICS_FILE, metrics, indent=2)

    model.fit(
        _batches(prepared.x_train, prepared.y_train, shuffle_seed=seed, epoch=order),
        epochs=epochs,
        initial_epoch=initial_epoch,
        validation_data=None if validation is None else _batches(*validation),
        callbacks=[EpochRecorder(), *callbacks],
        shuffle=False,  # the dataset reshuffles itself, seeded; Keras cannot shuffle a tf.data
        verbose=verbose,
    )
    results = model.evaluate(test_batches, return_dict=True, verbose=verbose)
    _plot_curves(metrics["history"], results, out / "curves.png")
    metrics["test"] = {key: float(value) for key, value in results.items()}
    atomic_write_json(out / METRICS_FILE, metrics, indent=2)
    return metrics


def evaluate_bilstm(model_dir, data=None, limit: int | None = None, verbose: int = 2) -> dict:
    """Load ``model_dir`` written by :func:`train_bilstm` and evaluate it on the test split."""
    import keras

    check_at_least_one("--limit", limit)
    model_dir = Path(model_dir)
    for name in ("model.keras", "vocab.txt", "encoder.json"):
        if not (model_dir / name).is_file():
            raise CheckpointError(
                f"{model_dir / name} is missing: pass a folder written by `attention-lab glove "
                "train --out DIR` (one that has finished at least one epoch)"
            )
    try:
        config = json.loads((model_dir / "encoder.json").read_text(encoding="utf-8"))
        vocabulary = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
        tokenizer = config.get("tokenizer", "tfds")  # runs written before issue 33: tfds
        encoder = encoder_for(tokenizer, vocabulary, config["mode"], config["lowercase"])
        max_len, truncate = config["max_len"], config["truncate"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"{model_dir}: encoder.json or vocab.txt is damaged ({type(err).__name__}: {err}); "
            "train the run again with `attention-lab glove train`"
        ) from err
    test = read_imdb("test", data)
    test_texts, y_test = test.texts[:limit], test.labels[:limit]
    x_test = encode_and_pad(encoder, test_texts, max_len, truncate)
    try:
        model = keras.models.load_model(model_dir / "model.keras")
    except Exception as err:  # noqa: BLE001 - Keras raises many types for a damaged file
        raise CheckpointError(
            f"{model_dir / 'model.keras'} cannot be loaded ({type(err).__name__}); train the "
            "run again with `attention-lab glove train`"
        ) from err
    results = model.evaluate(_batches(x_test, y_test), return_dict=True, verbose=verbose)
    return {"test_reviews": len(y_test), **{key: float(v) for key, v in results.items()}}
