"""Fine-tuning BERT on IMDb end to end, and the run folder it leaves (chapter sections 4-6).

``finetune`` reads the IMDb training reviews, encodes them with the model's own WordPiece
vocabulary to ``max_len`` tokens, holds out 20% for validation (seed 42, as the chapter),
builds the pre-built or custom classifier on the pre-trained encoder and trains it with
:class:`~attention_lab.training.trainer.Trainer`. Everything lands in one run folder:

    OUT/run.json              what was trained, how, and (when done) the results
    OUT/model.npz             the final weights (the best epoch when validating)
    OUT/vocab.txt, ...        the tokenizer files of the source checkpoint
    OUT/checkpoints/          per-epoch training checkpoints (resume by running again)

``evaluate``, ``predict``, ``export`` and ``attention`` read that folder through
:func:`load_finetuned`. Passing a run folder as ``model`` continues from its classifier, head
included, which is how the chapter's second custom-model stage runs (encoder frozen,
Adam's default learning rate, more epochs).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from attention_lab import __version__
from attention_lab.config import BertConfig
from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.io import atomic_write_text
from attention_lab.training.data import EncodedDataset, encode_texts, train_validation_split

RUN_FILE = "run.json"
WEIGHTS = "model.npz"
CHECKPOINTS = "checkpoints"
TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
LABEL_NAMES = ("negative", "positive")


def execution_plan(precision: str, jit_compile: bool | None = None) -> tuple[str, bool]:
    """``(dtype policy, jit_compile)`` for ``--precision``.

    XLA compiles the steps on a GPU. On a CPU they run as plain ``tf.function`` graphs of
    TensorFlow's oneDNN kernels, which were faster than XLA there in float32 (a BERT-Base
    training step 1.26x, docs/benchmarks.md; all-MiniLM-L6-v2 1.14x, docs/results.md) and
    in bfloat16, whose dot-product instructions XLA's CPU backend does not use, as
    :mod:`attention_lab.runtime` explains. ``jit_compile`` overrides the choice.
    """
    if precision not in PRECISIONS:
        raise AttentionLabError(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    if jit_compile is None:
        import tensorflow as tf

        jit_compile = bool(tf.config.list_physical_devices("GPU"))
    return PRECISIONS[precision], jit_compile


def tokenizer_for(directory: Path):
    from attention_lab.tokenization import BertTokenizer

    if not (directory / "vocab.txt").is_file():
        raise CheckpointError(f"{directory} has no vocab.txt; the tokenizer needs it")
    return BertTokenizer.from_pretrained(directory)


def check_max_len(max_len: int, config: BertConfig) -> None:
    if max_len < 2 or max_len > config.max_position_embeddings:
        raise AttentionLabError(
            f"--max-len {max_len} is outside 2 … {config.max_position_embeddings}: the model "
            f"has max_position_embeddings={config.max_position_embeddings} positions; pass "
            f"--max-len {min(150, config.max_position_embeddings)} or less"
        )


def read_run(run_dir: str | os.PathLike) -> dict:
    """``run.json`` of a run folder, with errors that say what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(
            f"{run_dir}: no such checkpoint directory; pass the --out folder of "
            "`attention-lab finetune`"
        )
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{run_dir} has no {RUN_FILE}: it is not a folder written by `attention-lab finetune`"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: malformed JSON ({err})") from err


def load_finetuned(run_dir: str | os.PathLike, dtype=None):
    """``(classifier, run record, tokenizer)`` from a finished run folder."""
    from attention_lab.models.classifier import build_classifier
    from attention_lab.training.checkpoints import assign_arrays

    run_dir = Path(run_dir)
    run = read_run(run_dir)
    weights = run_dir / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(
            f"{run_dir} has no {WEIGHTS}: its training has not finished; run the same "
            "`attention-lab finetune` command again to resume it"
        )
    config = BertConfig.from_dict(run["config"])
    model = build_classifier(run["head"], config, dtype=dtype)
    with np.load(weights) as arrays:
        assign_arrays(model.variables, dict(arrays), str(weights))
    return model, run, tokenizer_for(run_dir)


def encode_imdb(tokenizer, split: str, data, limit: int | None, max_len: int, truncation: str):
    """The first ``limit`` reviews of ``split`` (the loader's fixed shuffled order), encoded."""
    from attention_lab.data.imdb import read_imdb

    reviews = read_imdb(split, data=data)
    count = len(reviews) if limit is None else min(limit, len(reviews))
    if limit is not None and limit < 1:
        raise AttentionLabError(f"--limit must be positive, got {limit}")
    return encode_texts(
        tokenizer, reviews.texts[:count], reviews.labels[:count], max_len, truncation
    )


def _source(model: str | os.PathLike, head: str, dtype):
    """Classifier, config, tokenizer folder and a description of where they came from."""
    path = Path(model).expanduser()
    if (path / RUN_FILE).is_file():
        classifier, run, _ = load_finetuned(path, dtype=dtype)
        if run["head"] != head:
            raise CheckpointError(
                f"{path} holds a {run['head']!r} classifier; pass --head {run['head']} to "
                "continue from it"
            )
        return classifier, BertConfig.from_dict(run["config"]), path, f"run:{path.resolve()}"
    from attention_lab.convert.converter import MANIFEST
    from attention_lab.convert.hf_checkpoint import resolve_model_dir
    from attention_lab.training.pretrained import classifier_from_pretrained

    classifier, config, _ = classifier_from_pretrained(model, head, num_labels=2, dtype=dtype)
    folder = path if (path / MANIFEST).is_file() else resolve_model_dir(model)
    return classifier, config, folder, str(model)


