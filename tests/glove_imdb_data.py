"""The real IMDb archive and GloVe file, each read once per test session, and tiny stand-ins
written in a few milliseconds for the tests of files, folders and bad input."""

from __future__ import annotations

import atexit
import functools
import gzip
import io
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest

from attention_lab.data import imdb
from attention_lab.data.glove import GloveVectors, load_glove
from attention_lab.data.text_encoder import build_vocabulary
from attention_lab.io import CACHE_ENV_VAR


@functools.cache
def imdb_cache_dir(archive: Path) -> Path:
    """A temporary cache folder holding ``archive``'s splits (streamed once, then memory-read)."""
    folder = Path(tempfile.mkdtemp(prefix="attention-lab-imdb-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV_VAR, str(folder))
        imdb.read_imdb("train", archive)
    return folder


@functools.cache
def imdb_splits(archive: Path) -> dict[str, imdb.ImdbSplit]:
    """Every split of the real archive, read through the session's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV_VAR, str(imdb_cache_dir(archive)))
        return {name: imdb.read_imdb(name, archive) for name in imdb.SPLITS}


@functools.cache
def train_vocabulary(archive: Path) -> tuple[list[str], int]:
    """The chapter's vocabulary and longest review over the full train split."""
    return build_vocabulary(imdb_splits(archive)["train"].texts)


@functools.cache
def glove_vectors(path: Path) -> GloveVectors:
    """The real GloVe file, parsed once (400,000 lines)."""
    return load_glove(path)


TINY_WORDS = ("good", "great", "fun", "bad", "awful", "dull", "the", "movie", "plot", "was")


def tiny_review(label: str, number: int) -> bytes:
    """A short review whose words tell its label (``pos``, ``neg``, ``unsup``)."""
    words = {"pos": "good great fun", "neg": "bad awful dull", "unsup": "plot"}[label]
    return f"  The movie {number} was {words}.\n".encode()


def write_tiny_imdb_archive(path: Path, per_folder: int = 4) -> Path:
    """An ``aclImdb_v1.tar.gz`` look-alike: ``per_folder`` reviews in each of the five
    folders (train/test × pos/neg, train/unsup)."""
    with tarfile.open(path, "w:gz") as tar:
        for folder in ("train/pos", "train/neg", "train/unsup", "test/pos", "test/neg"):
            for number in range(per_folder):
                data = tiny_review(folder.split("/")[1], number)
                info = tarfile.TarInfo(f"aclImdb/{folder}/{number}_7.txt")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def write_tiny_glove(path: Path, dim: int = 50, lines: list[str] | None = None) -> Path:
    """A gzipped GloVe file of :data:`TINY_WORDS` with seeded ``dim``-d vectors, then
    ``lines`` as they are (for malformed ones)."""
    rng = np.random.default_rng(0)
    rows = [
        " ".join([word, *(f"{v:.5f}" for v in rng.standard_normal(dim))]) for word in TINY_WORDS
    ]
    path.write_bytes(gzip.compress("\n".join([*rows, *(lines or [])]).encode() + b"\n"))
    return path
