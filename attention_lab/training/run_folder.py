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
from attention_lab.io import register_run_record
from attention_lab.training import run_checks

RUN_FILE = "run.json"
register_run_record(RUN_FILE)  # a run folder is never replaced (attention_lab.io)
FORMAT = "attention_lab.run/2"
CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"  # attention_lab.training.callbacks.STATE
# Settings a fresh command may change without changing what is trained.
NOT_IDENTITY = ("checkpoint_every",)


def read_run(run_dir: str | os.PathLike) -> dict:
    """``run.json`` of a run folder, checked; errors say what is wrong and what to do."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{run_dir} has no {RUN_FILE}: it is not a run folder; pass the --out folder of "
            "`attention-lab finetune`"
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        record = err
    run_checks.check_run_record(path, record, FORMAT)
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


def unfinished_run(out: Path, settings: dict) -> dict | None:
    """The record of the unfinished run of ``settings`` in ``out`` (None: a new or empty
    folder); any other folder is refused and left as it is."""
    run_checks.check_new_or_run_folder(out, RUN_FILE)  # a file, or another kind of folder
    if not (out / RUN_FILE).is_file():
        return None
    record = read_run(out)
    run_checks.check_resumable(out, record, differences(record["settings"], settings))
    run_checks.check_training_state(out / CHECKPOINTS / STATE_FILE)
    return record


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
