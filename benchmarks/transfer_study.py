"""The chapter's claim measured (issue 34): fine-tuning a BERT pre-trained on IMDb against the
same architecture from a random initialisation, at several label budgets and seeds.

    python -m benchmarks.transfer_study --pretrained runs/pretrain-imdb-small \\
        [--root runs/transfer-study] [--data aclImdb_v1.tar.gz] [--budgets 500 2000 20000] \\
        [--seeds 1 2 3] [--epochs 3] [--max-len 128] [--list | --table]
    python -m benchmarks.transfer_study --fast --root DIR    # the whole pipeline, tiny data

Each cell (arm ``pretrained`` or ``random``, budget ``N`` labelled training reviews, seed ``s``)
is ``attention-lab finetune`` with the same settings for both arms (``--head prebuilt``,
``--limit`` ``N / 0.8`` reviews so that the chapter's 80/20 split leaves ``N`` for training:
500, 2,000 and all 20,000), then ``attention-lab evaluate`` on all 25,000 test reviews, each a
subprocess logging to ``ROOT/logs/CELL.log``. The ``random`` arm of seed ``s`` starts from
``ROOT/init/random-seed-s``: the pre-trained folder's architecture and vocabulary at a random
initialisation seeded by ``s`` (:func:`attention_lab.training.pretrain.write_random_init`).
An evaluated cell is skipped; an interrupted one resumes (``finetune`` run again on its folder
continues from its last backup), so the driver can be started again after any interruption.

``ROOT`` is a folder of ours (:func:`attention_lab.io.claim_folder`): new or empty, then
marked ``.attention_lab``, or an earlier study's by that marker; a user's folder is refused
before anything runs.

``ROOT/results.json`` collects every evaluated cell's test accuracy and, per budget, each arm's
mean, standard deviation and 95% confidence interval (Student's t on the seeds), and the
difference of the means with **Welch's t-test** (unequal variances): its 95% confidence
interval and p-value. The verdict per budget: "pre-training better" when the difference's
interval lies above 0, "random initialisation better" when below, else "no difference shown"
(with 3 seeds only large differences are resolved; the interval says how large).

``--fast`` writes a synthetic IMDb folder (a few dozen reviews whose words tell their label),
learns its WordPiece vocabulary with the project's trainer, pre-trains a one-block BERT for 20
steps and runs 1 budget × 2 seeds × 2 arms, in this process (about 40 s on a 2-core AMD EPYC
shared with other jobs): the pipeline's test, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = os.environ.get(
    "ATTENTION_LAB_IMDB", str(ROOT.parent / "shared" / "data" / "aclImdb_v1.tar.gz")
)
ARMS = ("pretrained", "random")
TRAIN_SHARE = 0.8  # finetune's split keeps 80% of --limit for training
BETTER, WORSE, UNRESOLVED = (
    "pre-training better",
    "random initialisation better",
    "no difference shown",
)


@dataclass(frozen=True)
class Cell:
    arm: str
    budget: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.arm}-{self.budget}-seed-{self.seed}"


@dataclass
class Study:
    root: Path
    pretrained: Path
    data: str | None
    budgets: tuple[int, ...]
    seeds: tuple[int, ...]
    epochs: int = 3
    max_len: int = 128
    extra: tuple[str, ...] = ()  # more finetune options (the fast mode's small batches)
    evaluate_extra: tuple[str, ...] = ()
    in_process: bool = False

    def cells(self) -> list[Cell]:
        return [Cell(a, b, s) for b in self.budgets for s in self.seeds for a in ARMS]

    def folder(self, cell: Cell) -> Path:
        return self.root / "cells" / cell.name

    def source(self, cell: Cell) -> Path:
        if cell.arm == "pretrained":
            return self.pretrained
        return self.root / "init" / f"random-seed-{cell.seed}"

    def commands(self, cell: Cell) -> dict[str, list[str]]:
        data = [] if self.data is None else ["--data", str(self.data)]
        limit = math.ceil(cell.budget / TRAIN_SHARE)
        finetune = [
            "finetune", "--model", str(self.source(cell)), "--head", "prebuilt",
            "--out", str(self.folder(cell)), "--limit", str(limit), "--seed", str(cell.seed),
            "--epochs", str(self.epochs), "--max-len", str(self.max_len), "--no-progress",
            *data, *self.extra,
        ]  # fmt: skip
        evaluate = [
            "evaluate", "--checkpoint", str(self.folder(cell)), "--no-progress",
            *data, *self.evaluate_extra,
        ]  # fmt: skip
        return {"finetune": finetune, "evaluate": evaluate}

    def status(self, cell: Cell) -> str:
        folder = self.folder(cell)
        if (folder / "evaluation-test.json").is_file():
            return "evaluated"
        if (folder / "run.json").is_file():
            return json.loads((folder / "run.json").read_text())["status"]
        return "not started"

    def run_cell(self, cell: Cell) -> int:
        if self.status(cell) == "evaluated":
            return 0
        if cell.arm == "random" and not (self.source(cell) / "config.json").is_file():
            from attention_lab.training.pretrain import write_random_init

            write_random_init(self.pretrained, self.source(cell), cell.seed)
        commands = self.commands(cell)
        steps = ["evaluate"] if self.status(cell) == "complete" else ["finetune", "evaluate"]
        for step in steps:
            code = self._execute(cell, commands[step])
            if code:
                return code
        return 0

    def _execute(self, cell: Cell, argv: list[str]) -> int:
        if self.in_process:
            from attention_lab.cli.main import main

            return main(argv)
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        binary = str(Path(sys.executable).with_name("attention-lab"))
        with (logs / f"{cell.name}.log").open("a") as log:
            log.write("$ attention-lab " + " ".join(argv) + "\n")
            log.flush()
            done = subprocess.run([binary, *argv], stdout=log, stderr=subprocess.STDOUT)
        return done.returncode

    def accuracies(self) -> list[dict]:
        """Every evaluated cell: arm, budget, seed and test accuracy (from its files)."""
        rows = []
        for cell in self.cells():
            if self.status(cell) == "evaluated":
                test = json.loads((self.folder(cell) / "evaluation-test.json").read_text())
                rows.append(
                    {
                        "arm": cell.arm,
                        "budget": cell.budget,
                        "seed": cell.seed,
                        "accuracy": test["accuracy"],
                        "test_reviews": test.get("examples"),
                    }
                )
        return rows


# --- the statistics ----------------------------------------------------------------------------


def summarize(values: list[float]) -> dict:
    """Mean, sample standard deviation, and the 95% t-interval of the mean (None for one
    value)."""
    from scipy import stats

    n = len(values)
    mean = sum(values) / n
    if n < 2:  # one seed: no spread to estimate
        return {"n": n, "mean": mean, "sd": None, "ci95": None, "min": mean, "max": mean}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {
        "n": n,
        "mean": mean,
        "sd": sd,
        "ci95": [mean - half, mean + half],
        "min": min(values),
        "max": max(values),
    }


def welch(a: list[float], b: list[float]) -> dict:
    """Welch's t-test of mean(a) - mean(b): the difference, its 95% confidence interval
    (Welch-Satterthwaite degrees of freedom), t and the two-sided p-value."""
    from scipy import stats

    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        raise ValueError(f"Welch's test needs 2 or more values per arm, got {na} and {nb}")
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((v - ma) ** 2 for v in a) / (na - 1) / na  # squared standard errors
    vb = sum((v - mb) ** 2 for v in b) / (nb - 1) / nb
    difference, se = ma - mb, math.sqrt(va + vb)
    if se == 0:  # no spread at all: the difference is exact
        p = 1.0 if difference == 0 else 0.0
        return {"difference": difference, "ci95": [difference] * 2, "t": None, "df": None, "p": p}
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    t = difference / se
    half = float(stats.t.ppf(0.975, df)) * se
    return {
        "difference": difference,
        "ci95": [difference - half, difference + half],
        "t": t,
        "df": df,
        "p": float(2 * stats.t.sf(abs(t), df)),
    }


def verdict(test: dict) -> str:
    low, high = test["ci95"]
    return BETTER if low > 0 else WORSE if high < 0 else UNRESOLVED


def analyse(rows: list[dict]) -> dict:
    """Per budget: each arm's summary, Welch's test of pre-trained minus random, the verdict
    (budgets with fewer than 2 evaluated seeds in an arm get summaries only)."""
    out = {}
    for budget in sorted({r["budget"] for r in rows}):
        arms = {
            arm: [r["accuracy"] for r in rows if r["budget"] == budget and r["arm"] == arm]
            for arm in ARMS
        }
        entry = {arm: summarize(values) for arm, values in arms.items() if values}
        if all(len(v) >= 2 for v in arms.values()):
            entry["welch"] = welch(arms["pretrained"], arms["random"])
            entry["verdict"] = verdict(entry["welch"])
        out[str(budget)] = entry
    return out


def table(results: dict) -> str:
    """The markdown table docs/results.md quotes: test accuracy per budget and arm."""
    rows = [
        "| labelled reviews | pre-trained: mean ± sd (95% CI), n | random init: mean ± sd "
        "(95% CI), n | difference (Welch 95% CI), p | verdict |",
        "| ---: | --- | --- | --- | --- |",
    ]

    def arm(entry: dict | None) -> str:
        if entry is None:
            return "not run"
        if entry["sd"] is None:
            return f"{100 * entry['mean']:.2f}%, {entry['n']}"
        low, high = entry["ci95"]
        spread, interval = f" ± {100 * entry['sd']:.2f}", f" ({100 * low:.2f} to {100 * high:.2f})"
        return f"{100 * entry['mean']:.2f}%{spread}{interval}, {entry['n']}"

    for budget, entry in results["summary"].items():
        test = entry.get("welch")
        difference = (
            f"{100 * test['difference']:+.2f} points ({100 * test['ci95'][0]:+.2f} to "
            f"{100 * test['ci95'][1]:+.2f}), p = {test['p']:.3g}"
            if test
            else "needs 2 seeds per arm"
        )
        rows.append(
            f"| {int(budget):,} | {arm(entry.get('pretrained'))} | {arm(entry.get('random'))} | "
            f"{difference} | {entry.get('verdict', '-')} |"
        )
    return "\n".join(rows)


def collect(study: Study) -> dict:
    rows = study.accuracies()
    results = {
        "test": "Welch's t-test (unequal variances) on the seeds' test accuracies; 95% "
        "intervals from Student's t",
        "pretrained": str(study.pretrained),
        "budgets": list(study.budgets),
        "seeds": list(study.seeds),
        "cells": rows,
        "summary": analyse(rows),
    }
    from attention_lab.io import atomic_write_json

    atomic_write_json(study.root / "results.json", results, indent=2)
    return results


# --- the fast mode's data ------------------------------------------------------------------------

_POSITIVE = ("good", "great", "fun", "loved", "wonderful")
_NEGATIVE = ("bad", "awful", "dull", "hated", "boring")
_NEUTRAL = ("the", "movie", "plot", "was", "and", "actor", "story", "film", "is", "very")


def write_synthetic_imdb(root: Path, per_label: int = 40, unsup: int = 120) -> Path:
    """An ``aclImdb/`` folder of seeded reviews: positive and negative words mixed with
    neutral ones (the fast mode's data; not IMDb)."""
    import numpy as np

    rng = np.random.default_rng(0)

    def review(words: tuple[str, ...]) -> str:
        picks = [*rng.choice(_NEUTRAL, 10), *rng.choice(words, 3)]
        return " ".join(rng.permutation(picks)) + "."

    folders = {
        "train/pos": (per_label, _POSITIVE),
        "train/neg": (per_label, _NEGATIVE),
        "test/pos": (per_label // 2, _POSITIVE),
        "test/neg": (per_label // 2, _NEGATIVE),
        "train/unsup": (unsup, _POSITIVE + _NEGATIVE),
    }
    for folder, (count, words) in folders.items():
        target = root / "aclImdb" / folder
        target.mkdir(parents=True, exist_ok=True)
        for number in range(count):
            (target / f"{number}_7.txt").write_text(review(words))
    return root / "aclImdb"


def fast_study(root: Path) -> Study:
    """Synthetic data, its vocabulary, a 20-step pre-training, and the study's settings."""
    from attention_lab.cli.main import main
    from attention_lab.data.imdb import read_imdb
    from attention_lab.tokenization.trainer import train_vocabulary

    data = write_synthetic_imdb(root / "data")
    vocab, pretrained = root / "vocab", root / "pretrained"
    if not (vocab / "vocab.txt").is_file():
        texts = [t.decode() for s in ("unsupervised", "train") for t in read_imdb(s, data).texts]
        train_vocabulary(texts, 60, min_frequency=1).save(vocab)
    if not (pretrained / "model.safetensors").is_file():
        code = main(
            [
                "pretrain", "--vocab", str(vocab), "--data", str(data), "--out", str(pretrained),
                "--layers", "1", "--hidden", "16", "--heads", "2", "--intermediate", "32",
                "--max-positions", "32", "--max-len", "32", "--steps", "20", "--eval-every",
                "10", "--batch-size", "8", "--holdout", "10", "--learning-rate", "3e-3",
                "--precision", "float32", "--no-progress",
            ]
        )  # fmt: skip
        if code:
            raise SystemExit(code)
    return Study(
        root, pretrained, str(data), budgets=(32,), seeds=(1, 2), epochs=1, max_len=32,
        extra=("--batch-size", "8", "--precision", "float32"),
        evaluate_extra=("--precision", "float32"), in_process=True,
    )  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transfer_study")
    parser.add_argument("--pretrained", help="the pretrain --out folder (finished)")
    parser.add_argument("--root", default=str(ROOT / "runs" / "transfer-study"))
    parser.add_argument("--data", default=DATA, help="aclImdb_v1.tar.gz or an aclImdb/ folder")
    parser.add_argument("--budgets", type=int, nargs="+", default=[500, 2000, 20000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--fast", action="store_true", help="the pipeline on tiny data")
    parser.add_argument("--list", action="store_true", help="each cell and its status")
    parser.add_argument("--table", action="store_true", help="the markdown table of results")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not args.fast:
        if args.pretrained is None:
            parser.error("pass --pretrained (the folder of `attention-lab pretrain`) or --fast")
        pretrained = Path(args.pretrained)
        record = pretrained / "run.json"
        if not record.is_file() or json.loads(record.read_text())["status"] != "complete":
            parser.error(f"{pretrained} is not a finished pretrain run folder")
    if args.fast or not args.list:  # it writes into ROOT (--table: results.json): ours only
        from attention_lab.errors import AttentionLabError
        from attention_lab.io import claim_folder

        inputs = () if args.fast else (args.pretrained, args.data)
        try:
            claim_folder(root, "transfer_study", inputs=inputs)
        except AttentionLabError as err:
            print(f"transfer_study: error: {err}", file=sys.stderr)
            return 2
    if args.fast:
        study = fast_study(root)
    else:
        study = Study(root, pretrained, args.data, tuple(args.budgets), tuple(args.seeds),
                      args.epochs, args.max_len)  # fmt: skip
    if args.list:
        for cell in study.cells():
            print(f"{cell.name:<32} {study.status(cell)}")
        return 0
    if not args.table:
        for cell in study.cells():
            print(f"{cell.name}: {study.status(cell)}", flush=True)
            code = study.run_cell(cell)
            if code:
                print(f"{cell.name} failed (exit {code}); see {root / 'logs'}", file=sys.stderr)
                return code
    results = collect(study)
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
