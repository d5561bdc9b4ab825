"""``python -m benchmarks.bf16_profile``: bfloat16 on the CPU, where the time goes (issue 20).

Studies (``--studies``, all by default):

- ``profile``: one profiled call of each contender (:mod:`benchmarks.op_profile`): ours in
  mixed bfloat16 before and after this issue's layer changes, and PyTorch's bf16 autocast,
  on the forward pass at 16 × 150 and 8 × 128 and the training step at 16 × 150;
- ``compare``: the same contenders, plus ours in a pure ``bfloat16`` policy and every float32
  contender, timed side by side (forward at both shapes, training step);
- ``flags``: settings that TensorFlow, oneDNN and XLA read from the environment, each in a
  process of its own, against the default, on the forward pass at 16 × 150, and the matmul
  ceiling (:mod:`benchmarks.ceiling`) in each of those processes;
- ``torch-backend``: ours under Keras's PyTorch backend against transformers, both profiled
  with torch.profiler and timed side by side;
- ``accuracy``: the bfloat16 parity criteria (:mod:`attention_lab.parity.report`) on the
  installed all-MiniLM-L6-v2 checkpoint for each precision path (eager, XLA, and the
  ``tf.function`` graph the library runs);
- ``padding``: how many padded tokens IMDb at 150 tokens computes, batches in random order
  (all padded to 150) against batched by length (``--bucket-by-length``), and the time of the
  same reviews both ways.

Every contender lives in a worker process, because the settings under test are read once per
process (``TF_ONEDNN_ASSUME_FROZEN_WEIGHTS``, ``ONEDNN_DEFAULT_FPMATH_MODE``, ``XLA_FLAGS``,
``KERAS_BACKEND``) and because "before" is the library's code at an earlier commit
(``--baseline``, extracted with ``git archive``). The parent runs one call at a time, rotating
through the contenders of all workers round by round (:func:`benchmarks.timing.alternate`),
so no two calls ever share the cores and a load spike hits them all alike.

``--quick`` runs every study but ``accuracy`` and ``padding`` on a tiny BERT (its figures
mean nothing about speed), in well under a minute. Results: ``bf16_profile.json`` and
``bf16_profile.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attention_lab.io import atomic_write_json, atomic_write_text
from attention_lab.models.bert import BertConfig
from benchmarks.flops import bert_forward_flops, bert_train_step_flops
from benchmarks.machine import cpu_info, load_average
from benchmarks.plan import QUICK_CONFIG
from benchmarks.timing import Timing, alternate

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("profile", "compare", "flags", "torch-backend", "accuracy", "padding")
DEFAULT_BASELINE = "a2bf470"  # the library before this layer changes

# Worker processes: a label, the environment it adds, and whether it runs the baseline code.
# The XLA flags switch on the oneDNN paths of XLA's CPU backend as this TensorFlow ships it
# (their names and help texts are in libtensorflow_cc.so; "dot" is the matmul fusion).
WORKERS = {
    "default": {},
    "control": {},  # the default again, in a second process: what processes alone differ by
    "baseline": {"code": "baseline"},
    "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1": {"env": {"TF_ONEDNN_ASSUME_FROZEN_WEIGHTS": "1"}},
    "TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD=1": {
        "env": {"TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD": "1"}
    },
    "ONEDNN_DEFAULT_FPMATH_MODE=BF16": {"env": {"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"}},
    "XLA oneDNN": {
        "env": {
            "XLA_FLAGS": "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true"
        }
    },
    "XLA oneDNN fusion": {"env": {"XLA_FLAGS": "--xla_cpu_experimental_onednn_fusion_type=dot"}},
    "KERAS_BACKEND=torch": {"env": {"KERAS_BACKEND": "torch"}},
}


# --- parent side ------------------------------------------------------------------------


class Worker:
    """One worker process: a label from :data:`WORKERS`, its environment, its code."""

    def __init__(self, label: str, config: BertConfig, threads: int, baseline_code: str | None):
        spec = WORKERS[label]
        self.label = label
        self.env = spec.get("env", {})
        env = {**os.environ, **self.env}
        code = baseline_code if spec.get("code") == "baseline" else None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bf16_worker", *([code] if code else [])],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.expected = Path(code or ROOT) / "attention_lab" / "__init__.py"
        self._send("init", threads=threads, config=config.to_dict())
        self.info = None  # the init reply, read with the first request: workers start together

    def _send(self, command: str, **fields) -> None:
        self.process.stdin.write(json.dumps({"cmd": command, **fields}) + "\n")
        self.process.stdin.flush()

    def _receive(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.label!r} died (its stderr is above)")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"worker {self.label!r}: {reply['error']}")
        return reply

    def request(self, command: str, **fields) -> dict:
        if self.info is None:
            self.info = self._receive()
            if Path(self.info["attention_lab"]) != self.expected:
                raise RuntimeError(f"worker {self.label!r} imported {self.info['attention_lab']}")
        self._send(command, **fields)
        return self._receive()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


@dataclass
class Session:
    """The run's workers, created when first asked for and closed at the end."""

    config: BertConfig
    threads: int
    baseline_code: str | None
    log: object = print
    only: set[str] | None = None  # contender names to keep in profile and compare
    workers: dict[str, Worker] = field(default_factory=dict)

    def keep(self, entries):
        return [e for e in entries if self.only is None or e[1] in self.only]

    def worker(self, label: str) -> Worker:
        if label not in self.workers:
            self.log(f"  starting worker {label}")
            self.workers[label] = Worker(label, self.config, self.threads, self.baseline_code)
        return self.workers[label]

    def start(self, entries) -> None:
        """Start the workers of ``entries`` ((label, name), ...) at once."""
        for label, _ in entries:
            self.worker(label)

    def close(self, keep: tuple[str, ...] = ()) -> None:
        for label in [label for label in self.workers if label not in keep]:
            self.workers.pop(label).close()


