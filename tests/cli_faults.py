"""Helpers for the fault-and-bad-input tests: run a command, check its refusal, compare files.

- :func:`run_cli` runs ``attention-lab ARGS`` and returns ``(status, stdout, stderr)``: in
  this process through :func:`attention_lab.cli.main.main` (fast: TensorFlow is imported
  once), or as ``python -m attention_lab`` in a fresh process with ``subprocess=True`` (for
  what only a real process shows: what it writes to its file descriptors, its exit code after
  a crash; TensorFlow's C++ start-up log lines are removed from its stderr, as
  ``scripts/execute_tutorials.py`` removes them from the notebooks). In this process an
  uncaught exception is turned into what Python itself would do: the traceback on stderr and
  status 1, so that "no traceback" can be asserted either way.
- :func:`assert_refused`: status 2, one line on stderr naming the command, no traceback, and
  the words the message must contain.
- :func:`snapshot`: ``{relative path: sha256}`` of every file under a folder (or of one
  file), for "the user's files are byte-for-byte intact" checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import subprocess as _subprocess
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What TensorFlow's C++ runtime logs while it starts, whatever TF_CPP_MIN_LOG_LEVEL says.
TF_STARTUP_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IWE]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*|To enable the following "
    r"instructions: .*)$"
)


@contextlib.contextmanager
def _environment(env: dict[str, str | None] | None):
    """Set (or, for None values, remove) environment variables for the duration."""
    saved = {name: os.environ.get(name) for name in env or {}}
    try:
        for name, value in (env or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _working_directory(cwd: str | os.PathLike | None):
    before = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _warnings_to(stream):
    """Log records of WARNING and above to ``stream`` as bare messages: what Python's
    last-resort handler does in a process that configures no logging (pytest's own log
    handlers would otherwise take them)."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _in_process(args: list[str], cwd, env) -> tuple[int, str, str]:
    from attention_lab.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with (
        _environment(env),
        _working_directory(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _warnings_to(err),
    ):
        try:
            status = main(args)
        except SystemExit as exit_:  # argparse's usage errors (2) and --help (0)
            status = exit_.code if isinstance(exit_.code, int) else 1
        except Exception:  # what the interpreter would print, and its status
            traceback.print_exc()
            status = 1
    return status, out.getvalue(), err.getvalue()


def _in_subprocess(args: list[str], cwd, env, stdin: str | None) -> tuple[int, str, str]:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    )
    done = _subprocess.run(
        [sys.executable, "-m", "attention_lab", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    stderr = "".join(
        line
        for line in done.stderr.splitlines(keepends=True)
        if not TF_STARTUP_LINE.match(line.rstrip())
    )
    return done.returncode, done.stdout, stderr


def run_cli(
    *args: str | os.PathLike,
    cwd: str | os.PathLike | None = None,
    env: dict[str, str | None] | None = None,
    subprocess: bool = False,
    stdin: str | None = None,
) -> tuple[int, str, str]:
    """Run ``attention-lab *args``; return ``(exit status, stdout, stderr)``.

    ``cwd``: the working folder; ``env``: variables to set (None removes one); ``subprocess``:
    a fresh ``python -m attention_lab`` process instead of ``main()`` here; ``stdin``: text
    for its standard input (subprocess only).
    """
    argv = [str(arg) for arg in args]
    if subprocess or stdin is not None:
        return _in_subprocess(argv, cwd, env, stdin)
    return _in_process(argv, cwd, env)


def assert_refused(result: tuple[int, str, str], *words: str, status: int = 2) -> str:
    """The command exited with ``status`` and one line ``attention-lab CMD: error: ...`` on
    stderr that contains every one of ``words``; returns that line."""
    code, _, stderr = result
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert code == status, f"exit status {code}, expected {status}; stderr: {stderr}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    line = lines[0]
    assert line.startswith("attention-lab ") and ": error: " in line, line
    for word in words:
        assert word in line, f"{word!r} not in the message: {line}"
    return line


def snapshot(path: str | os.PathLike) -> dict[str, str]:
    """``{path relative to path: sha256 hex}`` of every file under ``path`` (hidden ones
    included), or ``{"": sha256}`` when ``path`` is a file; ``{}`` when it does not exist.

    Folders are recorded too (their value is ``"dir"``), so an emptied folder is a change.
    """
    path = Path(path)
    if path.is_file():
        return {"": hashlib.sha256(path.read_bytes()).hexdigest()}
    if not path.is_dir():
        return {}
    digests = {}
    for item in sorted(path.rglob("*")):
        name = item.relative_to(path).as_posix()
        if item.is_symlink():
            digests[name] = f"link:{os.readlink(item)}"
        elif item.is_dir():
            digests[name] = "dir"
        else:
            digests[name] = hashlib.sha256(item.read_bytes()).hexdigest()
    return digests
