"""A fine-tuning run folder: a BERT folder, plus what made it and how it did.

    OUT/run.json         the settings (what a rerun must match to resume), the choices made
                         and why, the status ("training", then "complete") and the results
    OUT/checkpoints/     the training state to resume from, while training
                         (:mod:`attention_lab.training.callbacks`); removed once complete
    OUT/config.json      the fine-tuned classifier in the one persisted form of a BERT
    OUT/model.safetensors  (:func:`attention_lab.convert.save_bert`), written when training
    OUT/vocab.txt, ...   ends; transformers loads the folder as it is

``run.json`` is only ever replaced whole (:mod:`attention_lab.io`), and a rerun that is
refused leaves it untouched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from attention_lab.convert import LoadedBert, load_bert
from attention_lab.errors import CheckpointError

RUN_FILE = "run.json"
FORMAT = "attention_lab.run/2"
CHECKPOINTS = "checkpoints"
STATUSES = ("training", "complete")
# Keys every run.json has, with their JSON types.
REQUIRED = {"format": str, "status": str, "settings": dict, "label_names": list}
# Settings a fresh command may change without changing what is trained.
NOT_IDENTITY = ("checkpoint_every",)


def read_run(run_dir: str | os.PathLike) -> dict:
    """``run.json`` of a run folder, checked; errors say what is wrong and what to do."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(
            f"{run_dir}: no such run folder; pass the --out folder of `attention-lab finetune`"
        )
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{run_dir} has no {RUN_FILE}: it is not a folder written by `attention-lab finetune`"
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"{path} is damaged ({type(err).__name__}); it cannot be trusted. Fine-tune again "
            "into a new --out folder"
        ) from None
    if not isinstance(record, dict):
        raise CheckpointError(
            f"{path} holds a JSON {type(record).__name__}, not a run record; fine-tune again "
            "into a new --out folder"
        )
    for key, kind in REQUIRED.items():
        if not isinstance(record.get(key), kind):
            raise CheckpointError(
                f"{path} lacks {key!r} (or it is not a {kind.__name__}); the record is damaged. "
                "Fine-tune again into a new --out folder"
            )
    if record["format"] != FORMAT or record["status"] not in STATUSES:
        raise CheckpointError(
            f"{path} is a run record of format {record['format']!r} and status "
            f"{record['status']!r}, which this version does not read; fine-tune again into a new "
            "--out folder"
        )
    return record


def read_finished_run(run_dir: str | os.PathLike) -> dict:
    """``run.json`` of a run whose training is complete (its model can be loaded)."""
    record = read_run(run_dir)
    if record["status"] != "complete":
        raise CheckpointError(
            f"{run_dir}: training has not finished; run the same `attention-lab finetune` "
            "command again to resume it"
        )
    return record


def load_model(source: str | os.PathLike, **options) -> LoadedBert:
    """``load_bert(source, **options)``; a run folder must have finished training (the
    converter reads the BERT folder in it and knows nothing of runs)."""
    if (Path(source).expanduser() / RUN_FILE).is_file():
        read_finished_run(Path(source).expanduser())
    return load_bert(source, **options)


def differences(previous: dict, current: dict) -> list[str]:
    """The settings in which ``current`` differs from ``previous``, as ``key: old -> new``."""
    keys = sorted((set(previous) | set(current)) - set(NOT_IDENTITY))
    return [
        f"{key}: {previous.get(key)!r} -> {current.get(key)!r}"
        for key in keys
        if previous.get(key) != current.get(key)
    ]


def identity(settings: dict) -> dict:
    """The settings a resumed run must match."""
    return {k: v for k, v in settings.items() if k not in NOT_IDENTITY}