def display(name: str, label: str) -> str:
    return name if label == "default" else f"{name} [{label}]"


def measure(session: Session, kind, shape, entries, warmup, repeats) -> dict[str, Timing]:
    """Time ``entries`` ((worker label, contender name), ...) side by side on one workload."""
    batch, length = shape
    session.start(entries)
    by_worker = {}
    for label, name in entries:
        by_worker.setdefault(label, []).append(name)
    for label, names in by_worker.items():
        session.worker(label).request("prepare", kind=kind, names=names, batch=batch, length=length)
    calls = {}
    for label, name in entries:
        worker = session.worker(label)
        calls[display(name, label)] = lambda w=worker, n=name: w.request("run", name=n)
    return alternate(calls, batch, warmup, repeats, log=session.log)


def _timing_rows(timings: dict[str, Timing], flops: int) -> dict:
    return {
        name: {**t.to_dict(), "gflops": flops / t.median_s / 1e9} for name, t in timings.items()
    }


def study_profile(session: Session, shapes, quick: bool) -> dict:
    forward_shapes, train_shape = shapes
    entries = [
        ("baseline", "ours mixed_bfloat16"),
        ("default", "ours mixed_bfloat16"),
        ("default", "ours bfloat16"),
        ("default", "PyTorch bf16 autocast"),
    ]
    results = {}
    plans = [("forward", s, entries) for s in forward_shapes]
    plans.append(("train", train_shape, [e for e in entries if e[1] != "ours bfloat16"]))
    session.start(session.keep(entries))
    for kind, shape, chosen in plans:
        chosen = session.keep(chosen)
        key = f"{kind} {shape[0]}x{shape[1]}"
        session.log(f"profile {key}")
        results[key] = {}
        for label, name in chosen:
            worker = session.worker(label)
            worker.request("prepare", kind=kind, names=[name], batch=shape[0], length=shape[1])
            worker.request("run", name=name)  # warm-up: tracing, oneDNN primitives
            worker.request("run", name=name)
            calls = 1 if kind == "train" or quick else 2
            results[key][display(name, label)] = worker.request("profile", name=name, calls=calls)
    return results


def study_compare(session: Session, shapes, warmup, repeats) -> dict:
    forward_shapes, train_shape = shapes
    forward = [
        ("baseline", "ours mixed_bfloat16"),
        ("default", "ours mixed_bfloat16"),
        ("control", "ours mixed_bfloat16"),
        ("default", "ours bfloat16"),
        ("default", "PyTorch bf16 autocast"),
        ("baseline", "ours float32"),
        ("default", "ours float32"),
        ("default", "PyTorch fp32"),
    ]
    # training in two passes, bfloat16 then float32: a worker holds one pass's models at a time
    train_bf16 = [e for e in forward if e[1] in ("ours mixed_bfloat16", "PyTorch bf16 autocast")]
    train_fp32 = [e for e in forward if e[1] in ("ours float32", "PyTorch fp32")]
    results = {}
    passes = [("forward", s, forward, "") for s in forward_shapes]
    passes += [
        ("train", train_shape, train_bf16, " bfloat16"),
        ("train", train_shape, train_fp32, " float32"),
    ]
    for kind, shape, entries, suffix in passes:
        key = f"{kind} {shape[0]}x{shape[1]}{suffix}"
        session.log(f"compare {key}")
        entries = session.keep(entries)
        count = bert_forward_flops if kind == "forward" else bert_train_step_flops
        flops = count(session.config, *shape)
        timings = measure(session, kind, shape, entries, warmup, repeats)
        results[key] = {"flops_per_call": flops, "contenders": _timing_rows(timings, flops)}
    return results


