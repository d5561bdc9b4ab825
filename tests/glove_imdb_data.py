"""Reading the real IMDb archive once per test session, into a private cache folder."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

from attention_lab.data import imdb


@functools.cache
def imdb_cache_dir(archive: Path) -> Path:
    """A temporary cache folder holding ``archive``'s splits (streamed once, then memory-read)."""
    folder = Path(tempfile.mkdtemp(prefix="attention-lab-imdb-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(imdb.CACHE_ENV_VAR, str(folder))
        imdb.read_imdb("train", archive)
    return folder


@functools.cache
def imdb_splits(archive: Path) -> dict[str, imdb.ImdbSplit]:
    """Every split of the real archive, read through the session's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(imdb.CACHE_ENV_VAR, str(imdb_cache_dir(archive)))
        return {name: imdb.read_imdb(name, archive) for name in imdb.SPLITS}
