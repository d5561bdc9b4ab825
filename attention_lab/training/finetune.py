"""Fine-tuning BERT on IMDb end to end: the chapter's experiment (sections 4-6) as one call.

:func:`finetune` reads the IMDb training reviews, encodes them with the model's own WordPiece
vocabulary to ``max_len`` tokens, holds out 20% for validation (seed 42, as the chapter),
builds the pre-built or custom classifier on the pre-trained encoder
(:func:`attention_lab.convert.load_bert`), trains it with ``model.fit``
(:func:`~attention_lab.training.fit.fit_classifier`) and leaves a run folder
(:mod:`~attention_lab.training.run_folder`) that ``evaluate``, ``predict``, ``export`` and
``attention`` read, and that ``transformers`` loads. Passing a run folder as ``source``
continues from its classifier, head included: the chapter's second custom-model stage
(encoder frozen, Adam's default learning rate, more epochs).

Everything is checked before anything is written: a refused command leaves no folder behind,
and a rerun on an existing folder resumes exactly what was started or is refused, naming the
settings that differ.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

from attention_lab import __version__, backend
from attention_lab.convert.bert_folder import load_bert, write_bert_files
from attention_lab.data.imdb import LABEL_NAMES, read_imdb
from attention_lab.errors import check_at_least_one
from attention_lab.io import (
    as_path,
    atomic_write_json,
    check_separate,
    check_unlocked,
    folder_lock,
    utc_now,
)
from attention_lab.runtime import Plan, choose_plan, machine
from attention_lab.training import run_folder
from attention_lab.training.data import encode_reviews, train_validation_split
from attention_lab.training.fit import TrainingConfig, fit_classifier
from attention_lab.training.optimization import default_learning_rate
from attention_lab.training.preflight import check_data, check_max_len

VALIDATION_FRACTION, SPLIT_SEED = 0.2, 42  # the chapter's train_test_split(0.2, random_state=42)


def encode_imdb(tokenizer, split: str, data, limit: int | None, max_len: int, truncation: str):
    """The first ``limit`` reviews of ``split`` (the loader's fixed shuffled order), encoded."""
    check_at_least_one("--limit", limit)
    reviews = read_imdb(split, data=data)
    return encode_reviews(
        tokenizer, reviews.texts[:limit], reviews.labels[:limit], max_len, truncation
    )


def finetune(
    source: str | os.PathLike,
    head: str,
    out: str | os.PathLike,
    training: TrainingConfig | None = None,
    data=None,
    freeze_encoder: bool = False,
    limit: int | None = None,
    max_len: int = 150,
    truncation: str = "first",
    precision: str = "auto",
    xla: str = "auto",
    progress: bool = True,
) -> dict:
    """Fine-tune ``source`` (a BERT folder or hub id, or a run folder) with ``head`` on IMDb into
    the run folder ``out``; return its run.json.

    ``precision`` and ``xla`` are ``--precision``/``--xla`` (see
    :func:`attention_lab.runtime.choose_plan`). Build and compile inside a
    ``tf.distribute`` strategy's scope to train on several devices.
    """

    from attention_lab.models.bert import set_encoder_trainable

    out, local = as_path(out, "out (the run folder)"), as_path(source, "the model").expanduser()
    check_max_len(max_len)
    training, plan = training or TrainingConfig(), choose_plan(precision, xla)
    check_separate(out, local if local.exists() else None)
    settings = {
        "model": str(local.resolve()) if local.exists() else str(source),
        "head": head,
        "freeze_encoder": freeze_encoder,
        "max_len": max_len,
        "truncation": truncation,
        "limit": limit,
        "data": None if data is None else str(Path(data).expanduser().resolve()),
        "precision": plan.precision,
        "xla": plan.jit_compile,
        **dataclasses.asdict(training),
    }
    check_unlocked(out)  # another finetune writes there: refused before anything is loaded
    previous = run_folder.unfinished_run(out, settings)

    backend.seed_deterministically(training.seed)
    loaded = run_folder.load_model(
        source,
        head=head,
        num_labels=len(LABEL_NAMES),
        dtype=plan.dtype_policy,
        implementation=plan.implementation,
    )
    classifier, config = loaded.model, loaded.config
    check_max_len(max_len, config.max_position_embeddings)  # before minutes of encoding
    set_encoder_trainable(classifier, not freeze_encoder)
    choices = {"plan": plan.reason}
    if training.learning_rate is None:
        rate, choices["learning_rate"] = default_learning_rate(config.hidden_size, freeze_encoder)
        training = dataclasses.replace(training, learning_rate=rate)
        print(f"learning rate {rate:g}: {choices['learning_rate']}", flush=True)

    started = time.perf_counter()
    encoded = encode_imdb(loaded.tokenizer(), "train", data, limit, max_len, truncation)
    train, validation = train_validation_split(encoded, VALIDATION_FRACTION, seed=SPLIT_SEED)
    check_data(config, train, validation, training.batch_size)
    print(
        f"{len(train)} training / {len(validation)} validation reviews, {max_len} tokens "
        f"(encoded in {time.perf_counter() - started:.0f} s); {plan.describe()}",
        flush=True,
    )

    record = previous or {
        "format": run_folder.FORMAT,
        "status": "training",
        "settings": settings,
        "choices": choices,
        "learning_rate": training.learning_rate,
        "source": str(loaded.directory),
        "label_names": list(LABEL_NAMES),
        "train_reviews": len(train),
        "validation_reviews": len(validation),
        "machine": machine(),
        "started_at": utc_now(),
        "attention_lab_version": __version__,
    }
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):  # one writer per run folder; a killed one's lock is taken over
        if previous is None:
            atomic_write_json(out / run_folder.RUN_FILE, record)
        result = fit_classifier(
            classifier,
            train,
            validation,
            out / run_folder.CHECKPOINTS,
            training,
            jit_compile=plan.jit_compile,
            signature=run_folder.identity(settings),
            progress=progress,
        )
        write_bert_files(classifier, out, loaded.directory, label_names=list(LABEL_NAMES))
        record.update(status="complete", result=result, finished_at=utc_now())
        atomic_write_json(out / run_folder.RUN_FILE, record)
        shutil.rmtree(out / run_folder.CHECKPOINTS, ignore_errors=True)
    return record


def load_run(run_dir: str | os.PathLike, plan: Plan | None = None):
    """``(LoadedBert, run record)`` of a finished run folder, built for ``plan`` (its precision
    and encoder block; float32 and the definition's block when None)."""
    record = run_folder.read_finished_run(run_dir)
    options = (
        {} if plan is None else {"dtype": plan.dtype_policy, "implementation": plan.implementation}
    )
    return load_bert(run_dir, **options), record
