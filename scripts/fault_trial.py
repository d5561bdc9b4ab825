"""The fault trial of issue 29: each case a command line and the outcome the README promises.

    .venv/bin/python scripts/fault_trial.py [--only WORD] [--verbose]

Every case runs ``attention-lab ARGS`` in this process (``tests/cli_faults.run_cli``) on tiny
inputs made first (a ``transformers``-made BERT, an IMDb look-alike, a GloVe file, a finished
fine-tuning run, a seq2seq run, folders of a user's own files), some under an injected fault
(a read-only or full file system, a permission error: an ``OSError`` raised by the calls that
create files). Everything under the trial's folder is snapshotted (sha256 of every file) before
and after, and each case is classified:

- ``clean``: a success case exited 0; a refusal case exited 2 with exactly one line on stderr
  (``attention-lab CMD: error: ...``) that holds the case's words and none of its forbidden
  ones, and nothing was added, changed or removed;
- ``traceback``: a Python traceback, or an exit status other than 0, 1, 2 and 130 (Ctrl-C);
- ``silent``: a refusal case that exited 0 (the bad input was accepted);
- ``lost``: a file that existed before was changed or removed (the output of a success case
  excepted);
- ``hang``: an isolated case (one that may exhaust memory) ran past 120 s or 6 GB;
- ``unclear``: anything else (a refusal of several lines, without its words, a success case
  refused, a refused command that left a folder or file behind).

It prints one line per case that is not clean, then the counts. The counts before and after
issue 29's work are in docs/faults.md.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cli_faults import TF_STARTUP_LINE, run_cli, snapshot  # noqa: E402

TEXT = "the movie was good great fun"
LIVE = [0]  # the process id of a live "other writer", for the lock cases


@dataclass
class Case:
    name: str
    args: list  # strings with {placeholders} of the trial's paths
    expect: str = "refuse"  # or "ok"
    words: tuple = ()  # a refusal's message must hold these
    absent: tuple = ()  # and must not hold these
    setup: object = None  # callable(paths, case folder), run before the snapshot
    fault: str | None = None  # "erofs", "enospc", "eacces"
    stdin: bytes | None = None
    output: str | None = None  # a success case's output path (excluded from "lost")
    isolated: bool = False  # in a child process of 6 GB address space and 120 s: may hang
    main: str | None = None  # "module:function" run instead of attention-lab (a script)
    extra: dict = field(default_factory=dict)


# --- faults -----------------------------------------------------------------------------


def _raiser(code: int):
    def fail(*args, **kwargs):
        target = kwargs.get("dir") or (args[0] if args else "")
        raise OSError(code, os.strerror(code), str(target))

    return fail


@contextlib.contextmanager
def injected(fault: str | None):
    """Every new file or folder fails with ``fault``'s errno (an existing folder still says
    it exists, as on a real read-only file system)."""
    if fault is None:
        yield
        return
    if fault.startswith("interrupt:"):  # Ctrl-C while that function runs
        with mock.patch(fault.split(":", 1)[1], side_effect=KeyboardInterrupt):
            yield
        return
    code = {"erofs": errno.EROFS, "enospc": errno.ENOSPC, "eacces": errno.EACCES}[fault]
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if os.path.exists(path):
            return real_mkdir(path, *args, **kwargs)
        raise OSError(code, os.strerror(code), str(path))

    with (
        mock.patch("tempfile.mkstemp", _raiser(code)),
        mock.patch("tempfile.mkdtemp", _raiser(code)),
        mock.patch("os.mkdir", mkdir),
    ):
        yield


@contextlib.contextmanager
def standard_input(data: bytes | None):
    """Standard input as Python sets it up in a UTF-8 or C locale (surrogateescape)."""
    if data is None:
        yield
        return
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
    try:
        yield
    finally:
        sys.stdin = saved


# --- inputs -----------------------------------------------------------------------------


def tiny_finetune(paths, out, *extra) -> list[str]:
    return [
        "finetune", "--model", str(paths["hf"]), "--data", str(paths["data"]), "--out", str(out),
        "--head", "prebuilt", "--epochs", "1", "--batch-size", "8", "--learning-rate", "1e-3",
        "--no-progress", "--precision", "float32", "--max-len", "16", "--limit", "24", *extra,
    ]  # fmt: skip


def tiny_pretrain(out, *extra, vocab="{hf}") -> list[str]:
    return [
        "pretrain", "--vocab", vocab, "--data", "{texts}", "--out", out, "--layers", "1",
        "--hidden", "16", "--heads", "2", "--intermediate", "32", "--max-positions", "32",
        "--max-len", "16", "--steps", "2", "--eval-every", "1", "--batch-size", "4",
        "--holdout", "4", "--precision", "float32", "--no-progress", *extra,
    ]  # fmt: skip


TINY_SEQ2SEQ = [
    *("seq2seq", "train", "--task", "dates", "--epochs", "1", "--train-examples", "64"),
    *("--batch-size", "64", "--test-examples", "8", "--units", "4"),
]


def make_inputs(root: Path) -> dict:
    from glove_imdb_data import write_tiny_glove, write_tiny_imdb_archive
    from tiny_runs import write_tiny_checkpoint

    paths = {"root": root}
    paths["hf"] = write_tiny_checkpoint(root / "inputs" / "bert")
    paths["data"] = write_tiny_imdb_archive(root / "inputs" / "aclImdb_v1.tar.gz", per_folder=12)
    paths["glove"] = write_tiny_glove(root / "inputs" / "glove.6B.50d.txt.gz")
    texts = root / "inputs" / "texts.txt"
    texts.write_text("\n".join([TEXT, "the plot was bad awful dull"] * 20) + "\n")
    paths["texts"] = texts
    paths["ours"] = root / "inputs" / "ours"
    paths["run"] = root / "inputs" / "run"
    paths["s2s"] = root / "inputs" / "s2s"
    for args in (
        ["convert", paths["hf"], "--out", paths["ours"]],
        tiny_finetune(paths, paths["run"]),
        [*TINY_SEQ2SEQ, "--out", paths["s2s"]],
    ):
        status, _, err = run_cli(*args)
        if status != 0:
            raise SystemExit(f"setting up the trial failed: {args}\n{err}")
    return paths


def user_folder(folder: Path, *decoys: tuple[str, bytes]) -> Path:
    """A folder of the user's own files, with ``decoys`` (name, content) beside them."""
    folder.mkdir(parents=True)
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8\xff\xe0 a photo")
    for name, content in decoys:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def copy_of(key: str, name: str = "copy"):
    def setup(paths, case):
        shutil.copytree(paths[key], case / name)

    return setup


