"""Checks of a run folder's files before a rerun trusts them.

A rerun reads ``run.json`` and ``checkpoints/state.json`` that an earlier process (or a person,
or a damaged disk) left behind. Each check here refuses, in one
:class:`~attention_lab.errors.CheckpointError` that names the file and what to do, a record
that lacks a key or has a key of the wrong JSON type, a record of another format, a training
state whose fields a resume could not use, a finished run or one started with other settings,
a backup written for other settings, and an ``--out`` folder that is not a run folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from attention_lab.errors import CheckpointError
from attention_lab.io import LOCK, MARKER, read_json_object

STATUSES = ("training", "complete")
# Keys every run.json has, with their JSON types.
REQUIRED = {"format": str, "status": str, "settings": dict, "label_names": list}
# The training state's fields whose types a resume relies on (None allowed where listed).
STATE_TYPES = {
    "step": (int,),
    "history": (list,),
    "partial": (dict,),
    "best_epoch": (int, type(None)),
    "epochs_without_improvement": (int,),
    "train_examples": (int,),
    "seeds": (list,),
    "weights": (str, type(None)),
}
_KIND_NAMES = {
    int: "a non-negative integer",
    list: "a list",
    dict: "an object",
    str: "a file name",
    type(None): "null",
}


def check_run_record(path: Path, record, format: str) -> None:
    """Refuse what was read from ``run.json`` (``record``: the parsed JSON, or the error that
    parsing raised) unless it is a run record of ``format`` with every required key."""
    if isinstance(record, Exception):
        problem = f"damaged ({type(record).__name__})"
    elif not isinstance(record, dict):
        problem = f"a JSON {type(record).__name__}"
    elif lacking := [k for k, kind in REQUIRED.items() if not isinstance(record.get(k), kind)]:
        problem = (
            f"damaged: it lacks {lacking[0]!r} (or it is not a {REQUIRED[lacking[0]].__name__})"
        )
    elif record["format"] != format or record["status"] not in STATUSES:
        problem = f"of format {record['format']!r} and status {record['status']!r}"
    else:
        return
    raise CheckpointError(
        f"{path} is {problem}, not a run record; fine-tune again into a new --out folder"
    )


def check_new_or_run_folder(out: Path, run_file: str) -> None:
    """Refuse an ``--out`` that is a file, or a folder that holds files but no ``run_file``:
    it is left as it is."""
    if out.is_file():
        raise CheckpointError(f"--out {out} is a file; pass a folder")
    if (out / run_file).is_file():
        return
    if out.is_dir() and any(p.name not in (LOCK, MARKER) for p in out.iterdir()):
        raise CheckpointError(
            f"--out {out} exists and is not a fine-tuning run folder; it is left as it is. "
            "Pass a new or empty folder"
        )


def check_resumable(out: Path, record: dict, changed: list[str]) -> None:
    """Refuse to resume the run of ``record`` in ``out`` when it is finished, or when it was
    started with other settings (``changed``); the folder is left as it is."""
    if record["status"] == "complete":
        raise CheckpointError(
            f"{out} holds a finished run; it is left as it is. Pass a new --out folder (to "
            f"continue from it, pass --model {out})"
        )
    if changed:
        raise CheckpointError(
            f"{out} holds an unfinished run with other settings ({'; '.join(changed)}); rerun "
            "with its settings to resume it, or pass a new --out folder"
        )


def check_training_state(path: Path) -> None:
    """Refuse a ``checkpoints/state.json`` that a resume could not use, in one line, before
    anything is loaded (``"step": "four"`` would otherwise fail deep inside training)."""
    if not path.is_file():
        return
    fix = (
        f"the training state is damaged: delete {path.parent} to restart the run from its "
        "first step, or pass a new --out folder"
    )
    state = read_json_object(path, fix, CheckpointError)
    for key, kinds in STATE_TYPES.items():
        value = state.get(key, 0 if int in kinds else kinds[0]())
        bad_int = isinstance(value, bool) or (isinstance(value, int) and value < 0)
        if not isinstance(value, kinds) or bad_int:
            wanted = " or ".join(_KIND_NAMES[kind] for kind in kinds)
            shown = json.dumps(value)[:40]
            raise CheckpointError(f"{path}: {key!r} must be {wanted}, got {shown}; {fix}")


def check_same_signature(directory: Path, saved: dict, current: dict) -> None:
    """Refuse to resume a backup in ``directory`` written for other settings (``saved``, from
    its state) than this run's (``current``), naming the first that differs."""
    for key, value in saved.items():
        if current.get(key) != value:
            raise CheckpointError(
                f"{directory} was written for {key}={value!r}, this run has "
                f"{key}={current.get(key)!r}; pass the original settings to "
                "resume, or a new --out folder"
            )
