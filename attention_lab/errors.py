"""The one exception type users of attention_lab need to catch.

Every error we raise on bad input is an :class:`AttentionLabError` (or a subclass) whose
message names the problem (file, tensor, shape, token id) and the fix. The command line
prints the message and exits with status 2 instead of showing a traceback.
"""


class AttentionLabError(ValueError):
    """Bad input or an impossible request, with a message that says how to fix it."""


class ConfigError(AttentionLabError):
    """A hyperparameter that no model can be built with (``BertConfig``'s checks)."""


class CheckpointError(AttentionLabError):
    """A checkpoint directory, config or weights file that cannot be used as given."""


def check_at_least_one(name: str, value: int | None) -> None:
    """Refuse a count below 1 (``--epochs must be at least 1, got 0``); None is "not set"."""
    if value is not None and value < 1:
        raise AttentionLabError(f"{name} must be at least 1, got {value}")


def shorten(text: str, limit: int = 80) -> str:
    """``text`` if short, else its first ``limit`` characters and its length: a message never
    repeats a 100,000-character input."""
    text = str(text)
    return text if len(text) <= limit + 20 else f"{text[:limit]}… ({len(text):,} characters)"


def shorten_words(message: str, limit: int = 80) -> str:
    """``message`` with every run of characters without spaces longer than ``limit`` + 20
    shortened by :func:`shorten`."""
    return " ".join(shorten(word, limit) for word in message.split(" "))


def _user_path(filename) -> str:
    """The path a user named, for the temporary ``.NAME.tmp-PID-XXXX`` written beside it."""
    import re
    from pathlib import Path

    parts = [re.sub(r"^\.(.+)\.tmp-\d+-.*$", r"\1", part) for part in Path(str(filename)).parts]
    return str(Path(*parts)) if parts else str(filename)


def describe_os_error(err: OSError) -> str:
    """One line for an ``OSError`` that reached the command line: what failed, where, and
    what to do (free space, write elsewhere, fix permissions)."""
    import errno

    where = _user_path(err.filename) if err.filename is not None else "a file"
    where = shorten(where, 160)
    kernel = where.startswith(("/proc/", "/sys/")) or where in ("/proc", "/sys")
    if kernel:
        return (
            f"cannot write {where}: /proc and /sys are the kernel's file systems, not storage "
            "(nothing was written); pass a path on a disk"
        )
    fixes = {
        errno.ENOSPC: "the disk is full (nothing half-written was kept); free space there, "
        "or pass a path on another disk",
        errno.EDQUOT: "the disk quota is used up (nothing half-written was kept); free space, "
        "or pass a path on another disk",
        errno.EROFS: "it is on a read-only file system (nothing was written); pass a path on "
        "a writable disk",
        errno.EACCES: "permission denied (nothing was written); pass a path you may write to, "
        "or change its permissions",
        errno.EPERM: "the operation is not permitted there (nothing was written); pass a path "
        "you may write to",
        errno.ENOENT: "no such file or folder; check the path (a folder to write in must exist "
        "or be creatable)",
        errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
        errno.EISDIR: "it is a folder; pass a file name",
        errno.EMFILE: "too many open files; raise the limit (ulimit -n) and run it again",
        errno.EIO: "an input/output error of the disk; check the disk, or pass another path",
    }
    fix = fixes.get(err.errno, f"{err.strerror or type(err).__name__}; check the path and the disk")
    return f"cannot use {where}: {fix}"
