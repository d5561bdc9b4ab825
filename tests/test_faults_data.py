"""Faults and bad input for the IMDb, GloVe and seq2seq commands (issue 14's cases, and the
solid ones nearby so that they stay solid).

Each case: its exit status (2 for bad input: one line on stderr, no traceback), the words the
message must contain, and, for the commands that write, that the user's files are intact byte
for byte and that a refused command left no folder behind. Tiny data throughout: an IMDb
look-alike archive of 20 reviews and a 10-word GloVe file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_faults import assert_refused, run_cli, snapshot
from glove_imdb_data import TINY_WORDS, write_tiny_glove, write_tiny_imdb_archive

from attention_lab.io import CACHE_ENV_VAR

TINY_TRAIN = ("--max-len", "8", "--epochs", "1")
TINY_SEQ2SEQ = (
    *("--task", "dates", "--epochs", "1", "--train-examples", "64", "--batch-size", "64"),
    *("--test-examples", "8", "--units", "4"),
)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The tiny archive and GloVe files, good and bad, in one folder."""
    folder = tmp_path_factory.mktemp("data")
    write_tiny_imdb_archive(folder / "aclImdb_v1.tar.gz")
    write_tiny_glove(folder / "glove.6B.50d.txt.gz")
    nan = "broken " + " ".join(["nan"] * 50)
    write_tiny_glove(folder / "nan.50d.txt.gz", lines=[nan])
    write_tiny_glove(folder / "short.50d.txt.gz", lines=["short 0.1 0.2"])
    (folder / "garbage.tar.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    return folder


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def user_files(tmp_path) -> Path:
    """A folder of the user's own files, which no command may touch."""
    folder = tmp_path / "mine"
    (folder / "notes").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\section{Results}\n")
    (folder / "notes" / "todo.txt").write_bytes(b"\x00\x01 keep me")
    return folder


def _with(args, name, value) -> list:
    """``args`` (``--name value`` pairs) with ``name`` set to ``value``."""
    options = dict(zip(args[::2], args[1::2], strict=True))
    options[name] = value
    return [item for pair in options.items() for item in pair]


# --- imdb -------------------------------------------------------------------------------


def test_imdb_stats_on_bad_paths(tmp_path, data):
    assert_refused(run_cli("imdb", "stats", "--data", tmp_path / "none"), "IMDb data not found")
    garbage = run_cli("imdb", "stats", "--data", data / "garbage.tar.gz", subprocess=True)
    assert_refused(garbage, "damaged or not a tar archive", "download aclImdb_v1.tar.gz again")
    assert_refused(run_cli("imdb", "stats", "--data", tmp_path), "is not an aclImdb directory")


def test_imdb_stats_rebuilds_a_truncated_cache_and_says_so(data, cache):
    archive = data / "aclImdb_v1.tar.gz"
    status, out, err = run_cli("imdb", "stats", "--data", archive, "--json")
    assert status == 0 and err == ""
    first = json.loads(out)
    assert first["splits"]["train"] == {"reviews": 8, "neg": 4, "pos": 4, "empty": 0}
    [folder] = (cache / "imdb").iterdir()
    texts = folder / "train.texts.bin"
    texts.write_bytes(texts.read_bytes()[:10])  # the truncation that gave empty reviews
    status, out, err = run_cli("imdb", "stats", "--data", archive, "--json")
    assert status == 0 and json.loads(out) == first
    assert "warning: the IMDb cache" in err and "is damaged (train.texts.bin has 10 bytes" in err
    assert "rebuilding it from" in err and len(err.strip().splitlines()) == 1


# --- glove stats ----------------------------------------------------------------------


def test_glove_stats_refuses_nan_and_names_skipped_lines(data):
    archive = data / "aclImdb_v1.tar.gz"
    nan = run_cli("glove", "stats", "--glove", data / "nan.50d.txt.gz", "--data", archive)
    assert_refused(nan, f"line {len(TINY_WORDS) + 1} ('broken') holds a NaN", "damaged")
    status, out, err = run_cli(
        "glove", "stats", "--glove", data / "short.50d.txt.gz", "--data", archive, "--json"
    )
    assert status == 0 and json.loads(out)["skipped_lines"] == 1
    assert f"skipped 1 malformed line(s): line {len(TINY_WORDS) + 1} ('short': 2 values" in err
    missing = run_cli("glove", "stats", "--glove", data / "none.txt", "--data", archive)
    assert_refused(missing, "GloVe file not found", "glove.6B.zip")


# --- glove train / evaluate ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("--limit", "0"), ["--limit must be at least 1"]),
        (("--max-len", "0"), ["--max-len must be at least 1"]),
        (("--epochs", "0"), ["--epochs must be at least 1"]),
        (("--data", "garbage.tar.gz"), ["damaged or not a tar archive"]),
        (("--glove", "nan.50d.txt.gz"), ["holds a NaN or infinite value"]),
        (("--glove", "none.txt"), ["GloVe file not found"]),
    ],
)
def test_a_refused_glove_train_creates_nothing(tmp_path, data, change, words):
    files = ("--glove", data / "glove.6B.50d.txt.gz", "--data", data / "aclImdb_v1.tar.gz")
    name, value = change
    args = _with((*TINY_TRAIN, *files), name, data / value if name in files else value)
    assert_refused(run_cli("glove", "train", "--mode", "frozen", *args, cwd=tmp_path), *words)
    assert not (tmp_path / "runs").exists()