def hf_variant(edit=None, files=None, drop=()):
    """A copy of the BERT folder at CASE/hf with config.json edited and files replaced."""

    def setup(paths, case):
        folder = case / "hf"
        shutil.copytree(paths["hf"], folder)
        if edit is not None:
            config = json.loads((folder / "config.json").read_text())
            (folder / "config.json").write_text(json.dumps(edit(config)))
        for name, content in (files or {}).items():
            (folder / name).write_bytes(content(folder) if callable(content) else content)
        for name in drop:
            (folder / name).unlink()

    return setup


def sharded_index(value):
    def content(folder):
        return value if isinstance(value, bytes) else json.dumps(value).encode()

    return content


def unfinished_run(state: dict):
    """CASE/run: the finished run made unfinished, with ``state`` as its training state."""

    def setup(paths, case):
        folder = case / "run"
        folder.mkdir()
        record = json.loads((paths["run"] / "run.json").read_text())
        record["status"] = "training"
        record.pop("result", None)
        (folder / "run.json").write_text(json.dumps(record))
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "state.json").write_text(json.dumps(state))

    return setup


def locked_run(alive: bool):
    def setup(paths, case):
        folder = case / "run"
        folder.mkdir()
        pid = LIVE[0] if alive else 2**22 + 12345  # no process has that id (pid_max)
        lock = {"pid": pid, "host": os.uname().nodename, "started_at": "2026-12-07T00:00:00"}
        (folder / ".lock").write_text(json.dumps(lock))

    return setup


def bad_bytes_archive(paths, case):
    import tarfile

    with tarfile.open(case / "bad.tar.gz", "w:gz") as tar:
        for split in ("train", "test"):
            for label in ("pos", "neg"):
                for number in range(3):
                    data = f"the movie {number} was good".encode()
                    if split == "train" and label == "pos" and number == 1:
                        data = b"the movie was \xff\xfe good"
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{number}_7.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))


def bad_glove(paths, case):
    import gzip

    good = gzip.decompress(paths["glove"].read_bytes())
    (case / "glove.6B.50d.txt.gz").write_bytes(
        gzip.compress(good + b"caf\xe9 " + b" ".join([b"0.1"] * 50) + b"\n")
    )