FLAG_ENTRIES = (
    ("default", "ours mixed_bfloat16"),
    ("default", "ours bfloat16"),
    ("default", "ours float32"),
    ("default", "PyTorch bf16 autocast"),
    ("TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1", "ours mixed_bfloat16"),
    ("TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1", "ours bfloat16"),
    ("TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD=1", "ours mixed_bfloat16"),
    ("ONEDNN_DEFAULT_FPMATH_MODE=BF16", "ours float32"),
    ("default", "ours mixed_bfloat16 XLA"),
    ("XLA oneDNN", "ours mixed_bfloat16 XLA"),
    ("XLA oneDNN", "ours float32 XLA"),
    ("XLA oneDNN fusion", "ours mixed_bfloat16 XLA"),
)


def study_flags(session: Session, shape, warmup, repeats, quick: bool) -> dict:
    session.log(f"flags forward {shape[0]}x{shape[1]}")
    flops = bert_forward_flops(session.config, *shape)
    timings = measure(session, "forward", shape, FLAG_ENTRIES, warmup, repeats)
    ceilings = {}
    for label in dict.fromkeys(label for label, _ in FLAG_ENTRIES):
        session.log(f"  matmul ceiling [{label}]")
        ceilings[label] = session.worker(label).request("ceiling", quick=quick)
    return {
        "shape": list(shape),
        "env": {label: WORKERS[label].get("env", {}) for label, _ in FLAG_ENTRIES},
        "flops_per_call": flops,
        "contenders": _timing_rows(timings, flops),
        "matmul_gflops": ceilings,
    }


def study_torch_backend(session: Session, shapes, warmup, repeats, quick: bool) -> dict:
    label = "KERAS_BACKEND=torch"
    entries = [(label, "ours mixed_bfloat16"), (label, "PyTorch bf16 autocast")]
    results = {}
    for shape in shapes:
        key = f"forward {shape[0]}x{shape[1]}"
        session.log(f"torch backend {key}")
        flops = bert_forward_flops(session.config, *shape)
        timings = measure(session, "forward", shape, entries, warmup, repeats)
        profiles = {
            display(name, label): session.worker(label).request(
                "profile", name=name, calls=1 if quick else 2
            )
            for _, name in entries
        }
        results[key] = {"contenders": _timing_rows(timings, flops), "profiles": profiles}
    return results


def study_accuracy(session: Session) -> dict:
    """The bfloat16 parity criteria for each precision path (see benchmarks.bf16_accuracy)."""
    checks = [
        ("default", "mixed_bfloat16", ["eager", "xla", "graph"]),
        ("baseline", "mixed_bfloat16", ["eager", "graph"]),
        ("default", "bfloat16", ["eager", "graph"]),
        ("ONEDNN_DEFAULT_FPMATH_MODE=BF16", "float32", ["eager", "graph"]),
    ]
    results = {}
    for label, policy, modes in checks:
        session.log(f"accuracy {policy} [{label}]")
        results[display(policy, label)] = session.worker(label).request(
            "parity", policy=policy, modes=modes
        )
    return results


