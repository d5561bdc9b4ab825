"""The real IMDb archive and GloVe file, each read once per test session."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

from attention_lab.data import imdb
from attention_lab.data.glove import GloveVectors, load_glove
from attention_lab.data.text_encoder import build_vocabulary


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


@functools.cache
def train_vocabulary(archive: Path) -> tuple[list[str], int]:
    """The chapter's vocabulary and longest review over the full train split."""
    return build_vocabulary(imdb_splits(archive)["train"].texts)


@functools.cache
def glove_vectors(path: Path) -> GloveVectors:
    """The real GloVe file, parsed once (400,000 lines)."""
    return load_glove(path)
