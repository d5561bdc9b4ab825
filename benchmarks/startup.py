"""Time to the first answer: the wall time of fresh ``attention-lab`` processes.

``python -m benchmarks.startup --checkpoint RUN [--contender NAME=PYTHONPATH ...]
[--repeats 5] [--out runs/startup]``

Each call is a new process running ``attention-lab predict --checkpoint RUN "one sentence"``
(``python -m attention_lab``), from its start to its exit: Python's start-up, the imports,
loading the run folder, encoding and the forward pass. That is what a user waits for when they
classify one sentence.

``--contender NAME=PYTHONPATH`` (repeatable) times another code tree beside this one, e.g. a
``git archive`` of an earlier commit, its path put first on ``PYTHONPATH`` (with more paths
after a ``:``, for instance an older version of a library installed with ``pip --target``).
Without it, only this tree is timed. Contenders run in turn, rotating who goes first each
round (:func:`benchmarks.timing.alternate`), after one warm-up call each (the operating
system's file cache). The outputs are ``startup.json`` and ``startup.md`` under ``--out``,
with the CPU and load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from attention_lab.io import atomic_write_json, atomic_write_text
from benchmarks.machine import cpu_info, load_average, utc_now
from benchmarks.timing import alternate

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "This movie was a delight from start to finish."


def _process(pythonpath: str | None, checkpoint: str, texts: list[str]):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "attention_lab", "predict", "--checkpoint", checkpoint]

    def run() -> None:
        # not from a source tree: ``python -m`` would import the package in the current folder
        done = subprocess.run(
            command + texts, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir()
        )
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")

    return run


def _contenders(specs: list[str]) -> dict[str, str | None]:
    contenders: dict[str, str | None] = {"this tree": str(ROOT)}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--contender wants NAME=PYTHONPATH, got {spec!r}")
        contenders[name] = path
    return contenders


def table(result: dict) -> str:
    lines = [
        "| contender | median (s) | min (s) | max (s) | calls |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, timing in result["timings"].items():
        lines.append(
            f"| {name} | {timing['median_s']:.2f} | {timing['min_s']:.2f} | "
            f"{timing['max_s']:.2f} | {len(timing['samples_s'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a finetune --out folder")
    parser.add_argument("--contender", action="append", default=[], help="NAME=PYTHONPATH")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="runs/startup")
    args = parser.parse_args(argv)
    contenders = _contenders(args.contender)
    calls = {name: _process(path, args.checkpoint, [SENTENCE]) for name, path in contenders.items()}
    load_before = load_average()
    timings = alternate(calls, items=1, warmup=1, repeats=args.repeats, log=print)
    result = {
        "command": ["attention-lab", "predict", "--checkpoint", args.checkpoint, SENTENCE],
        "contenders": contenders,
        "cpu": cpu_info(),
        "load_average": {"before": load_before, "after": load_average()},
        "date": utc_now(),
        "timings": {name: timing.to_dict() for name, timing in timings.items()},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "startup.json", result)
    report = (
        f"{result['date']}, {result['cpu']['model']} ({result['cpu']['logical_cpus']} logical "
        f"CPUs), load {load_before} before, {result['load_average']['after']} after\n\n"
        + table(result)
    )
    atomic_write_text(out / "startup.md", report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
