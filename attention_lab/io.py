"""Writing files so that nothing is lost: every result is either complete or absent.

Every file and folder attention_lab writes goes through these helpers, so that an interrupted
run (Ctrl-C, a full disk, a killed job) never leaves a half-written file where a reader expects
a whole one, and no command replaces a folder it did not write:

- :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json`: a whole file;
- :func:`atomic_file`: a temporary path for libraries that write by file name (``savefig``,
  ``model.save``), renamed into place when they are done;
- :func:`atomic_directory`: a whole folder, written under a temporary name and renamed into
  place; it replaces an existing folder only when asked to and only when ``is_ours`` says this
  project wrote it;
- :func:`check_separate`: refuse an output folder that is, contains or lies inside an input;
- :func:`check_output_file`: refuse a single output file (a figure, a page) that would land in
  a model or run folder or on an input;
- :func:`claim_folder`: a folder a script fills and comes back to (a benchmark's results, a
  study's cells): new or empty and then marked, or ours by its marker.

Ownership is by proof, not by a file name. A folder that ``atomic_directory(..., writer=...)``
wrote carries the marker file ``.attention_lab`` (JSON: the format, what wrote it, the command,
the version, the time), which nothing else writes. ``--overwrite`` replaces only an empty
folder, a folder with that marker, or one that a writer's own ``is_ours`` proves it wrote
before markers existed (a BERT folder whose config.json records the sha256 of its
model.safetensors and still matches it). A fine-tuning run folder (``run.json``) is never
replaced; the command's own input never is either.

Temporary names start with a dot and carry the writer's process id
(``.NAME.tmp-PID-XXXX``), so the next writer of the same name removes what a killed process
left behind.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from attention_lab.errors import AttentionLabError

CACHE_ENV_VAR = "ATTENTION_LAB_CACHE"
MARKER = ".attention_lab"  # written only by atomic_directory: the proof a folder is ours
MARKER_FORMAT = "attention_lab.owner/1"
# The records that make a folder a run, which is never replaced, and the files of a model or
# run folder, where a single output file never lands. The packages that define them register
# them (register_run_record, register_folder_file), so that this lowest layer names no file of
# a higher one: training.run_folder registers run.json, training.seq2seq its training.json.
RUN_RECORDS: set[str] = set()
FOLDER_FILES: set[str] = {"config.json", "model.safetensors", "model.keras"}
_command = ["attention_lab (Python)"]  # what is writing: the command line sets it


def register_run_record(name: str) -> None:
    """``name`` marks a run folder: never replaced, and never joined by a single output."""
    RUN_RECORDS.add(name)
    FOLDER_FILES.add(name)


def register_folder_file(name: str) -> None:
    """``name`` is a file of a model or run folder: a single output file never joins it."""
    FOLDER_FILES.add(name)


def _run_record(folder: Path) -> str | None:
    return next((name for name in sorted(RUN_RECORDS) if (folder / name).exists()), None)


def cache_root() -> Path:
    """Where derived files are kept between runs (the IMDb cache, the precision probe):
    ``$ATTENTION_LAB_CACHE`` or ``~/.cache/attention_lab``."""
    root = os.environ.get(CACHE_ENV_VAR)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "attention_lab"


def _make_public(path: Path, directory: bool) -> None:
    """Give a temporary file or folder the mode a plain ``open``/``mkdir`` would (not 0600)."""
    umask = os.umask(0)  # the umask is read by setting it: put it straight back
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temporary_prefix(name: str) -> str:
    return f".{name}.tmp-"


def remove_stale_temporaries(dest: Path) -> None:
    """Remove the temporary files and folders that killed writers of ``dest`` left beside it."""
    prefix = _temporary_prefix(dest.name)
    for leftover in dest.parent.glob(f"{prefix}*"):
        pid = leftover.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or _alive(int(pid))):
            continue
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _temporary(dest: Path, directory: bool, suffix: str = "") -> Path:
    remove_stale_temporaries(dest)
    prefix = f"{_temporary_prefix(dest.name)}{os.getpid()}-"
    if directory:
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=dest.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dest.parent)
        os.close(fd)
        path = Path(name)
    _make_public(path, directory)
    return path


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it to ``path`` on success.

    For writers that take a file name, e.g. ``fig.savefig(tmp)`` or ``model.save(tmp)``. On
    any exception the temporary file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    if path.is_dir():
        raise AttentionLabError(f"{path} is a folder; pass a file name to write to")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path, directory=False, suffix="".join(path.suffixes))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _finite(value):
    """``value`` with every NaN or infinite float replaced by None (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def atomic_write_json(path: str | os.PathLike, value, indent: int = 1) -> None:
    """Write ``value`` as JSON (and a final newline) to ``path`` atomically.

    The file is always valid JSON: a NaN or infinite number (a diverged loss) is written as
    ``null``, never as ``NaN``/``Infinity``. Options are checked for finiteness before a
    command writes anything (``attention_lab.cli.options``).
    """
    text = json.dumps(_finite(value), indent=indent, allow_nan=False)
    atomic_write_text(path, text + "\n")


def utc_now() -> str:
    """The time now, in UTC, as ISO 8601 (what run records and markers store)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def read_json_object(path: str | os.PathLike, fix: str, error=AttentionLabError) -> dict:
    """The JSON object in the UTF-8 file ``path``, or ``error`` in one line ending in ``fix``."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise error(f"{path} is not JSON ({type(err).__name__}); {fix}") from None
    if not isinstance(value, dict):
        raise error(f"{path} holds a JSON {type(value).__name__}, not an object; {fix}")
    return value


def set_command(command: str) -> None:
    """Record which command is writing (the marker names it); the command line calls this."""
    _command[0] = command


def write_marker(folder: str | os.PathLike, writer: str) -> None:
    """Mark ``folder`` as written by attention_lab (``writer``: e.g. ``convert``)."""
    from attention_lab import __version__

    atomic_write_json(
        Path(folder) / MARKER,
        {
            "format": MARKER_FORMAT,
            "written_by": writer,
            "command": _command[0],
            "attention_lab_version": __version__,
            "written_at": utc_now(),
        },
    )


def read_marker(folder: str | os.PathLike) -> dict | None:
    """The marker of a folder attention_lab wrote; None when it has none (or a damaged one)."""
    try:
        marker = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(marker, dict) and marker.get("format") == MARKER_FORMAT:
        return marker
    return None


def as_path(value, what: str = "path", error=AttentionLabError) -> Path:
    """``value`` as a :class:`~pathlib.Path`, or one line saying that it is not a path (the
    Python API's callers get this instead of a ``TypeError`` from deep inside ``pathlib``)."""
    if isinstance(value, (str, os.PathLike)) and str(value) != "":
        return Path(value)
    raise error(
        f"{what} must be a path (a str or os.PathLike) and not empty, got {type(value).__name__} "
        f"{_short_repr(value)}"
    )


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _holds(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_separate(out: str | os.PathLike, *sources: str | os.PathLike | None) -> None:
    """Refuse an output folder that is, contains or lies inside one of ``sources``.

    Writing there would replace or mix with the very files being read (``convert X --out X``);
    a source that is not a path (None, vectors already read) is skipped.
    """
    out_path = Path(out).expanduser().resolve()
    for source in sources:
        if not isinstance(source, (str, os.PathLike)):  # None, or data already in memory
            continue
        source_path = Path(source).expanduser().resolve()
        if _holds(out_path, source_path) or _holds(source_path, out_path):
            raise AttentionLabError(
                f"--out {out} overlaps the input {source} (the same folder, or one inside the "
                "other); writing there would destroy what is being read. Pass another --out"
            )


def check_replaceable(dest: str | os.PathLike, is_ours: Callable[[Path], bool] | None = None):
    """Refuse to replace ``dest`` unless attention_lab provably wrote it (the rule above).

    ``is_ours``: the writer's proof for folders written before markers existed.
    """
    dest = Path(dest)
    here = Path.cwd().resolve()
    if _holds(dest.resolve(), here) or dest.resolve() == Path(dest.resolve().anchor):
        raise AttentionLabError(
            f"--out {dest} is the current folder, holds it or is a file system's root; it "
            "cannot be replaced. Pass a new folder"
        )
    if not dest.is_dir():
        raise AttentionLabError(f"{dest} exists and is not a folder; remove it or pass another")
    if not any(dest.iterdir()):
        return
    if record := _run_record(dest):
        raise AttentionLabError(
            f"{dest} holds a fine-tuning run ({record}); --overwrite never replaces a run. "
            "Pass a new folder, or move the run away yourself"
        )
    if read_marker(dest) is None and not (is_ours is not None and is_ours(dest)):
        raise AttentionLabError(
            f"{dest} exists and was not written by attention_lab (it has no {MARKER} marker); "
            "it is left as it is. Pass a new folder, or move it away yourself"
        )


def check_destination(
    dest: str | os.PathLike,
    overwrite: bool,
    is_ours: Callable[[Path], bool] | None = None,
    inputs: tuple = (),
) -> None:
    """What :func:`atomic_directory` checks first, for commands that check before they load:
    ``dest`` is not an input, and is new, or ``overwrite`` is given and the rule lets it be
    replaced. Without ``overwrite`` the message suggests it only where it would be accepted."""
    dest = as_path(dest, "the output folder")
    check_separate(dest, *inputs)
    if not dest.exists() and not dest.is_symlink():
        return
    if overwrite:
        check_replaceable(dest, is_ours)
        return
    try:
        check_replaceable(dest, is_ours)
    except AttentionLabError as refusal:
        raise AttentionLabError(str(refusal)) from None
    raise AttentionLabError(f"{dest} already exists; pass --overwrite to replace it")


@contextlib.contextmanager
def atomic_directory(
    dest: str | os.PathLike,
    overwrite: bool = False,
    is_ours: Callable[[Path], bool] | None = None,
    writer: str | None = None,
    inputs: tuple = (),
) -> Iterator[Path]:
    """Yield a temporary folder beside ``dest``; rename it to ``dest`` when the block succeeds.

    An existing ``dest`` is an error unless ``overwrite``; then it is replaced only under the
    ownership rule (:func:`check_replaceable`; ``is_ours`` is the writer's proof for folders
    from before markers). ``writer`` (e.g. ``"convert"``) marks the new folder as ours;
    ``inputs``: what the command reads, which ``dest`` may not be, hold or lie in. On any
    exception the temporary folder is removed and ``dest`` is left as it was.
    """
    dest = as_path(dest, "the output folder")
    check_destination(dest, overwrite, is_ours, inputs)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(dest, directory=True)
    try:
        yield tmp
        if writer is not None:
            write_marker(tmp, writer)
        if dest.exists():
            old = _temporary(dest, directory=True)
            os.replace(dest, old / dest.name)
            os.replace(tmp, dest)
            shutil.rmtree(old)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def claim_folder(folder: str | os.PathLike, writer: str, inputs: tuple = ()) -> Path:
    """Make ``folder`` a folder that ``writer`` writes into and comes back to (a benchmark's
    results, a study's cells), or refuse it: a new or empty folder is created and marked; one
    with our marker is written into as it is; anything else (a user's folder, a run folder, a
    file, the current folder or a root, one of ``inputs``) is refused and left as it is.
    Returns ``folder`` as a path."""
    folder = as_path(folder, "the output folder")
    check_separate(folder, *inputs)
    resolved = folder.expanduser().resolve()
    if _holds(resolved, Path.cwd().resolve()) or resolved == Path(resolved.anchor):
        raise AttentionLabError(
            f"{folder} is the current folder, holds it or is a file system's root; pass a "
            "new folder"
        )
    if folder.exists() and not folder.is_dir():
        raise AttentionLabError(f"{folder} exists and is not a folder; pass a folder")
    if folder.is_dir() and read_marker(folder) is None:
        if record := _run_record(folder):
            raise AttentionLabError(
                f"{folder} holds a fine-tuning or pre-training run ({record}); it is left "
                "as it is. Pass a new folder"
            )
        if any(p.name != LOCK for p in folder.iterdir()):
            raise AttentionLabError(
                f"{folder} exists and was not written by attention_lab (it has no "
                f"{MARKER} marker); it is left as it is. Pass a new folder, or move it away"
            )
    if read_marker(folder) is None:
        folder.mkdir(parents=True, exist_ok=True)
        write_marker(folder, writer)
    return folder


def _is_folder_of_ours(folder: Path) -> bool:
    """A model or run folder (ours or Hugging Face's), whose files one output never joins."""
    return read_marker(folder) is not None or any((folder / n).is_file() for n in FOLDER_FILES)


def check_output_file(
    path: str | os.PathLike, *inputs: str | os.PathLike | None, option: str = "--out"
) -> Path:
    """Refuse a single output file (``option``) that would replace one of ``inputs`` (or a
    file inside an input folder) or land in a model or run folder; returns ``path``."""
    path = Path(path).expanduser()
    target = path.resolve()
    for source in inputs:
        if source is None:
            continue
        source_path = Path(source).expanduser().resolve()
        if target == source_path or (source_path.is_dir() and source_path in target.parents):
            raise AttentionLabError(
                f"{option} {path} would write into the input {source}; pass a file outside it"
            )
    if target.parent.is_dir() and _is_folder_of_ours(target.parent):
        raise AttentionLabError(
            f"{option} {path} would land in the model or run folder {path.parent}, whose "
            "files must stay as written; pass a file outside it"
        )
    return path


# --- one writer per folder ---------------------------------------------------------------

LOCK = ".lock"  # in a folder being written: {"pid", "host", "started_at", "command"}


def _lock_holder(path: Path) -> dict | None:
    """The lock's record, or None if it cannot be read (a lock is written whole: a damaged
    one was not written by us)."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _describe(holder: dict) -> str:
    return (
        f"{holder.get('command') or 'attention-lab'} (process {holder.get('pid')} on "
        f"{holder.get('host')}, since {holder.get('started_at')})"
    )


def _is_live(holder: dict | None) -> bool | None:
    """True/False for a lock of this machine; None when it is another machine's."""
    import socket

    if holder is None or not isinstance(holder.get("pid"), int):
        return False
    if holder.get("host") != socket.gethostname():
        return None
    return holder["pid"] == os.getpid() or _alive(holder["pid"])


def check_unlocked(folder: str | os.PathLike) -> None:
    """Refuse a folder that another live process is writing (its ``.lock``)."""
    path = Path(folder) / LOCK
    if not path.is_file():
        return
    holder = _lock_holder(path)
    live = _is_live(holder)
    if live:
        raise AttentionLabError(
            f"{folder} is locked by {_describe(holder)}, which is writing it; one writer per "
            "folder: wait for it to finish (or stop it), then run this command again"
        )
    if live is None:
        raise AttentionLabError(
            f"{folder} has the lock of {_describe(holder)}, another machine, which this one "
            f"cannot check; if no process there writes it, remove {path} and run this again"
        )


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold ``folder``'s lock while the block runs: a second writer is refused while this
    process lives; a lock left by a killed process (its process id no longer runs on this
    machine) is named through ``log`` and taken over. The lock file is created whole, by a
    hard link that fails if it exists (``O_EXCL``'s guarantee, with its content)."""
    import socket

    folder = Path(folder)
    path = folder / LOCK
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": utc_now(),
        "command": _command[0],
    }
    tmp = _temporary(path, directory=False)
    try:
        tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
        for _ in range(3):
            try:
                os.link(tmp, path)
                break
            except FileExistsError:
                check_unlocked(folder)  # a live writer: refused
                stale = path.with_name(f"{LOCK}.stale-{os.getpid()}")
                holder = _lock_holder(path)
                try:
                    os.replace(path, stale)  # one taker wins; the other finds no lock
                except FileNotFoundError:
                    continue
                stale.unlink(missing_ok=True)
                who = _describe(holder) if holder else "an unreadable lock"
                log(f"note: took over the stale lock of {who} in {folder}: it no longer runs")
        else:
            raise AttentionLabError(f"could not take the lock {path}; run the command again")
    finally:
        tmp.unlink(missing_ok=True)
    try:
        yield
    finally:
        if _lock_holder(path) == record:
            path.unlink(missing_ok=True)