def padding_widths(lengths: np.ndarray, batch: int, max_len: int):
    """``(used, widths)``: the reviews of one epoch's full batches, and the padded width of
    every batch in random order (all padded to ``max_len``, as the chapter does) and batched
    by length (sorted, each batch trimmed to its longest review and rounded up as
    ``--bucket-by-length`` does)."""
    from attention_lab.training.data import padded_width

    n = len(lengths) // batch * batch
    used = np.random.default_rng(0).permutation(len(lengths))[:n]
    by_length = used[np.argsort(lengths[used], kind="stable")].reshape(-1, batch)
    return used, {
        "random order, padded to 150": np.full(n // batch, max_len),
        "batched by length": np.array(
            [padded_width(lengths[rows].max(), max_len) for rows in by_length]
        ),
    }


def padding_summary(lengths: np.ndarray, batch: int, max_len: int) -> dict:
    """Tokens computed in one epoch each way, and the fraction of them that is padding."""
    used, widths = padding_widths(lengths, batch, max_len)
    real = int(np.minimum(lengths[used], max_len).sum())
    return {
        name: {
            "tokens_computed": int(batch * w.sum()),
            "padded_fraction": 1 - real / float(batch * w.sum()),
        }
        for name, w in widths.items()
    }


def study_padding(session: Session, warmup: int, repeats: int, batches: int) -> dict:
    """IMDb's padding both ways, and the time of ``batches`` batches of 16 both ways."""
    from benchmarks.bf16_accuracy import imdb_lengths

    batch, max_len = 16, 150
    lengths = imdb_lengths(max_len)
    widths = padding_widths(lengths, batch, max_len)[1]["batched by length"]
    sample = widths[np.linspace(0, len(widths) - 1, batches).astype(int)]  # evenly spaced
    worker, name = session.worker("default"), "ours mixed_bfloat16"

    def run(shapes):
        for length in shapes:
            worker.request("prepare", kind="forward", names=[name], batch=batch, length=length)
            worker.request("run", name=name)

    calls = {
        "random order, padded to 150": lambda: run([max_len] * batches),
        "batched by length": lambda: run([int(w) for w in sample]),
    }
    timings = alternate(calls, batch * batches, warmup, repeats, log=session.log)
    return {
        "reviews": len(lengths),
        "max_len": max_len,
        "batch": batch,
        "epoch": padding_summary(lengths, batch, max_len),
        "sampled_widths": [int(w) for w in sample],
        "timed": {label: t.to_dict() for label, t in timings.items()},
    }


# --- report -----------------------------------------------------------------------------


def _ratio_table(rows: dict, reference: str) -> list[str]:
    lines = [
        "| contender | per second (median) | interquartile range | GFLOP/s | ratio to "
        f"{reference} |",
        "|---|---:|---:|---:|---:|",
    ]
    ref = rows.get(reference, {}).get("throughput_median")
    for name, row in rows.items():
        low, high = row["throughput_iqr"]
        ratio = f"{row['throughput_median'] / ref:.2f}" if ref else "-"
        lines.append(
            f"| {name} | {row['throughput_median']:.3g} | {low:.3g}–{high:.3g} | "
            f"{row['gflops']:.0f} | {ratio} |"
        )
    return lines


def _profile_table(profiles: dict) -> list[str]:
    from benchmarks.op_profile import GROUPS

    names = list(profiles)
    lines = [
        "| group (ms per call) | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for group in GROUPS:
        values = [profiles[n]["groups_ms"].get(group, 0.0) for n in names]
        if any(values):
            lines.append(f"| {group} | " + " | ".join(f"{v:.0f}" for v in values) + " |")
    lines.append(
        "| **sum of ops** | "
        + " | ".join(f"{profiles[n]['ops_total_ms']:.0f}" for n in names)
        + " |"
    )
    lines.append(
        "| wall time of the call | "
        + " | ".join(f"{profiles[n]['wall_ms']:.0f}" for n in names)
        + " |"
    )
    return lines


def markdown(results: dict) -> str:
    lines = [
        "# bfloat16 on the CPU: raw tables of one run",
        "",
        f"- Command: `{results['command']}`",
        f"- CPU: {results['machine']['model']}, {results['machine']['logical_cpus']} logical "
        f"CPUs; threads {results['threads']}",
        f"- Load average at start {results['load_start']}, at end {results['load_end']}",
        f"- Baseline code: `{results['baseline']}`",
        "",
    ]
    for key, profiles in results.get("profile", {}).items():
        lines += [f"## profile {key}", "", *_profile_table(profiles), ""]
    for key, m in results.get("compare", {}).items():
        lines += [f"## compare {key}", "", *_ratio_table(m["contenders"], "PyTorch bf16 autocast")]
        lines.append("")
    if "flags" in results:
        f = results["flags"]
        lines += [f"## flags forward {f['shape'][0]}x{f['shape'][1]}", ""]
        lines += _ratio_table(f["contenders"], "ours mixed_bfloat16")
        lines += ["", "| matmul GFLOP/s | " + " | ".join(f["matmul_gflops"]) + " |"]
        lines.append("|---|" + "---:|" * len(f["matmul_gflops"]))
        kernels = next(iter(f["matmul_gflops"].values()))
        for kernel in kernels:
            lines.append(
                f"| {kernel} | "
                + " | ".join(f"{v[kernel]:.0f}" for v in f["matmul_gflops"].values())
                + " |"
            )
        lines.append("")
    for key, m in results.get("torch-backend", {}).items():
        lines += [f"## Keras torch backend {key}", ""]
        lines += _ratio_table(m["contenders"], "PyTorch bf16 autocast [KERAS_BACKEND=torch]")
        lines += ["", *_profile_table(m["profiles"]), ""]
    if "accuracy" in results:
        lines += ["## accuracy (bfloat16 parity criteria)", ""]
        lines += ["| path | mode | passed | first failure | worst relative (hidden) |"]
        lines.append("|---|---|---|---|---:|")
        for path, modes in results["accuracy"].items():
            for mode, r in modes.items():
                lines.append(
                    f"| {path} | {mode} | {r['passed']} | {r['first_failure'] or '-'} | "
                    f"{r['worst_relative_hidden']:.2e} |"
                )
        lines.append("")
    if "padding" in results:
        p = results["padding"]
        lines += ["## padding (IMDb, 150 tokens, batches of 16)", ""]
        for name, row in p["epoch"].items():
            lines.append(
                f"- {name}: {row['tokens_computed']:,} tokens computed, "
                f"{row['padded_fraction']:.1%} of them padding"
            )
        for name, row in p["timed"].items():
            lines.append(f"- timed, {name}: {row['throughput_median']:.3g} reviews/s")
        lines.append("")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------


def baseline_code(ref: str) -> str:
    """``attention_lab/`` at ``ref``, extracted into a temporary folder (removed at exit)."""
    folder = tempfile.mkdtemp(prefix="bf16-baseline-")
    atexit.register(shutil.rmtree, folder, True)
    archive = subprocess.run(
        ["git", "archive", ref, "attention_lab"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bf16_profile", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny BERT, two rounds")
    parser.add_argument("--out", default="docs", help="folder for bf16_profile.{json,md}")
    parser.add_argument("--studies", default=",".join(STUDIES), help="comma-separated subset")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, help="timed rounds (default 7, quick 2)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls of each")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref of 'before'")
    parser.add_argument("--padding-batches", type=int, default=8)
    parser.add_argument(
        "--only", help="comma-separated contender names: profile and compare only these"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    studies = args.studies.split(",")
    unknown = sorted(set(studies) - set(STUDIES))
    if unknown:
        print(f"unknown studies {unknown}; choose from {','.join(STUDIES)}", file=sys.stderr)
        return 2
    config = QUICK_CONFIG if args.quick else BertConfig()
    forward_shapes = ((2, 16), (2, 24)) if args.quick else ((16, 150), (8, 128))
    train_shape = (2, 24) if args.quick else (16, 150)
    repeats = args.repeats or (2 if args.quick else 7)
    warmup = 1 if args.quick else args.warmup
    results = {
        "command": "python -m benchmarks.bf16_profile " + shlex.join(argv),
        "quick": args.quick,
        "machine": cpu_info(),
        "threads": args.threads,
        "baseline": args.baseline,
        "load_start": load_average(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save():  # after every study: a killed run keeps what it measured
        results["load_end"] = load_average()
        atomic_write_json(out / "bf16_profile.json", results)
        atomic_write_text(out / "bf16_profile.md", markdown(results))

    session = Session(config, args.threads, baseline_code(args.baseline))
    session.only = set(args.only.split(",")) if args.only else None
    try:
        if "profile" in studies:
            results["profile"] = study_profile(session, (forward_shapes, train_shape), args.quick)
            save()
        if "compare" in studies:
            results["compare"] = study_compare(
                session, (forward_shapes, train_shape), warmup, repeats
            )
            save()
        session.close(keep=("default",))
        if "flags" in studies:
            results["flags"] = study_flags(session, forward_shapes[0], warmup, repeats, args.quick)
            save()
        session.close(keep=("default",))
        if "torch-backend" in studies:
            results["torch-backend"] = study_torch_backend(
                session, forward_shapes, warmup, repeats, args.quick
            )
            save()
        session.close(keep=("default",))
        if "accuracy" in studies and not args.quick:
            results["accuracy"] = study_accuracy(session)
            save()
        if "padding" in studies and not args.quick:
            results["padding"] = study_padding(session, warmup, repeats, args.padding_batches)
            save()
    finally:
        session.close()
    save()
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
