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
- :func:`check_separate`: refuse an output folder that is, contains or lies inside an input.

Temporary names start with a dot and carry the writer's process id
(``.NAME.tmp-PID-XXXX``), so the next writer of the same name removes what a killed process
left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from attention_lab.errors import AttentionLabError

CACHE_ENV_VAR = "ATTENTION_LAB_CACHE"


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


def atomic_write_json(path: str | os.PathLike, value, indent: int = 1) -> None:
    """Write ``value`` as JSON (and a final newline) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(value, indent=indent) + "\n")


def _holds(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_separate(out: str | os.PathLike, *sources: str | os.PathLike | None) -> None:
    """Refuse an output folder that is, contains or lies inside one of ``sources``.

    Writing there would replace or mix with the very files being read (``convert X --out X``).
    """
    out_path = Path(out).expanduser().resolve()
    for source in sources:
        if source is None:
            continue
        source_path = Path(source).expanduser().resolve()
        if _holds(out_path, source_path) or _holds(source_path, out_path):
            raise AttentionLabError(
                f"--out {out} overlaps the input {source} (the same folder, or one inside the "
                "other); writing there would destroy what is being read. Pass another --out"
            )


def _check_replaceable(dest: Path, is_ours: Callable[[Path], bool] | None) -> None:
    here = Path.cwd().resolve()
    if _holds(dest.resolve(), here):
        raise AttentionLabError(
            f"--out {dest} is the current folder or holds it; it cannot be replaced. Pass a "
            "new folder"
        )
    if not dest.is_dir():
        raise AttentionLabError(f"{dest} exists and is not a folder; remove it or pass another")
    if is_ours is not None and any(dest.iterdir()) and not is_ours(dest):
        raise AttentionLabError(
            f"{dest} exists and was not written by attention_lab; it is left as it is. Pass a "
            "new folder, or move it away yourself"
        )


@contextlib.contextmanager
def atomic_directory(
    dest: str | os.PathLike,
    overwrite: bool = False,
    is_ours: Callable[[Path], bool] | None = None,
) -> Iterator[Path]:
    """Yield a temporary folder beside ``dest``; rename it to ``dest`` when the block succeeds.

    An existing ``dest`` is an error unless ``overwrite``; then it is replaced only if it is a
    folder that ``is_ours(dest)`` recognises (an empty folder always may be). On any exception
    the temporary folder is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    if dest.exists():
        if not overwrite:
            raise AttentionLabError(f"{dest} already exists; pass --overwrite to replace it")
        _check_replaceable(dest, is_ours)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(dest, directory=True)
    try:
        yield tmp
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
