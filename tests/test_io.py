"""Atomic writes leave either the whole result or nothing."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from attention_lab.errors import AttentionLabError
from attention_lab.io import (
    atomic_directory,
    atomic_file,
    atomic_write_json,
    atomic_write_text,
    check_separate,
)


def test_atomic_directory_replaces_only_on_success(tmp_path):
    dest = tmp_path / "ckpt"
    with atomic_directory(dest, writer="tests") as tmp:  # marked: ours to replace
        (tmp / "a.txt").write_text("first")
    assert (dest / "a.txt").read_text() == "first"

    with pytest.raises(RuntimeError), atomic_directory(dest, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("killed mid-write")
    assert (dest / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]

    with pytest.raises(AttentionLabError, match="already exists; pass --overwrite"):
        atomic_directory(dest).__enter__()

    with atomic_directory(dest, overwrite=True, writer="tests") as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in dest.iterdir()) == [".attention_lab", "b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_atomic_write_text(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    atomic_write_text(path, "{}")
    assert path.read_text() == "{}"
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_atomic_file_keeps_the_old_content_when_the_writer_fails(tmp_path):
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")
    with pytest.raises(OSError), atomic_file(path) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"half")
        raise OSError("disk full")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_written_files_and_folders_get_the_umask_mode_not_0600(tmp_path):
    mask = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "run.json", {"a": 1})
        with atomic_directory(tmp_path / "out") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "run.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert json.loads((tmp_path / "run.json").read_text()) == {"a": 1}


def test_a_killed_writers_temporary_folder_is_removed_by_the_next_writer(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    leftover = tmp_path / f".out.tmp-{int(dead.stdout)}-abcd"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"0" * 100)
    mine = tmp_path / f".out.tmp-{os.getpid()}-live"  # a live writer's folder stays
    mine.mkdir()
    with atomic_directory(tmp_path / "out") as tmp:
        (tmp / "a").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [mine.name, "out"]


def test_overwrite_replaces_only_folders_this_project_wrote(tmp_path):
    theirs = tmp_path / "photos"
    theirs.mkdir()
    (theirs / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(AttentionLabError, match="not written by attention_lab"):
        atomic_directory(theirs, overwrite=True, is_ours=lambda p: False).__enter__()
    assert (theirs / "holiday.jpg").read_bytes() == b"\xff\xd8"
    with pytest.raises(AttentionLabError, match="current folder"):
        atomic_directory(Path.cwd(), overwrite=True, is_ours=lambda p: True).__enter__()


@pytest.mark.parametrize("out", ["src", "src/inner", "."])
def test_check_separate_refuses_an_output_that_overlaps_the_input(tmp_path, out):
    (tmp_path / "src").mkdir()
    with pytest.raises(AttentionLabError, match="overlaps the input"):
        check_separate(tmp_path / out, tmp_path / "src")
    check_separate(tmp_path / "elsewhere", tmp_path / "src")
