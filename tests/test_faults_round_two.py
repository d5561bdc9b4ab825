"""Issue 29's fault classes through the real command line: ownership by proof, write errors,
bad values, bytes that are not UTF-8, malformed metadata, one writer per folder, sizes that
cannot fit, messages that point the right way.

Each refusal: exit status 2, exactly one line on stderr, no traceback, and every file that
existed before byte-identical afterwards (``snapshot``), with nothing added. The tests may run
as root, where ``chmod`` does not stop a write: read-only and full file systems are injected
as the ``OSError`` the system would raise, at the calls that create files.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
from cli_faults import assert_refused, run_cli, snapshot
from glove_imdb_data import write_tiny_glove, write_tiny_imdb_archive
from tiny_runs import write_tiny_checkpoint

from attention_lab.io import LOCK, MARKER, atomic_write_json, folder_lock

pytest.importorskip("torch")

TEXT = "the movie was good great fun"


def finetune_args(inputs, out, *extra):
    return (
        "finetune", "--model", inputs["hf"], "--data", inputs["data"], "--out", out,
        "--head", "prebuilt", "--epochs", "1", "--batch-size", "8", "--learning-rate", "1e-3",
        "--no-progress", "--precision", "float32", "--max-len", "16", "--limit", "24", *extra,
    )  # fmt: skip


def pretrain_args(inputs, out, *extra):
    """A pre-training of a one-block BERT on the trial's 40 texts: a few seconds."""
    return (
        "pretrain", "--vocab", inputs["hf"], "--data", inputs["texts"], "--out", out,
        "--layers", "1", "--hidden", "16", "--heads", "2", "--intermediate", "32",
        "--max-positions", "32", "--max-len", "16", "--steps", "2", "--eval-every", "1",
        "--batch-size", "4", "--holdout", "4", "--precision", "float32", "--no-progress", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    found = {
        "hf": write_tiny_checkpoint(root / "bert"),
        "data": write_tiny_imdb_archive(root / "aclImdb_v1.tar.gz", per_folder=12),
        "glove": write_tiny_glove(root / "glove.6B.50d.txt.gz"),
        "texts": root / "texts.txt",
    }
    found["texts"].write_text((TEXT + "\nthe plot was bad awful dull\n") * 20)
    found["ours"] = root / "ours"
    assert run_cli("convert", found["hf"], "--out", found["ours"])[0] == 0
    found["run"] = root / "run"
    status, _, err = run_cli(*finetune_args(found, found["run"]))
    assert status == 0, err
    return found


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_LAB_CACHE", str(tmp_path / "cache"))


def user_folder(folder, *decoys):
    """A folder of the user's own files, with ``decoys`` (name, bytes) that look like ours."""
    folder.mkdir(parents=True)
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8\xff\xe0 a photo")
    for name, content in decoys:
        (folder / name).write_bytes(content)
    return folder


def refused_intact(result, root, before, *words):
    """One-line refusal, and ``root`` exactly as it was (nothing changed, removed or added)."""
    line = assert_refused(result, *words)
    assert snapshot(root) == before
    return line


# --- 1. ownership by proof ----------------------------------------------------------------

DECOYS = {
    "config.json naming attention_lab": ("config.json", b'{"attention_lab": {"format": 2}}'),
    "run.json": ("run.json", b'{"status": "complete"}'),
    "manifest.json": ("manifest.json", b'{"files": {}}'),
}


@pytest.mark.parametrize("decoy", DECOYS.values(), ids=DECOYS.keys())
def test_overwrite_needs_our_marker_not_a_file_name(inputs, tmp_path, decoy):
    mine = user_folder(tmp_path / "mine", decoy)
    before = snapshot(tmp_path)
    for command in (
        ("convert", inputs["hf"]),
        ("export", "--checkpoint", inputs["run"]),
        ("train-tokenizer", "--data", inputs["texts"]),
    ):
        refused_intact(run_cli(*command, "--out", mine, "--overwrite"), tmp_path, before)


def test_a_finished_run_is_never_replaced_by_overwrite(inputs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(inputs["run"], run)
    before = snapshot(tmp_path)
    for command in (("convert", inputs["hf"]), ("export", "--checkpoint", inputs["run"])):
        line = refused_intact(
            run_cli(*command, "--out", run, "--overwrite"), tmp_path, before, "fine-tuning run"
        )
        assert "never replaces" in line


def test_our_folders_are_replaced_and_old_ones_only_when_their_hash_verifies(inputs, tmp_path):
    ours = tmp_path / "ours"
    assert run_cli("convert", inputs["hf"], "--out", ours)[0] == 0
    marker = json.loads((ours / MARKER).read_text())
    assert marker["written_by"] == "save_bert" and marker["command"] == "attention-lab convert"
    (ours / MARKER).unlink()  # a folder written before markers: its config.json's sha256 proves it
    assert run_cli("convert", inputs["hf"], "--out", ours, "--overwrite")[0] == 0
    (ours / MARKER).unlink()
    weights = bytearray((ours / "model.safetensors").read_bytes())
    weights[-1] ^= 1  # the recorded hash no longer verifies: not provably ours
    (ours / "model.safetensors").write_bytes(bytes(weights))
    before = snapshot(tmp_path)
    refused = run_cli("convert", inputs["hf"], "--out", ours, "--overwrite")
    refused_intact(refused, tmp_path, before, "not written by attention_lab")


def one_line(status, stderr, prefix, *words):
    """What assert_refused checks, for the scripts outside ``attention-lab`` (``prefix``)."""
    lines = stderr.strip().splitlines()
    assert status == 2 and len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith(f"{prefix}: error: "), lines[0]
    for word in words:
        assert word in lines[0], f"{word!r} not in the message: {lines[0]}"


def test_jain_wallace_overwrite_follows_the_shared_rule(inputs, tmp_path, capsys):
    from attention_lab.interpret import jain_wallace

    forged = user_folder(tmp_path / "forged")  # its own results.json check once accepted this
    (forged / "results.json").write_text(json.dumps({"format": jain_wallace.FORMAT}))
    glove = tmp_path / "glove"
    glove.mkdir()
    shutil.copy(inputs["glove"], glove)
    before = snapshot(tmp_path)
    for out, words in (
        (forged, "not written by attention_lab"),
        (glove, "overlaps the input"),
        (inputs["run"], "never replaces a run"),
    ):
        args = ["--glove", str(glove / inputs["glove"].name), "--out", str(out), "--overwrite"]
        status = jain_wallace.main([*args, "--data", str(inputs["data"]), "--quick"])
        one_line(status, capsys.readouterr().err, "jain_wallace", words)
        assert snapshot(tmp_path) == before


def test_benchmark_outputs_follow_the_shared_rule(inputs, tmp_path, capsys):
    from benchmarks import finetune_race, transfer_study
    from benchmarks import run as benchmarks_run

    run, mine = tmp_path / "run", user_folder(tmp_path / "mine")
    shutil.copytree(inputs["run"], run)
    (tmp_path / "notes.txt").write_text("mine")
    race = ["--quick", "--model", str(inputs["hf"]), "--data", str(inputs["data"])]
    before = snapshot(tmp_path)
    for main, args, prefix, words in (
        (benchmarks_run.main, ["--quick", "--out", run], "python -m benchmarks", "run folder"),
        (benchmarks_run.main, ["--out", tmp_path / "notes.txt"], "python -m benchmarks", "file"),
        (finetune_race.main, [*race, "--out", mine], "finetune_race", "no .attention_lab"),
        (finetune_race.main, [*race, "--out", run], "finetune_race", "holds a fine-tuning"),
        (transfer_study.main, ["--fast", "--root", mine], "transfer_study", "not written by"),
    ):
        status = main([str(arg) for arg in args])
        one_line(status, capsys.readouterr().err, prefix, words)
        assert snapshot(tmp_path) == before
    # a new folder is marked, and the next race writes into it again
    finetune_race.check(finetune_race.parse_args([*race, "--out", str(tmp_path / "race")]))
    assert json.loads((tmp_path / "race" / MARKER).read_text())["written_by"] == "finetune_race"
    finetune_race.check(finetune_race.parse_args([*race, "--out", str(tmp_path / "race")]))


def test_train_tokenizer_never_replaces_its_own_input(tmp_path):
    mine = user_folder(tmp_path / "mine", ("texts.txt", (TEXT + "\n").encode() * 9))
    before = snapshot(tmp_path)
    for data, out in ((mine / "texts.txt", mine), (mine, mine / "tok")):
        refused = run_cli("train-tokenizer", "--data", data, "--out", out, "--overwrite")
        refused_intact(refused, tmp_path, before, "overlaps the input")


def test_one_output_file_never_lands_in_a_model_or_run_folder(inputs, tmp_path):
    run, ours = tmp_path / "run", tmp_path / "ours"
    shutil.copytree(inputs["run"], run)
    shutil.copytree(inputs["ours"], ours)
    s2s = user_folder(tmp_path / "s2s", ("training.json", b'{"task": "dates"}'))
    before = snapshot(tmp_path)
    for args in (
        ("attention", "--model", run, TEXT, "--html", run / "config.json"),  # its own input
        ("attention", "--model", inputs["ours"], TEXT, "--out", ours / "heads.png"),
        ("attention", "--model", inputs["ours"], TEXT, "--html", run / "vocab.txt"),
        ("seq2seq", "plot", "--checkpoint", s2s, "3 May 2020", "--out", s2s / "a.png"),
    ):
        refused_intact(run_cli(*args), tmp_path, before)


# --- 2. write errors: one line, nothing half-written ------------------------------------------


@pytest.fixture
def failing_writes(monkeypatch):
    """Make every new file or folder fail with the given errno (an existing folder still
    answers that it exists, as a read-only file system does)."""

    def inject(code):
        def fail(*args, **kwargs):
            raise OSError(code, os.strerror(code), str(kwargs.get("dir") or args[0]))

        real_mkdir = os.mkdir

        def mkdir(path, *args, **kwargs):
            if os.path.exists(path):
                return real_mkdir(path, *args, **kwargs)
            raise OSError(code, os.strerror(code), str(path))

        monkeypatch.setattr("tempfile.mkstemp", fail)
        monkeypatch.setattr("tempfile.mkdtemp", fail)
        monkeypatch.setattr("os.mkdir", mkdir)

    return inject


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EROFS, "read-only file system"),
        (errno.ENOSPC, "disk is full"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_write_errors_are_one_line_naming_the_fix(inputs, tmp_path, failing_writes, code, words):
    before = snapshot(tmp_path)
    failing_writes(code)
    for args in (
        ("convert", inputs["hf"], "--out", tmp_path / "new"),
        ("train-tokenizer", "--data", inputs["texts"], "--out", tmp_path / "tok"),
        ("attention", "--model", inputs["ours"], TEXT, "--html", tmp_path / "view.html"),
        ("export", "--checkpoint", inputs["run"], "--out", tmp_path / "exported"),
    ):
        refused_intact(run_cli(*args), tmp_path, before, words)


def test_a_disk_that_fills_mid_write_leaves_no_temporary_file(inputs, tmp_path, monkeypatch):
    import safetensors.numpy

    def half_then_full(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\0" * 1000)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)

    monkeypatch.setattr(safetensors.numpy, "save_file", half_then_full)
    before = snapshot(tmp_path)
    line = refused_intact(
        run_cli("convert", inputs["hf"], "--out", tmp_path / "new"), tmp_path, before, "full"
    )
    assert "new" in line and ".tmp-" not in line  # the user's path, not the temporary name


@pytest.mark.parametrize("place", ["/proc", "/sys"])
def test_kernel_file_systems_are_one_line(inputs, tmp_path, place):
    out = f"{place}/attention-lab-test"
    for args in (
        ("convert", inputs["hf"], "--out", out),
        ("attention", "--model", inputs["ours"], TEXT, "--html", f"{out}.html"),
        finetune_args(inputs, out),
    ):
        assert_refused(run_cli(*args), "kernel")


# --- 3. bad values refused before anything is written -------------------------------------


BAD_VALUES = {  # command: its arguments, and (option, value, message) it refuses before writing
    "finetune": (
        finetune_args,
        [
            ("--warmup", "2", "--warmup must be in [0, 1)"),
            ("--warmup", "nan", "--warmup must be a finite number"),
            ("--learning-rate", "inf", "--learning-rate must be a finite number"),
            ("--learning-rate", "0", "--learning-rate must be positive"),
            ("--weight-decay", "nan", "--weight-decay must be a finite number"),
            ("--weight-decay", "-1", "--weight-decay must be >= 0"),
            ("--clipnorm", "-1", "--clipnorm must be >= 0"),
            ("--checkpoint-every", "-5", "--checkpoint-every must be at least 0"),
        ],
    ),
    "pretrain": (
        pretrain_args,
        [
            ("--learning-rate", "inf", "--learning-rate must be a finite number"),
            ("--warmup", "2", "--warmup must be in [0, 1)"),
            ("--weight-decay", "nan", "--weight-decay must be a finite number"),
            ("--clipnorm", "-1", "--clipnorm must be >= 0"),
            ("--mask-rate", "inf", "--mask-rate must be a finite number"),
            ("--steps", "0", "--steps must be at least 1"),
            ("--hidden", "-16", "--hidden must be at least 1"),
            ("--batch-size", "two", "--batch-size must be an integer"),
        ],
    ),
}


@pytest.mark.parametrize(
    ("command", "option", "value", "words"),
    [(command, *case) for command, (_, cases) in BAD_VALUES.items() for case in cases],
)
def test_training_refuses_bad_values_before_writing(
    inputs, tmp_path, command, option, value, words
):
    args = list(BAD_VALUES[command][0](inputs, tmp_path / "run"))
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    before = snapshot(tmp_path)
    refused_intact(run_cli(*args), tmp_path, before, words)
    assert not (tmp_path / "run").exists()


def test_other_commands_refuse_bad_values_at_the_boundary(inputs, tmp_path):
    before = snapshot(tmp_path)
    for args, words in (
        (("glove", "train", "--mode", "scratch", "--learning-rate", "nan"), "--learning-rate"),
        (("seq2seq", "train", "--task", "dates", "--learning-rate", "inf"), "--learning-rate"),
        (("seq2seq", "train", "--task", "dates", "--units", "0"), "--units must be at least 1"),
        (("train-tokenizer", "--data", inputs["texts"], "--min-frequency", "0"), "frequency"),
        (("attention", "--model", inputs["ours"], TEXT, "--max-len", "-3"), "--max-len"),
    ):
        refused_intact(run_cli(*args, "--out", tmp_path / "out"), tmp_path, before, words)


def test_json_files_never_hold_nan_or_infinity(tmp_path):
    path = tmp_path / "run.json"
    atomic_write_json(path, {"loss": float("nan"), "history": [1.0, float("inf")]})
    assert json.loads(path.read_text(), parse_constant=pytest.fail) == {
        "loss": None,
        "history": [1.0, None],
    }


# --- 4. bytes that are not UTF-8 --------------------------------------------------------------


def _archive_with_bad_review(path):
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for label in ("pos", "neg"):
                for number in range(3):
                    data = f"the movie {number} was good".encode()
                    if (split, label, number) == ("train", "pos", 1):
                        data = b"the movie was \xff\xfe good"
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{number}_7.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return path


def test_bytes_that_are_not_utf8_are_named_with_their_offset(inputs, tmp_path, monkeypatch):
    archive = _archive_with_bad_review(tmp_path / "bad.tar.gz")
    glove = tmp_path / "glove.6B.50d.txt.gz"
    good = gzip.decompress(inputs["glove"].read_bytes())
    glove.write_bytes(gzip.compress(good + b"caf\xe9 " + b" ".join([b"0.1"] * 50) + b"\n"))
    bert = tmp_path / "bert"
    shutil.copytree(inputs["hf"], bert)
    (bert / "vocab.txt").write_bytes(bytes(range(256)) * 4)
    before = snapshot(tmp_path)
    for args, words in (
        (("imdb", "stats", "--data", archive), ["train/pos/1_7.txt", "byte 14"]),
        (("glove", "stats", "--glove", glove, "--data", inputs["data"]), ["line 11", "byte"]),
        (("convert", bert, "--out", tmp_path / "out"), ["vocab.txt", "byte 128"]),
    ):
        refused_intact(run_cli(*args), tmp_path, before, *words)

    # predict's standard input refuses what --file refuses, whatever the locale's errors=
    stdin = io.TextIOWrapper(io.BytesIO(b"good \xff\n"), encoding="utf-8", errors="surrogateescape")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert_refused(
        run_cli("predict", "--checkpoint", inputs["run"], "--file", "-"), "standard input", "byte 5"
    )


# --- 5. malformed metadata ------------------------------------------------------------------


def _bert_variant(inputs, folder, config=None, files=None, drop=()):
    shutil.copytree(inputs["hf"], folder)
    if config is not None:
        values = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**values, **config}))
    for name, content in (files or {}).items():
        (folder / name).write_bytes(content)
    for name in drop:
        (folder / name).unlink()
    return folder