def test_glove_train_refuses_folders_that_are_not_its_runs(tmp_path, data, user_files):
    before = snapshot(user_files)
    scratch = ["glove", "train", "--mode", "scratch", "--data", data / "aclImdb_v1.tar.gz"]
    other = run_cli(*scratch, *TINY_TRAIN, "--out", user_files)
    assert_refused(other, "is not a `glove train` run folder", "left as it is")
    resumed = run_cli(*scratch, *TINY_TRAIN, "--out", user_files, "--resume")
    assert_refused(resumed, "is not a `glove train` run folder")
    nothing = run_cli(*scratch, *TINY_TRAIN, "--resume", "--out", tmp_path / "new")
    assert_refused(nothing, "nothing to resume")
    assert snapshot(user_files) == before
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_glove_train_keeps_finished_runs(tmp_path, data, user_files):
    """Two real tiny runs, a folder per mode; reruns refused; evaluate on damaged runs."""
    archive, glove = data / "aclImdb_v1.tar.gz", data / "glove.6B.50d.txt.gz"
    frozen = ["glove", "train", "--mode", "frozen", "--glove", glove, "--data", archive]
    scratch = ["glove", "train", "--mode", "scratch", "--data", archive]
    status, out, _ = run_cli(*frozen, *TINY_TRAIN, cwd=tmp_path)
    assert status == 0 and "written to runs/glove-frozen" in out
    status, out, _ = run_cli(*scratch, *TINY_TRAIN, cwd=tmp_path)
    assert status == 0 and "written to runs/glove-scratch" in out  # a folder per mode
    finished = snapshot(tmp_path / "runs")
    assert {"glove-frozen/metrics.json", "glove-scratch/curves.png"} <= set(finished)
    again = run_cli(*frozen, *TINY_TRAIN, cwd=tmp_path)
    assert_refused(again, "runs/glove-frozen holds a finished run (1 epochs", "new --out")
    resumed = run_cli(*scratch, *TINY_TRAIN, "--resume", cwd=tmp_path)
    assert_refused(resumed, "holds a finished run")
    assert snapshot(tmp_path / "runs") == finished

    run = tmp_path / "runs" / "glove-scratch"
    status, out, _ = run_cli("glove", "evaluate", run, "--data", archive, "--json")
    assert status == 0 and json.loads(out)["test_reviews"] == 8
    assert_refused(run_cli("glove", "evaluate", user_files, "--data", archive), "is missing")
    assert_refused(
        run_cli("glove", "evaluate", run, "--data", archive, "--limit", "0"), "--limit must be"
    )
    (run / "model.keras").write_bytes(b"PK\x03\x04 not a zip")
    assert_refused(run_cli("glove", "evaluate", run, "--data", archive), "cannot be loaded")
    (run / "encoder.json").write_text("[1, 2]")
    assert_refused(run_cli("glove", "evaluate", run, "--data", archive), "encoder.json or vocab")


