"""Training checkpoints: written atomically, one per epoch (and every N steps if asked).

A checkpoint is a folder ``ckpt-<global step>/`` holding

- ``model.npz``: every model variable by its Keras path below the model (``bert/...``),
- ``optimizer.npz``: the optimizer's variables (step counter, Adam moments, loss scale),
- ``state.json``: where training stands (epoch, batch within the epoch, global step,
  history, early-stopping record) and the *signature* of the run (head, BERT config,
  sequence length, batch size) that a resumed run must match.

Each folder is written under a temporary name and renamed into place, and ``latest.json``
(which names the newest folder) is replaced atomically after it, so a run killed at any
instant leaves the previous checkpoint intact and readable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from attention_lab.errors import CheckpointError
from attention_lab.io import atomic_directory, atomic_write_text

LATEST = "latest.json"
STATE = "state.json"


def variable_key(variable) -> str:
    """A variable's path without its owner's name (``adam_w_5/iteration`` -> ``iteration``).

    Keras numbers unnamed objects per process (``adam_w``, ``adam_w_1``, ...), so the owner's
    name differs between the run that wrote a checkpoint and the run that resumes it.
    """
    return variable.path.split("/", 1)[-1]


def variables_to_arrays(variables) -> dict[str, np.ndarray]:
    arrays = {}
    for variable in variables:
        key = variable_key(variable)
        if key in arrays:
            raise CheckpointError(f"two variables share the path {key!r}")
        arrays[key] = np.asarray(variable)
    return arrays


def assign_arrays(variables, arrays, source: str) -> None:
    """Assign saved arrays to ``variables`` by path; any difference is an error naming it."""
    expected = {variable_key(v) for v in variables}
    missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
    if missing or extra:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise CheckpointError(
            f"{source} does not fit this model ({detail}); it was written for another model "
            "or head. Use a new --out folder or the matching --model/--head"
        )
    for variable in variables:
        value = arrays[variable_key(variable)]
        if tuple(value.shape) != tuple(variable.shape):
            raise CheckpointError(
                f"{source}: {variable.path} has shape {tuple(value.shape)}, the model "
                f"{tuple(variable.shape)}; it was written for another model configuration"
            )
        variable.assign(value)


def save_checkpoint(directory: Path, model, optimizer, state: dict, keep: int = 2) -> Path:
    """Write ``ckpt-<global step>`` atomically, point ``latest.json`` at it, prune old ones."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"ckpt-{state['global_step']:08d}"
    with atomic_directory(directory / name, overwrite=True) as tmp:
        np.savez(tmp / "model.npz", **variables_to_arrays(model.variables))
        np.savez(tmp / "optimizer.npz", **variables_to_arrays(optimizer.variables))
        (tmp / STATE).write_text(json.dumps(state, indent=1) + "\n")
    atomic_write_text(directory / LATEST, json.dumps({"checkpoint": name}) + "\n")
    for old in sorted(directory.glob("ckpt-*"))[:-keep]:
        if old.name != name:
            for child in old.iterdir():
                child.unlink()
            old.rmdir()
    return directory / name


def latest_checkpoint(directory: Path) -> Path | None:
    """The folder ``latest.json`` names, or None for a fresh directory."""
    pointer = directory / LATEST
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text())["checkpoint"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{pointer}: malformed ({err}); delete the folder to restart"
        ) from err
    folder = directory / name
    if not (folder / STATE).is_file():
        raise CheckpointError(f"{pointer} names {folder}, which is missing or incomplete")
    return folder


def read_state(folder: Path) -> dict:
    return json.loads((folder / STATE).read_text())


def restore_checkpoint(folder: Path, model, optimizer) -> dict:
    """Load model and optimizer variables from ``folder``; return its state."""
    with np.load(folder / "model.npz") as arrays:
        assign_arrays(model.variables, dict(arrays), str(folder / "model.npz"))
    with np.load(folder / "optimizer.npz") as arrays:
        assign_arrays(optimizer.variables, dict(arrays), str(folder / "optimizer.npz"))
    return read_state(folder)


def check_signature(saved: dict, current: dict, source: str) -> None:
    """Refuse to resume from a checkpoint written by a different model or setup."""
    for key, value in current.items():
        if saved.get(key) != value:
            raise CheckpointError(
                f"{source} was written for {key}={saved.get(key)!r}, this run has "
                f"{key}={value!r}; pass a new --out folder (or the original settings) to resume"
            )