def truncated_glove(paths, case):
    data = paths["glove"].read_bytes()
    (case / "glove.6B.50d.txt.gz").write_bytes(data[: len(data) // 2])


def text_file(name: str, content: bytes):
    def setup(paths, case):
        (case / name).parent.mkdir(parents=True, exist_ok=True)
        (case / name).write_bytes(content)

    return setup


def both(*setups):
    def setup(paths, case):
        for one in setups:
            one(paths, case)

    return setup


def trained_tokenizer(paths, case):
    run_cli(
        "train-tokenizer", "--data", paths["texts"], "--out", case / "tok", "--vocab-size", "60"
    )


# --- the cases --------------------------------------------------------------------------


def cases() -> list[Case]:
    hf, run, ours, s2s = "{hf}", "{run}", "{ours}", "{s2s}"
    case_list = []

    def add(*args, **kwargs):
        case_list.append(Case(*args, **kwargs))

    decoy_config = json.dumps({"attention_lab": {}, "model_type": "bert"}).encode()
    # 1. ownership by proof
    add(
        "convert --overwrite: a user folder with a config.json naming attention_lab",
        ["convert", hf, "--out", "{case}/mine", "--overwrite"],
        words=("not written by attention_lab",),
        setup=lambda p, c: user_folder(c / "mine", ("config.json", decoy_config)),
    )
    add(
        "convert --overwrite: a user folder holding run.json",
        ["convert", hf, "--out", "{case}/mine", "--overwrite"],
        setup=lambda p, c: user_folder(c / "mine", ("run.json", b'{"status": "complete"}')),
    )
    add(
        "convert --overwrite: a user folder holding manifest.json",
        ["convert", hf, "--out", "{case}/mine", "--overwrite"],
        setup=lambda p, c: user_folder(c / "mine", ("manifest.json", b'{"files": {}}')),
    )
    add(
        "export --overwrite: a user folder with a config.json naming attention_lab",
        ["export", "--checkpoint", run, "--out", "{case}/mine", "--overwrite"],
        setup=lambda p, c: user_folder(c / "mine", ("config.json", decoy_config)),
    )
    add(
        "export --overwrite onto a finished fine-tuning run",
        ["export", "--checkpoint", run, "--out", "{case}/copy", "--overwrite"],
        words=("fine-tuning run",),
        setup=copy_of("run"),
    )
    add(
        "convert --overwrite onto a finished fine-tuning run",
        ["convert", hf, "--out", "{case}/copy", "--overwrite"],
        words=("fine-tuning run",),
        setup=copy_of("run"),
    )
    add(
        "train-tokenizer --overwrite: a user folder",
        ["train-tokenizer", "--data", "{texts}", "--out", "{case}/mine", "--overwrite"],
        setup=lambda p, c: user_folder(c / "mine"),
    )
    add(
        "train-tokenizer --overwrite: its own --data folder",
        ["train-tokenizer", "--data", "{case}/mine/texts.txt", "--out", "{case}/mine"]
        + ["--overwrite", "--vocab-size", "60"],
        setup=lambda p, c: user_folder(c / "mine", ("texts.txt", (TEXT + "\n").encode() * 9)),
    )
    add(
        "train-tokenizer --overwrite: a folder of its own (replaced)",
        ["train-tokenizer", "--data", "{texts}", "--out", "{case}/tok", "--overwrite"]
        + ["--vocab-size", "60"],
        expect="ok",
        setup=trained_tokenizer,
        output="tok",
    )
    for name, model, option, target, folder in (
        ("onto a run's config.json", "{case}/copy", "--html", "config.json", "run"),
        ("into a converted folder", ours, "--out", "model.png", "ours"),
        ("onto a converted folder's config.json", "{case}/copy", "--html", "config.json", "ours"),
    ):
        add(
            f"attention {option} {name}",
            ["attention", "--model", model, TEXT, option, f"{{case}}/copy/{target}"],
            setup=copy_of(folder),
        )
    add(
        "seq2seq plot --out onto its checkpoint's training.json",
        ["seq2seq", "plot", "--checkpoint", "{case}/copy", "3 March 2021"]
        + ["--out", "{case}/copy/training.json"],
        setup=copy_of("s2s"),
    )
    add(
        "seq2seq train --overwrite: a user folder with training.json and model.keras",
        [*TINY_SEQ2SEQ, "--out", "{case}/mine", "--overwrite"],
        setup=lambda p, c: user_folder(
            c / "mine", ("training.json", b'{"task": "mine"}'), ("model.keras", b"my model")
        ),
    )
    add(
        "seq2seq train --overwrite: a user folder",
        [*TINY_SEQ2SEQ, "--out", "{case}/mine", "--overwrite"],
        setup=lambda p, c: user_folder(c / "mine"),
    )
    add(
        "glove train --out: a user folder",
        ["glove", "train", "--mode", "scratch", "--data", "{data}", "--epochs", "1"]
        + ["--max-len", "8", "--out", "{case}/mine"],
        setup=lambda p, c: user_folder(c / "mine"),
    )
    add(
        "convert --overwrite: our own converted folder (replaced)",
        ["convert", hf, "--out", "{case}/copy", "--overwrite"],
        expect="ok",
        setup=copy_of("ours"),
        output="copy",
    )
    add(
        "convert --out / (no --overwrite suggested)",
        ["convert", hf, "--out", "/"],
        absent=("--overwrite",),
    )
    add(
        "export --out its own run folder",
        ["export", "--checkpoint", "{case}/copy", "--out", "{case}/copy", "--overwrite"],
        setup=copy_of("run"),
    )
    # 2. write errors
    for fault in ("erofs", "enospc", "eacces"):
        add(f"convert under {fault}", ["convert", hf, "--out", "{case}/new"], fault=fault)
        add(
            f"export under {fault}",
            ["export", "--checkpoint", run, "--out", "{case}/new"],
            fault=fault,
        )
        add(
            f"train-tokenizer under {fault}",
            ["train-tokenizer", "--data", "{texts}", "--out", "{case}/tok", "--vocab-size", "60"],
            fault=fault,
        )
        add(
            f"attention --html under {fault}",
            ["attention", "--model", ours, TEXT, "--html", "{case}/view.html"],
            fault=fault,
        )
    add(
        "seq2seq train under enospc",
        [*TINY_SEQ2SEQ, "--out", "{case}/s2s"],
        fault="enospc",
    )
    add(
        "evaluate (writes into the run) under enospc",
        ["evaluate", "--checkpoint", "{case}/copy", "--data", "{data}", "--limit", "8"]
        + ["--no-progress"],
        fault="enospc",
        setup=copy_of("run"),
    )
    add(
        "finetune under erofs",
        tiny_finetune({"hf": "{hf}", "data": "{data}"}, "{case}/run"),
        fault="erofs",
    )
    for place in ("/proc", "/sys"):
        add(f"convert --out {place}/...", ["convert", hf, "--out", f"{place}/attention-lab-x"])
        add(
            f"attention --html {place}/...",
            ["attention", "--model", ours, TEXT, "--html", f"{place}/attention-lab-x.html"],
        )
        add(
            f"seq2seq train --out {place}/...",
            [*TINY_SEQ2SEQ, "--out", f"{place}/attention-lab-x"],
        )
        add(
            f"finetune --out {place}/...",
            tiny_finetune({"hf": "{hf}", "data": "{data}"}, f"{place}/attention-lab-x"),
        )
        add(
            f"glove train --out {place}/...",
            ["glove", "train", "--mode", "scratch", "--data", "{data}", "--epochs", "1"]
            + ["--max-len", "8", "--out", f"{place}/attention-lab-x"],
        )
    # 3. bad values, refused before anything is written
    ft = {"hf": "{hf}", "data": "{data}"}
    for option, value in [
        ("--warmup", "2"),
        ("--warmup", "-0.1"),
        ("--warmup", "nan"),
        ("--learning-rate", "inf"),
        ("--learning-rate", "nan"),
        ("--learning-rate", "0"),
        ("--weight-decay", "nan"),
        ("--weight-decay", "-1"),
        ("--clipnorm", "-1"),
        ("--clipnorm", "inf"),
        ("--epochs", "0"),
        ("--batch-size", "0"),
        ("--patience", "-1"),
        ("--checkpoint-every", "-5"),
        ("--limit", "0"),
    ]:
        args = tiny_finetune(ft, "{case}/run")
        index = args.index(option) if option in args else None
        if index is None:
            args += [option, value]
        else:
            args[index + 1] = value
        add(f"finetune {option} {value}", args, words=(option,))
    glove_train = ["glove", "train", "--mode", "scratch", "--data", "{data}", "--out", "{case}/g"]
    for option, value in [
        ("--learning-rate", "nan"),
        ("--learning-rate", "-1"),
        ("--epochs", "0"),
        ("--max-len", "0"),
        ("--limit", "0"),
    ]:
        add(f"glove train {option} {value}", [*glove_train, option, value], words=(option,))
    add(
        "glove train --max-len 100000",
        [*glove_train, "--epochs", "1", "--max-len", "100000"],
        words=("--max-len",),
        isolated=True,
    )
    for option, value in [
        ("--learning-rate", "inf"),
        ("--learning-rate", "0"),
        ("--units", "0"),
        ("--batch-size", "0"),
        ("--train-examples", "0"),
    ]:
        args = [*TINY_SEQ2SEQ, "--out", "{case}/s"]
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
        add(f"seq2seq train {option} {value}", args, words=(option,))
    for option, value in [("--vocab-size", "0"), ("--min-frequency", "0")]:
        add(
            f"train-tokenizer {option} {value}",
            ["train-tokenizer", "--data", "{texts}", "--out", "{case}/tok", option, value],
            words=(option,),
        )
    for option, value in [("--steps", "0"), ("--max-len", "0"), ("--max-len", "-3")]:
        add(
            f"attention {option} {value}",
            ["attention", "--model", run, TEXT, "--method", "integrated-gradients"]
            + ["--html", "{case}/a.html", option, value],
            words=(option,),
        )
    add(
        "attention integrated gradients --steps 100000000",
        ["attention", "--model", run, TEXT, "--method", "integrated-gradients"]
        + ["--html", "{case}/a.html", "--steps", "100000000"],
        words=("--steps",),
        isolated=True,
    )
    add(
        "evaluate --limit 0",
        ["evaluate", "--checkpoint", "{case}/copy", "--data", "{data}", "--limit", "0"],
        setup=copy_of("run"),
    )
    # 4. bytes that are not UTF-8
    add(
        "imdb stats: a review that is not UTF-8",
        ["imdb", "stats", "--data", "{case}/bad.tar.gz"],
        words=("byte",),
        setup=bad_bytes_archive,
    )
    add(
        "glove train: a review that is not UTF-8",
        ["glove", "train", "--mode", "scratch", "--data", "{case}/bad.tar.gz", "--epochs", "1"]
        + ["--max-len", "8", "--out", "{case}/g"],
        words=("byte",),
        setup=bad_bytes_archive,
    )
    add(
        "predict --file - with bytes that are not UTF-8",
        ["predict", "--checkpoint", run, "--file", "-"],
        words=("byte",),
        stdin=b"the movie was \xff good\n",
    )
    add(
        "predict --file with bytes that are not UTF-8",
        ["predict", "--checkpoint", run, "--file", "{case}/t.txt"],
        setup=text_file("t.txt", b"the movie was \xff good\n"),
    )
    add(
        "convert: a vocab.txt that is not text",
        ["convert", "{case}/hf", "--out", "{case}/out"],
        words=("vocab.txt", "byte"),
        setup=hf_variant(files={"vocab.txt": bytes(range(256)) * 8}),
    )
    add(
        "tokenize --vocab: a vocab.txt that is not text",
        ["tokenize", "--vocab", "{case}/hf", TEXT],
        words=("vocab.txt",),
        setup=hf_variant(files={"vocab.txt": bytes(range(256)) * 8}),
    )
    add(
        "train-tokenizer --data: a text file that is not UTF-8",
        ["train-tokenizer", "--data", "{case}/t.txt", "--out", "{case}/tok"],
        words=("byte",),
        setup=text_file("t.txt", b"the movie \xff\n"),
    )
    # 5. malformed metadata
    add(
        'convert: config.json "architectures": [1]',
        ["convert", "{case}/hf", "--out", "{case}/out"],
        words=("architectures",),
        setup=hf_variant(edit=lambda c: {**c, "architectures": [1]}),
    )
    add(
        'convert: config.json "architectures": "BertModel"',
        ["convert", "{case}/hf", "--out", "{case}/out"],
        words=("architectures",),
        setup=hf_variant(edit=lambda c: {**c, "architectures": "BertModel"}),
    )
    add(
        "convert: a shard index that is a list",
        ["convert", "{case}/hf", "--out", "{case}/out"],
        words=("model.safetensors.index.json",),
        setup=hf_variant(
            files={"model.safetensors.index.json": sharded_index([1, 2])},
            drop=("model.safetensors",),
        ),
    )
    add(
        "convert: a shard index that is not UTF-8",
        ["convert", "{case}/hf", "--out", "{case}/out"],
        words=("model.safetensors.index.json", "byte"),
        setup=hf_variant(
            files={"model.safetensors.index.json": b'{"weight_map": {"\xff": 1}}'},
            drop=("model.safetensors",),
        ),
    )
    add(
        "convert: a shard index whose paths leave the folder",
        ["convert", "{case}/hf", "--out", "{case}/out"],
        words=("model.safetensors.index.json",),
        setup=both(
            copy_of("hf", "elsewhere"),
            hf_variant(
                files={
                    "model.safetensors.index.json": sharded_index(
                        {"weight_map": {"pooler.dense.bias": "../elsewhere/model.safetensors"}}
                    )
                },
                drop=("model.safetensors",),
            ),
        ),
    )
    for state in ({"step": "four", "epoch": 0}, [1, 2]):
        add(
            f"finetune resume: checkpoints/state.json {json.dumps(state)}",
            tiny_finetune(ft, "{case}/run"),
            words=("state.json",),
            setup=unfinished_run(state),
        )
    for name, args in (
        ("parity --texts", ["parity", hf, "--texts", "{case}"]),
        ("predict --file", ["predict", "--checkpoint", run, "--file", "{case}"]),
    ):
        add(f"{name} naming a folder", args, words=("folder",))
    add("convert: config.json a list", ["convert", "{case}/hf", "--out", "{case}/out"],
        setup=hf_variant(files={"config.json": b"[1, 2]"}))  # fmt: skip
    add(
        "convert: a truncated model.safetensors",
        ["convert", "{case}/hf", "--out", "{case}/out"],
        words=("truncated",),
        setup=hf_variant(
            files={"model.safetensors": lambda f: (f / "model.safetensors").read_bytes()[:900]}
        ),
    )
    # 6. one writer per folder
    add(
        "finetune while another finetune holds --out",
        tiny_finetune(ft, "{case}/run"),
        words=("lock",),
        setup=locked_run(alive=True),
        extra={"live_process": True},
    )
    add(
        "finetune on --out with a stale lock (taken over)",
        tiny_finetune(ft, "{case}/run"),
        expect="ok",
        setup=locked_run(alive=False),
        output="run",
    )
    add(
        "pretrain while another pretrain holds --out",
        tiny_pretrain("{case}/run"),
        words=("lock",),
        setup=locked_run(alive=True),
        extra={"live_process": True},
    )
    add(
        "pretrain on --out with a stale lock (taken over)",
        tiny_pretrain("{case}/run"),
        expect="ok",
        setup=locked_run(alive=False),
        output="run",
    )
    # 8. messages
    add(
        "convert ./no/such/folder: a missing local path, not a hub id",
        ["convert", "./no/such/folder", "--out", "{case}/out"],
        words=("no such",),
        absent=("hf download",),
    )
    add(
        "convert no/such/folder: a missing local path, not a hub id",
        ["convert", "no/such/folder", "--out", "{case}/out"],
        words=("no such",),
        absent=("hf download",),
    )
    add(
        "seq2seq translate: a 100,000-character input is not repeated",
        ["seq2seq", "translate", "--checkpoint", s2s, "x" * 100_000],
        expect="any",
        extra={"max_stderr": 600},
    )
    add(
        "imdb stats: an archive cut in its gzip trailer is called truncated",
        ["imdb", "stats", "--data", "{case}/a.tar.gz"],
        words=("truncated",),
        setup=lambda p, c: (c / "a.tar.gz").write_bytes(p["data"].read_bytes()[:-12]),
    )
    glove_stats = ["glove", "stats", "--glove", "{case}/glove.6B.50d.txt.gz", "--data", "{data}"]
    for name, words, setup in (
        ("a GloVe line that is not UTF-8", ("byte",), bad_glove),
        ("a truncated GloVe file is called truncated", ("truncated",), truncated_glove),
    ):
        add(f"glove stats: {name}", glove_stats, words=words, setup=setup)
    add(
        "Ctrl-C during finetune says that rerunning resumes",
        tiny_finetune(ft, "{case}/run"),
        expect="interrupt",
        words=("resume",),
        fault="interrupt:attention_lab.training.finetune.fit_classifier",
        output="run",
    )
    add(
        "Ctrl-C during convert leaves nothing and says so",
        ["convert", hf, "--out", "{case}/new"],
        expect="interrupt",
        words=("nothing half-written",),
        fault="interrupt:attention_lab.convert.bert_folder.write_bert_files",
    )
    add(
        "glove train --out its own --data archive",
        ["glove", "train", "--mode", "scratch", "--data", "{case}/a.tar.gz", "--epochs", "1"]
        + ["--max-len", "8", "--out", "{case}/a.tar.gz"],
        setup=lambda p, c: shutil.copy(p["data"], c / "a.tar.gz"),
    )
    add(
        "train-tokenizer --out inside its own --data folder",
        ["train-tokenizer", "--data", "{case}/mine", "--out", "{case}/mine/tok"],
        setup=lambda p, c: user_folder(c / "mine", ("texts.txt", (TEXT + "\n").encode() * 9)),
    )
    add(
        "export --overwrite onto our own exported folder (replaced)",
        ["export", "--checkpoint", run, "--out", "{case}/copy", "--overwrite"],
        expect="ok",
        setup=copy_of("ours"),
        output="copy",
    )
    add(
        "finetune --out its own --model folder",
        tiny_finetune({"hf": "{case}/hf", "data": "{data}"}, "{case}/hf"),
        setup=hf_variant(),
    )
    add(
        "seq2seq compare --out into its checkpoint folder",
        ["seq2seq", "compare", "--checkpoint", "{case}/copy", "--out", "{case}/copy/lengths.png"],
        setup=copy_of("s2s"),
    )
    # pretrain (issue 29, round two's remainder): its folder under the rule, values at parse time
    for option, value in (
        ("--learning-rate", "inf"),
        ("--warmup", "2"),
        ("--weight-decay", "nan"),
        ("--clipnorm", "-1"),
        ("--mask-rate", "nan"),
        ("--steps", "0"),
        ("--layers", "0"),
        ("--checkpoint-every", "-1"),
    ):
        add(f"pretrain {option} {value}", tiny_pretrain("{case}/pre", option, value),
            words=(option,))  # fmt: skip
    add(
        "pretrain --out a user folder",
        tiny_pretrain("{case}/mine"),
        words=("left as it is",),
        setup=lambda p, c: user_folder(c / "mine", ("config.json", b"{}")),
    )
    add("pretrain --out a finished fine-tuning run", tiny_pretrain(run), words=("finished run",))
    add(
        "pretrain --out its own --vocab folder",
        tiny_pretrain("{case}/hf", vocab="{case}/hf"),
        words=("overlaps",),
        setup=hf_variant(),
    )
    add(
        "Ctrl-C during pretrain says that rerunning resumes",
        tiny_pretrain("{case}/pre"),
        expect="interrupt",
        words=("resume",),
        fault="interrupt:attention_lab.training.pretrain._fit",
        output="pre",
    )
    # the scripts' output folders: benchmarks, the race, the transfer study, Jain & Wallace
    bench, race = "benchmarks.run:main", "benchmarks.finetune_race:main"
    race_args = ["--quick", "--model", hf, "--data", "{data}", "--out"]
    mine = lambda p, c: user_folder(c / "mine")  # noqa: E731
    add("python -m benchmarks --out a fine-tuning run", ["--quick", "--out", run],
        words=("run folder",), main=bench)  # fmt: skip
    add("python -m benchmarks --out a file", ["--quick", "--out", "{case}/notes.txt"],
        words=("is a file",), main=bench, setup=text_file("notes.txt", b"mine"))  # fmt: skip
    add("finetune_race --out a user folder", [*race_args, "{case}/mine"],
        words=("marker",), main=race, setup=mine)  # fmt: skip
    add("finetune_race --out a fine-tuning run", [*race_args, run],
        words=("run.json",), main=race)  # fmt: skip
    add("finetune_race --out its own --model folder", [*race_args, hf],
        words=("overlaps",), main=race)  # fmt: skip
    add("transfer_study --root a user folder", ["--fast", "--root", "{case}/mine"],
        words=("not written by",), main="benchmarks.transfer_study:main", setup=mine)  # fmt: skip
    jain = "attention_lab.interpret.jain_wallace:main"
    jain_args = ["--data", "{data}", "--quick", "--overwrite", "--out"]
    forged = json.dumps({"format": "attention_lab.jain_wallace/1"}).encode()
    add(
        "jain_wallace --overwrite a folder with a forged results.json",
        [*jain_args, "{case}/mine", "--glove", "{glove}"],
        words=("not written by",),
        main=jain,
        setup=lambda p, c: user_folder(c / "mine", ("results.json", forged)),
    )
    add(
        "jain_wallace --overwrite its own --glove folder",
        [*jain_args, "{case}/g", "--glove", "{case}/g/glove.6B.50d.txt.gz"],
        words=("overlaps",),
        main=jain,
        setup=lambda p, c: (c / "g").mkdir() or shutil.copy(p["glove"], c / "g"),
    )
    add("jain_wallace --overwrite a fine-tuning run", [*jain_args, run, "--glove", "{glove}"],
        words=("never replaces",), main=jain)  # fmt: skip
    # what works stays working
    add("convert to a new folder", ["convert", hf, "--out", "{case}/new"], "ok", output="new")
    add(
        "export to a new folder",
        ["export", "--checkpoint", run, "--out", "{case}/new"],
        "ok",
        output="new",
    )
    add("predict", ["predict", "--checkpoint", run, TEXT], "ok")
    add("tokenize", ["tokenize", "--vocab", hf, TEXT, "--max-length", "12"], "ok")
    add("imdb stats", ["imdb", "stats", "--data", "{data}"], "ok")
    add("glove stats", ["glove", "stats", "--glove", "{glove}", "--data", "{data}"], "ok")
    add(
        "attention --html a new file",
        ["attention", "--model", run, TEXT, "--html", "{case}/view.html"],
        "ok",
        output="view.html",
    )
    add("seq2seq translate", ["seq2seq", "translate", "--checkpoint", s2s, "3 March 2021"], "ok")
    add(
        "train-tokenizer to a new folder",
        ["train-tokenizer", "--data", "{texts}", "--out", "{case}/tok", "--vocab-size", "60"],
        "ok",
        output="tok",
    )
    add("pretrain to a new folder", tiny_pretrain("{case}/pre"), "ok", output="pre")
    return case_list


# --- running and classifying ------------------------------------------------------------


def _fill(value: str, paths: dict, case: Path) -> str:
    return str(value).format(case=case, **{k: str(v) for k, v in paths.items()})


def classify(case: Case, result, before: dict, after: dict, case_dir: Path, root: Path) -> str:
    status, _, stderr = result
    if "Traceback" in stderr or status not in (0, 1, 2, 130):
        return "traceback"
    output = None if case.output is None else (case_dir / case.output).relative_to(root)
    for name, digest in before.items():
        if output is not None and (name == str(output) or name.startswith(f"{output}/")):
            continue
        if after.get(name) != digest:
            return "lost"
    if case.expect == "refuse" and status == 0:
        return "silent"
    if case.extra.get("max_stderr") and len(stderr) > case.extra["max_stderr"]:
        return "unclear"
    added = {
        name
        for name in set(after) - set(before)
        if output is None or not (name == str(output) or name.startswith(f"{output}/"))
    }
    if case.expect == "interrupt":  # exit 130, one line with its words, nothing new but output
        lines = stderr.strip().splitlines()
        held = len(lines) == 1 and all(word in lines[0] for word in case.words)
        return "clean" if status == 130 and held and not added else "unclear"
    if case.expect == "any":
        return "clean"
    if case.expect == "ok":
        return "clean" if status == 0 else "unclear"
    lines = stderr.strip().splitlines()
    if (
        status != 2
        or len(lines) != 1
        or ": error: " not in lines[0]
        or any(word not in lines[0] for word in case.words)
        or any(word in lines[0] for word in case.absent)
        or added
    ):
        return "unclear"
    return "clean"


def _limited(args: list[str]) -> tuple[int, str, str] | None:
    """``attention-lab ARGS`` in a child process limited to 6 GB of address space and 120 s;
    None when it ran out of either (a hang)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    try:
        done = subprocess.run(
            [sys.executable, "-m", "attention_lab", *args],
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=limit,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    except subprocess.TimeoutExpired:
        return None
    if "MemoryError" in done.stderr or "std::bad_alloc" in done.stderr:
        return None
    stderr = "".join(
        line for line in done.stderr.splitlines(keepends=True) if not TF_STARTUP_LINE.match(line)
    )
    return done.returncode, done.stdout, stderr


def run_main(target: str, args: list[str]) -> tuple[int, str, str]:
    """``module:function`` (a script's ``main(argv)``) on ``args`` in this process, as
    ``run_cli`` runs ``attention-lab``: ``(exit status, stdout, stderr)``."""
    import importlib
    import traceback

    module, function = target.split(":")
    main = getattr(importlib.import_module(module), function)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        except Exception:
            traceback.print_exc()
            status = 1
    return status, out.getvalue(), err.getvalue()


def run_case(case: Case, paths: dict, root: Path) -> tuple[str, tuple]:
    case_dir = Path(tempfile.mkdtemp(prefix="case-", dir=root / "cases"))
    sleeper = None
    if case.extra.get("live_process"):
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        LIVE[0] = sleeper.pid
    try:
        if case.setup is not None:
            case.setup(paths, case_dir)
        before = snapshot(root)
        args = [_fill(arg, paths, case_dir) for arg in case.args]
        if case.isolated:
            result = _limited(args)
        else:
            with injected(case.fault), standard_input(case.stdin):
                result = run_main(case.main, args) if case.main else run_cli(*args)
        after = snapshot(root)
    finally:
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
    if result is None:
        verdict, result = "hang", (-1, "", "ran past 120 s or 6 GB")
    else:
        verdict = classify(case, result, before, after, case_dir, root)
    shutil.rmtree(case_dir, ignore_errors=True)
    return verdict, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run only the cases whose name holds this")
    parser.add_argument("--verbose", action="store_true", help="print every case's stderr")
    parser.add_argument("--keep", help="make the inputs in this folder (kept afterwards)")
    args = parser.parse_args(argv)

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fault-trial-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["ATTENTION_LAB_CACHE"] = str(root.parent / f"{root.name}-cache")
    started = time.perf_counter()
    paths = make_inputs(root) if not (root / "inputs").exists() else _paths(root)
    (root / "cases").mkdir(exist_ok=True)
    print(f"inputs ready in {time.perf_counter() - started:.0f} s", flush=True)
    selected = [c for c in cases() if args.only is None or args.only in c.name]
    counts = Counter()
    for case in selected:
        begun = time.perf_counter()
        verdict, (status, _, stderr) = run_case(case, paths, root)
        counts[verdict] += 1
        seconds = time.perf_counter() - begun
        if verdict != "clean" or args.verbose:
            last = stderr.strip().splitlines()[-1:] or [""]
            print(f"{verdict:9} {case.name} [exit {status}, {seconds:.0f} s]: {last[0][:220]}")
    print(
        f"cases tried {len(selected)}, clean {counts['clean']}, tracebacks "
        f"{counts['traceback']}, silent {counts['silent']}, lost {counts['lost']}, "
        f"hangs {counts['hang']}, unclear {counts['unclear']} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(os.environ["ATTENTION_LAB_CACHE"], ignore_errors=True)
    return 0


def _paths(root: Path) -> dict:
    inputs = root / "inputs"
    return {
        "root": root,
        "hf": inputs / "bert",
        "data": inputs / "aclImdb_v1.tar.gz",
        "glove": inputs / "glove.6B.50d.txt.gz",
        "texts": inputs / "texts.txt",
        "ours": inputs / "ours",
        "run": inputs / "run",
        "s2s": inputs / "s2s",
    }


if __name__ == "__main__":
    raise SystemExit(main())