@pytest.mark.parametrize(
    ("config", "files", "words"),
    [
        ({"architectures": [1]}, {}, ["architectures", "[1]"]),
        (None, {"model.safetensors.index.json": b"[1, 2]"}, ["malformed shard index"]),
        (None, {"model.safetensors.index.json": b'{"weight_map": {"\xff": 1}}'}, ["byte 17"]),
        (
            None,
            {"model.safetensors.index.json": b'{"weight_map": {"a": "../x/model.safetensors"}}'},
            ["not a file of this folder"],
        ),
    ],
)
def test_malformed_metadata_is_one_line(inputs, tmp_path, config, files, words):
    drop = ("model.safetensors",) if files else ()
    bert = _bert_variant(inputs, tmp_path / "bert", config, files, drop)
    shutil.copytree(inputs["hf"], tmp_path / "x")  # what a leaving path would have read
    before = snapshot(tmp_path)
    refused_intact(run_cli("convert", bert, "--out", tmp_path / "out"), tmp_path, before, *words)


@pytest.mark.parametrize("state", [{"step": "four"}, [1, 2], {"step": 3, "history": 7}])
def test_a_damaged_training_state_is_one_line_before_resuming(inputs, tmp_path, state):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    record = json.loads((inputs["run"] / "run.json").read_text())
    record["status"] = "training"
    (run / "run.json").write_text(json.dumps(record))
    (run / "checkpoints" / "state.json").write_text(json.dumps(state))
    before = snapshot(tmp_path)
    refused = run_cli(*finetune_args(inputs, run))
    refused_intact(refused, tmp_path, before, "state.json", "delete")


