"""Atomic writes leave either the whole result or nothing."""

from __future__ import annotations

import pytest

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_directory, atomic_write_text


def test_atomic_directory_replaces_only_on_success(tmp_path):
    dest = tmp_path / "ckpt"
    with atomic_directory(dest) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (dest / "a.txt").read_text() == "first"

    with pytest.raises(RuntimeError), atomic_directory(dest, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("killed mid-write")
    assert (dest / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]

    with pytest.raises(AttentionLabError, match="already exists; pass --overwrite"):
        atomic_directory(dest).__enter__()

    with atomic_directory(dest, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in dest.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_atomic_write_text(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    atomic_write_text(path, "{}")
    assert path.read_text() == "{}"
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]