def test_glove_train_needs_glove_unless_scratch(tmp_path, data):
    args = ["glove", "train", "--mode", "finetune", "--data", data / "aclImdb_v1.tar.gz"]
    assert_refused(run_cli(*args, cwd=tmp_path), "needs GloVe vectors: pass --glove PATH")
    assert not (tmp_path / "runs").exists()


# --- seq2seq ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seq2seq_run(tmp_path_factory) -> Path:
    """A run folder of an untrained tiny dates model (no training needed to load one)."""
    from attention_lab.tasks import DATES
    from attention_lab.training.seq2seq import TrainingSettings, build_model, save_run

    model = build_model(DATES, True, TrainingSettings(units=4, embedding_dim=4))
    record = {
        "task": "dates",
        "attention": True,
        "settings": {},
        "exact_match": 0.0,
        "exact_match_by_length": [{"first": 5, "last": 9, "examples": 1, "exact_match": 0.0}],
    }
    return save_run(model, tmp_path_factory.mktemp("seq2seq") / "dates", record)


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_seq2seq_translate_refuses_blank_input(seq2seq_run, text):
    result = run_cli("seq2seq", "translate", "--checkpoint", seq2seq_run, "3 March 2021", text)
    assert_refused(result, "is empty or only whitespace")


def test_seq2seq_translate_refuses_broken_run_folders(tmp_path, seq2seq_run, user_files):
    def translate(folder):
        return run_cli("seq2seq", "translate", "--checkpoint", folder, "3 March 2021")

    assert_refused(translate(user_files), "not a seq2seq run folder", "seq2seq train --out")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.keras").write_bytes((seq2seq_run / "model.keras").read_bytes())
    for record, words in [
        (b"\x93\xff random bytes", "training.json is not JSON"),
        (b"[1, 2]", "training.json holds a list, not an object"),
        (b'{"task": "dates"}', "training.json lacks attention, settings"),
    ]:
        (broken / "training.json").write_bytes(record)
        assert_refused(translate(broken), words)
    (broken / "training.json").write_bytes((seq2seq_run / "training.json").read_bytes())
    (broken / "model.keras").write_bytes(b"\x00" * 64)
    assert_refused(translate(broken), "model.keras cannot be loaded", "train it again")
    compare = ["seq2seq", "compare", "--checkpoint", seq2seq_run, "--checkpoint", user_files]
    assert_refused(run_cli(*compare, "--out", tmp_path / "c.png"), "not a seq2seq run folder")
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("--epochs", "0"), "--epochs must be at least 1"),
        (("--learning-rate", "0"), "--learning-rate must be positive"),
        (("--train-examples", "10"), "10 training examples make no batch of 64"),
    ],
)
def test_a_refused_seq2seq_train_creates_nothing(tmp_path, change, words):
    out = tmp_path / "runs" / "dates"
    args = _with(TINY_SEQ2SEQ, *change)
    assert_refused(run_cli("seq2seq", "train", *args, "--out", out), words)
    assert not out.exists() and not any((tmp_path / "runs").glob(".*"))


def test_seq2seq_train_never_replaces_other_folders(user_files):
    before = snapshot(user_files)
    train = ["seq2seq", "train", *TINY_SEQ2SEQ, "--out"]
    line = assert_refused(run_cli(*train, user_files), "was not written by attention_lab")
    assert "--overwrite" not in line  # it would be refused too: not suggested
    refused = run_cli(*train, user_files, "--overwrite")
    assert_refused(refused, "was not written by attention_lab", "left as it is")
    assert snapshot(user_files) == before


@pytest.mark.slow
def test_seq2seq_train_overwrite_replaces_its_own_run(tmp_path, seq2seq_run):
    train = ["seq2seq", "train", *TINY_SEQ2SEQ, "--out"]
    ours = tmp_path / "ours"
    ours.mkdir()
    for name in ("model.keras", "training.json"):
        (ours / name).write_bytes((seq2seq_run / name).read_bytes())
    assert_refused(run_cli(*train, ours), "already exists; pass --overwrite")
    status, out, _ = run_cli(*train, ours, "--overwrite")
    assert status == 0 and f"saved -> {ours}" in out
    record = json.loads((ours / "training.json").read_text())
    assert record["test_examples"] == 8 and record["settings"]["units"] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["ours"]  # no temporaries left beside it