def test_a_folder_where_a_file_belongs_is_one_line(inputs, tmp_path):
    assert_refused(run_cli("predict", "--checkpoint", inputs["run"], "--file", tmp_path), "folder")
    assert_refused(run_cli("parity", inputs["hf"], "--texts", tmp_path), "folder")


# --- 6. one writer per folder -----------------------------------------------------------------


def _hold_lock(folder, command):
    """Another process holding ``folder``'s lock through ``folder_lock`` until it is killed."""
    holds = (
        "import sys, time; from attention_lab.io import folder_lock, set_command\n"
        f"set_command({command!r})\n"
        "with folder_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", holds, str(folder)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout.readline() == "held\n"
    return holder


def test_a_second_writer_is_refused_while_the_first_lives(inputs, tmp_path):
    """The first writer is another process holding the folder's lock through the same code
    (``folder_lock``); killed with SIGKILL, it leaves its lock behind."""
    run = tmp_path / "run"
    run.mkdir()
    first = _hold_lock(run, "attention-lab finetune")
    try:
        before = snapshot(tmp_path)
        line = refused_intact(run_cli(*finetune_args(inputs, run)), tmp_path, before, "locked")
        assert f"attention-lab finetune (process {first.pid}" in line
    finally:
        first.kill()  # SIGKILL: no cleanup runs, the lock stays
        first.wait()
    assert (run / LOCK).is_file()
    # the first writer is dead: its lock is named and taken over, and the run completes
    status, out, err = run_cli(*finetune_args(inputs, run))
    assert status == 0, err
    assert f"stale lock of attention-lab finetune (process {first.pid}" in out
    assert not (run / LOCK).exists() and json.loads((run / "run.json").read_text())["result"]


def test_pretrain_takes_the_lock_marks_its_folder_and_never_replaces_it(inputs, tmp_path):
    import socket

    pre = tmp_path / "pre"
    pre.mkdir()
    # another live process's lock (a sleeping one: the lock's code is tested with a real
    # holder above), then the same lock left by a killed one
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    lock = {"pid": first.pid, "host": socket.gethostname(), "started_at": "2026-12-07T00:00"}
    (pre / LOCK).write_text(json.dumps({**lock, "command": "attention-lab pretrain"}))
    try:
        before = snapshot(tmp_path)
        line = refused_intact(run_cli(*pretrain_args(inputs, pre)), tmp_path, before, "locked")
        assert f"attention-lab pretrain (process {first.pid}" in line
    finally:
        first.kill()
        first.wait()
    status, out, err = run_cli(*pretrain_args(inputs, pre))  # the stale lock is taken over
    assert status == 0, err
    assert f"stale lock of attention-lab pretrain (process {first.pid}" in out
    marker = json.loads((pre / MARKER).read_text())
    assert marker["written_by"] == "pretrain" and marker["command"] == "attention-lab pretrain"
    assert not (pre / LOCK).exists() and json.loads((pre / "run.json").read_text())["result"]
    before = snapshot(tmp_path)
    refused_intact(run_cli(*pretrain_args(inputs, pre)), tmp_path, before, "finished run")
    mine = user_folder(tmp_path / "mine", ("config.json", b"{}"))
    before = snapshot(tmp_path)
    refused_intact(run_cli(*pretrain_args(inputs, mine)), tmp_path, before, "left as it is")


def test_the_lock_refuses_a_second_holder_in_the_same_process(tmp_path):
    from attention_lab.errors import AttentionLabError

    with folder_lock(tmp_path, log=pytest.fail):
        with pytest.raises(AttentionLabError, match="locked by"), folder_lock(tmp_path):
            pass
        assert (tmp_path / LOCK).is_file()
    assert not (tmp_path / LOCK).exists()


# --- 7. sizes that cannot fit ----------------------------------------------------------------


def test_sizes_that_cannot_fit_are_refused_up_front(inputs, tmp_path):
    before = snapshot(tmp_path)
    steps = ("--method", "integrated-gradients", "--steps", "100000")
    refused = run_cli("attention", "--model", inputs["run"], TEXT, *steps, "--html", tmp_path / "a")
    refused_intact(refused, tmp_path, before, "--steps 100,000", "74.5 GiB", "limit of 1,024")
    glove = ("glove", "train", "--mode", "scratch", "--data", inputs["data"], "--epochs", "1")
    refused = run_cli(*glove, "--max-len", "100000", "--out", tmp_path / "g")
    refused_intact(refused, tmp_path, before, "--max-len 100,000", "limit of 4,096", "GiB")


# --- 8. messages that point the right way ---------------------------------------------------


def test_messages_point_the_right_way(inputs, tmp_path, monkeypatch):
    line = assert_refused(run_cli("convert", inputs["hf"], "--out", "/"), "root")
    assert "--overwrite" not in line
    for path in ("./no/such/model", "no/such/model", f"{tmp_path.name}/model"):
        line = assert_refused(run_cli("convert", path, cwd=tmp_path.parent), "no such directory")
        assert "hf download" not in line
    long = "x" * 100_000
    line = assert_refused(run_cli("convert", long, env={"HF_HUB_OFFLINE": "1"}))
    assert len(line) < 600 and "(100,000 characters)" in line
    truncated = tmp_path / "glove.6B.50d.txt.gz"
    truncated.write_bytes(inputs["glove"].read_bytes()[:300])
    assert_refused(
        run_cli("glove", "stats", "--glove", truncated, "--data", inputs["data"]), "truncated"
    )


@pytest.mark.parametrize("cut", [0.5, 0.98])  # in the reviews; in the gzip trailer alone
def test_a_truncated_imdb_archive_is_called_truncated(inputs, tmp_path, cut):
    data = inputs["data"].read_bytes()
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(data[: int(len(data) * cut)])
    before = snapshot(tmp_path)
    refused = run_cli("imdb", "stats", "--data", archive)
    refused_intact(refused, tmp_path, before, "is truncated", "download aclImdb_v1.tar.gz again")


def _interrupted(result) -> str:
    status, _, stderr = result
    lines = stderr.strip().splitlines()
    assert status == 130 and len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_ctrl_c_says_whether_rerunning_resumes(inputs, tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("attention_lab.training.finetune.fit_classifier", interrupt)
    line = _interrupted(run_cli(*finetune_args(inputs, tmp_path / "run")))
    assert line.endswith(
        "interrupted; run the same command again to resume from the last saved step"
    )
    assert not (tmp_path / "run" / LOCK).exists()  # the lock goes with the process
    monkeypatch.setattr("attention_lab.training.pretrain._fit", interrupt)
    line = _interrupted(run_cli(*pretrain_args(inputs, tmp_path / "pre")))
    assert line.endswith("interrupted; run the same command again to resume from its last backup")
    assert not (tmp_path / "pre" / LOCK).exists()
    monkeypatch.setattr("attention_lab.convert.bert_folder.write_bert_files", interrupt)
    before = snapshot(tmp_path)
    line = _interrupted(run_cli("convert", inputs["hf"], "--out", tmp_path / "new"))
    assert "nothing half-written was kept" in line and snapshot(tmp_path) == before


@pytest.mark.parametrize("num_labels", [0, -1, 1.5, True])
def test_load_bert_refuses_a_head_without_outputs(inputs, num_labels):
    from attention_lab.convert import load_bert
    from attention_lab.errors import CheckpointError

    with pytest.raises(CheckpointError, match="num_labels must be an integer of at least 1"):
        load_bert(inputs["hf"], head="prebuilt", num_labels=num_labels)


def test_the_python_api_refuses_wrong_types_in_one_line(inputs, tmp_path):
    """Public functions given a wrong type or value: an AttentionLabError of one line, not a
    TypeError or KeyError from deep inside, and nothing written."""
    import re

    from attention_lab.convert import load_bert, save_bert
    from attention_lab.errors import AttentionLabError
    from attention_lab.tokenization import BertTokenizer
    from attention_lab.training.evaluation import predict_texts
    from attention_lab.training.finetune import finetune, load_run
    from attention_lab.training.fit import TrainingConfig
    from attention_lab.training.pretraining import fill_mask

    encoder = load_bert(inputs["hf"]).model
    run, record = load_run(inputs["run"])
    tokenizer = run.tokenizer()

    def predict(texts):
        return predict_texts(run.model, tokenizer, texts, record, run.label_names)

    calls = [
        (lambda: load_bert(None), "the model (a folder or hub id) must be a path"),
        (lambda: load_bert(123), "got int 123"),
        (lambda: save_bert(encoder, None), "the output folder must be a path"),
        (lambda: BertTokenizer.from_pretrained(None), "must be a path"),
        (lambda: finetune(None, "prebuilt", tmp_path / "r"), "the model must be a path"),
        (lambda: finetune(inputs["hf"], "prebuilt", None), "out (the run folder) must be"),
        (lambda: finetune(inputs["hf"], "prebuilt", tmp_path / "r", max_len="16"), "max_len"),
        (lambda: TrainingConfig(learning_rate=float("inf")), "--learning-rate must be finite"),
        (lambda: TrainingConfig(weight_decay=float("nan")), "--weight-decay must be finite"),
        (lambda: TrainingConfig(clipnorm=-1.0), "--clipnorm must be finite, >= 0"),
        (lambda: TrainingConfig(seed="42"), "--seed must be an integer"),
        (lambda: predict("a good film"), "list of texts"),
        (lambda: predict([]), "texts is empty"),
        (lambda: predict(["good", 7]), "text 2 is a int"),
        (lambda: fill_mask(encoder, tokenizer, None), "text must be a str"),
        (lambda: fill_mask(encoder, tokenizer, "a [MASK] film", top_k="5"), "top_k"),
        (lambda: tokenizer.encode_plus(None), "text is None"),
    ]
    before = snapshot(tmp_path)
    for call, words in calls:
        with pytest.raises(AttentionLabError, match=re.escape(words)) as refused:
            call()
        assert "\n" not in str(refused.value), str(refused.value)
    assert snapshot(tmp_path) == before


# --- 9. a resumed run ends where an unkilled one does -------------------------------------


def test_glove_train_resumed_after_a_kill_equals_an_unkilled_run(inputs, tmp_path):
    import keras

    from attention_lab.training.bilstm import train_bilstm

    class KilledAfterTheSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # its model.keras and metrics.json are saved: what a kill leaves
                raise KeyboardInterrupt

    train = ("glove", "train", "--mode", "scratch", "--data", inputs["data"], "--epochs", "3")
    train += ("--max-len", "12", "--json")
    unkilled = run_cli(*train, "--out", tmp_path / "a")
    assert unkilled[0] == 0, unkilled[2]
    with pytest.raises(KeyboardInterrupt):
        train_bilstm(
            "scratch", 3, tmp_path / "b", data=inputs["data"], max_len=12, verbose=0,
            callbacks=[KilledAfterTheSecondEpoch()],
        )  # fmt: skip
    resumed = run_cli(*train, "--out", tmp_path / "b", "--resume")
    assert resumed[0] == 0, resumed[2]
    a, b = json.loads(unkilled[1]), json.loads(resumed[1])
    assert b["resumed_at"] == [2] and a["test"] == b["test"]
    assert [{**row, "seconds": 0} for row in a["history"]] == [
        {**row, "seconds": 0} for row in b["history"]
    ]
