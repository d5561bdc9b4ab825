"""The IMDb loader on the real archive, on an extracted copy, and on bad input."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from glove_imdb_data import imdb_cache_dir, imdb_splits, write_tiny_imdb_archive

from attention_lab.cli.main import main as cli_main
from attention_lab.data import imdb
from attention_lab.errors import AttentionLabError
from attention_lab.io import CACHE_ENV_VAR


@pytest.fixture(scope="session")
def imdb_cache(imdb_archive):
    return imdb_cache_dir(imdb_archive), imdb_splits(imdb_archive)


@pytest.fixture
def use_cache(imdb_cache, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(imdb_cache[0]))
    return imdb_cache[1]


@pytest.fixture(scope="session")
def small_copy(tmp_path_factory, imdb_cache):
    """An extracted-style aclImdb/ folder with 30 reviews per label folder from the archive."""
    root = tmp_path_factory.mktemp("small") / "aclImdb"
    splits = imdb_cache[1]
    for split, parent in (("train", "train"), ("test", "test"), ("unsupervised", "train")):
        data = splits[split]
        for folder, label in (("neg", 0), ("pos", 1), ("unsup", -1)):
            if (folder == "unsup") != (split == "unsupervised"):
                continue
            target = root / parent / folder
            target.mkdir(parents=True)
            rows = np.flatnonzero(data.labels == label)[:30]
            for number, row in enumerate(rows):
                (target / f"{number}_7.txt").write_bytes(b"  " + data.texts[row] + b"\n")
    return root


def test_archive_counts_and_labels(use_cache):
    counts = {name: (len(split), split.label_counts()) for name, split in use_cache.items()}
    assert counts == {
        "train": (25000, {"neg": 12500, "pos": 12500}),
        "test": (25000, {"neg": 12500, "pos": 12500}),
        "unsupervised": (50000, {"unlabelled": 50000}),
    }
    train = use_cache["train"]
    # tfds strips surrounding whitespace; the fixed shuffle mixes labels in any prefix.
    assert all(text == text.strip() and text for text in train.texts[:1000])
    assert 400 < train.labels[:1000].sum() < 600
    assert train.empty_reviews() == 0


def test_load_imdb_matches_tfds_element_spec(use_cache, imdb_archive):
    import tensorflow as tf

    dataset = imdb.load_imdb("test", imdb_archive)
    assert dataset.element_spec == (
        tf.TensorSpec(shape=(), dtype=tf.string),
        tf.TensorSpec(shape=(), dtype=tf.int64),
    )
    assert int(dataset.cardinality()) == 25000
    text, label = next(iter(dataset))
    assert text.numpy() == use_cache["test"].texts[0]
    assert int(label) == use_cache["test"].labels[0]
    unsup = imdb.load_imdb_unsupervised(imdb_archive)
    assert int(unsup.cardinality()) == 50000
    assert {int(label) for _, label in unsup.take(50)} == {-1}


def test_second_read_uses_cache_not_archive(use_cache, imdb_archive, monkeypatch):
    def no_tar(*args, **kwargs):
        raise AssertionError("the archive was read again")

    monkeypatch.setattr(tarfile, "open", no_tar)
    again = imdb.read_imdb("train", imdb_archive)
    assert again.texts == use_cache["train"].texts
    np.testing.assert_array_equal(again.labels, use_cache["train"].labels)


def test_env_var_and_extracted_directory(small_copy, use_cache, monkeypatch):
    monkeypatch.setenv(imdb.ENV_VAR, str(small_copy.parent))  # the folder holding aclImdb/
    source = imdb.resolve_imdb_source()
    assert source == imdb.ImdbSource("directory", small_copy.resolve())
    for split in imdb.SPLITS:
        local = imdb.read_imdb(split)
        full = use_cache[split]
        expected = set(zip(full.texts, full.labels.tolist(), strict=True))
        got = set(zip(local.texts, local.labels.tolist(), strict=True))
        assert len(got) == (30 if split == "unsupervised" else 60)
        assert got <= expected  # same stripped bytes and labels as the archive


def test_stats_cli_on_small_copy(small_copy, capsys):
    assert cli_main(["imdb", "stats", "--data", str(small_copy), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["splits"]["train"] == {"reviews": 60, "neg": 30, "pos": 30, "empty": 0}
    assert report["splits"]["unsupervised"]["unlabelled"] == 30
    assert report["vocab_size"] > report["vocab_size_clean"] > 1000
    assert report["max_tokens"] > 100


def test_offline_without_copy_explains_download(monkeypatch):
    monkeypatch.delenv(imdb.ENV_VAR, raising=False)
    monkeypatch.setattr(imdb, "_tfds_prepared", lambda: False)
    monkeypatch.setattr(imdb, "online", lambda: False)
    with pytest.raises(AttentionLabError, match="aclImdb_v1.tar.gz.*--data PATH"):
        imdb.resolve_imdb_source()


def test_bad_inputs(tmp_path, imdb_archive, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    with pytest.raises(AttentionLabError, match="not found"):
        imdb.read_imdb("train", tmp_path / "missing.tar.gz")
    with pytest.raises(AttentionLabError, match="not an aclImdb directory"):
        imdb.read_imdb("train", tmp_path)
    with pytest.raises(AttentionLabError, match="unknown IMDb split"):
        imdb.read_imdb("validation", tmp_path)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 10)
    with pytest.raises(AttentionLabError, match="damaged or not a tar"):
        imdb.read_imdb("train", garbage)
    truncated = tmp_path / "truncated.tar.gz"
    with open(imdb_archive, "rb") as handle:
        truncated.write_bytes(handle.read(200_000))
    with pytest.raises(AttentionLabError, match="damaged or not a tar"):
        imdb.read_imdb("train", truncated)
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        info = tarfile.TarInfo("notes/readme.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    with pytest.raises(AttentionLabError, match="not the IMDb archive"):
        imdb.read_imdb("train", other)
    assert not any(Path(tmp_path / "cache").rglob("manifest.json"))  # nothing half-written
    # A directory with train/ and test/ but no pos/ folder.
    (tmp_path / "fake" / "train" / "neg").mkdir(parents=True)
    (tmp_path / "fake" / "test").mkdir()
    with pytest.raises(AttentionLabError, match="pos is missing"):
        imdb.read_imdb("train", tmp_path / "fake")


def test_cli_bad_path_exits_2(tmp_path, capsys):
    assert cli_main(["imdb", "stats", "--data", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "error: IMDb data not found" in err and "Traceback" not in err


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:10])


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "file", "reason"),
    [
        (_truncate, "train.texts.bin", "train.texts.bin has 10 bytes, not "),
        (_flip_last_byte, "train.labels.npy", "train.labels.npy does not match its SHA-256"),
        (Path.unlink, "train.offsets.npy", "train.offsets.npy is missing"),
        (_truncate, "manifest.json", "unreadable: JSONDecodeError"),
    ],
)
def test_a_damaged_cache_is_rebuilt_and_said(tmp_path, monkeypatch, caplog, damage, file, reason):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    archive = write_tiny_imdb_archive(tmp_path / "aclImdb_v1.tar.gz")
    first = imdb.read_imdb("train", archive)
    # Label 1 is the archive's pos/ folder, whose tiny reviews say "good".
    assert [b"good" in text for text in first.texts] == [bool(x) for x in first.labels]
    [folder] = (tmp_path / "cache" / "imdb").iterdir()
    damage(folder / file)
    again = imdb.read_imdb("train", archive)
    assert again.texts == first.texts
    np.testing.assert_array_equal(again.labels, first.labels)
    [warning] = caplog.messages
    assert f"the IMDb cache {folder} is damaged ({reason}" in warning
    assert f"rebuilding it from {archive}" in warning
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no leftovers