def finetune(
    model: str | os.PathLike,
    head: str,
    out: str | os.PathLike,
    training=None,
    data=None,
    freeze_encoder: bool = False,
    limit: int | None = None,
    max_len: int = 150,
    truncation: str = "first",
    precision: str = "float32",
    jit_compile: bool | None = None,
    strategy=None,
    progress: bool = True,
) -> dict:
    """Fine-tune ``model`` with ``head`` on IMDb into the run folder ``out``; return run.json.

    ``training`` is a :class:`~attention_lab.training.trainer.TrainingConfig` (its
    ``jit_compile`` is set from ``precision`` unless ``jit_compile`` is given). Running the
    same call again on an interrupted ``out`` resumes it; ``out`` from a different model,
    head or setup is refused.
    """
    from attention_lab.models.classifier import set_encoder_trainable
    from attention_lab.training.trainer import Trainer, TrainingConfig, default_strategy

    out = Path(out)
    policy, jit = execution_plan(precision, jit_compile)
    training = dataclasses.replace(training or TrainingConfig(), jit_compile=jit)
    strategy = strategy or default_strategy()
    with strategy.scope():
        classifier, config, tokenizer_dir, source = _source(model, head, policy)
        set_encoder_trainable(classifier, not freeze_encoder)
    check_max_len(max_len, config)

    run = {
        "format": "attention_lab.finetune/1",
        "source": source,
        "head": head,
        "freeze_encoder": freeze_encoder,
        "config": config.to_dict(),
        "max_len": max_len,
        "truncation": truncation,
        "limit": limit,
        "precision": precision,
        "training": dataclasses.asdict(training),
        "label_names": list(LABEL_NAMES),
        "replicas": strategy.num_replicas_in_sync,
        "attention_lab_version": __version__,
    }
    identity = {
        k: run[k]
        for k in ("source", "head", "freeze_encoder", "config", "max_len", "truncation", "limit")
    }
    if (out / RUN_FILE).is_file():
        previous = read_run(out)
        for key, value in identity.items():
            if previous.get(key) != value:
                raise CheckpointError(
                    f"{out} holds a run with {key}={previous.get(key)!r}, not {value!r}; pass a "
                    "new --out folder, or the original options to resume that run"
                )
    elif out.exists() and any(out.iterdir()):
        raise CheckpointError(
            f"{out} exists and is not a fine-tuning run folder; pass a new or empty --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file() and tokenizer_dir.resolve() != out.resolve():
            shutil.copy2(tokenizer_dir / name, out / name)
    tokenizer = tokenizer_for(out)
    atomic_write_text(out / RUN_FILE, json.dumps({**run, "status": "training"}, indent=1) + "\n")

    started = time.perf_counter()
    encoded = encode_imdb(tokenizer, "train", data, limit, max_len, truncation)
    encoded.check(config.num_labels, "IMDb training data")
    train, validation = train_validation_split(encoded, 0.2, seed=42)
    encode_seconds = time.perf_counter() - started
    print(
        f"{len(train)} training / {len(validation)} validation reviews, {max_len} tokens "
        f"(encoded in {encode_seconds:.0f} s); {policy}, XLA {'on' if jit else 'off'}, "
        f"{strategy.num_replicas_in_sync} replica(s)",
        flush=True,
    )
    trainer = Trainer(
        classifier,
        training,
        out / CHECKPOINTS,
        signature=identity,
        strategy=strategy,
        progress=progress,
    )
    result = trainer.fit(train, validation)
    _save_weights(classifier, out / WEIGHTS)
    run.update(
        status="complete",
        train_reviews=len(train),
        validation_reviews=len(validation),
        result=result,
        finished_at=datetime.datetime.now(datetime.timezone.utc).isoformat(),
    )
    atomic_write_text(out / RUN_FILE, json.dumps(run, indent=1) + "\n")
    return run


def _save_weights(model, path: Path) -> None:
    from attention_lab.training.checkpoints import variables_to_arrays

    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, **variables_to_arrays(model.variables))
    tmp.replace(path)


def encoded_from_texts(tokenizer, texts, max_len: int, truncation: str) -> EncodedDataset:
    """Encode texts without labels (for prediction)."""
    return encode_texts(tokenizer, texts, np.zeros(len(texts), np.int32), max_len, truncation)


def load_encoder(model: str | os.PathLike):
    """``(BertModel, tokenizer)`` from a run folder, a converted folder or a Hugging Face model."""
    from attention_lab.convert.converter import load_model
    from attention_lab.convert.hf_checkpoint import resolve_model_dir
    from attention_lab.models.bert import BertModel

    path = Path(model).expanduser()
    if (path / RUN_FILE).is_file():
        classifier, _, tokenizer = load_finetuned(path)
        return classifier.bert, tokenizer
    loaded, _ = load_model(model)
    bert = loaded if isinstance(loaded, BertModel) else loaded.bert
    folder = path if path.is_dir() else resolve_model_dir(model)
    return bert, tokenizer_for(folder)
