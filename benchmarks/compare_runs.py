"""Two ``python -m benchmarks`` runs of one commit against a run of another, as Markdown.

    python -m benchmarks.compare_runs BEFORE_1.json BEFORE_2.json AFTER.json

Every ratio of one of ours to PyTorch and KerasHub, in each run: two runs of the same code show
how far a ratio moves between runs, which is the yardstick for the change between the commits.
Then, from the last run, the fused encoder block against the definition's in every mode where
both were timed, alternated in one process (``docs/benchmarks.md``, "The one-file model and the
fused block").
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

REFERENCES = ("PyTorch fp32", "PyTorch bf16 autocast", "KerasHub XLA")
# (fused, definition) contender pairs: the runtime plan's block against the other one.
BLOCKS = (
    ("ours eager", "ours eager plain"),
    ("ours tf.function", "ours tf.function plain"),
    ("ours bf16", "ours bf16 plain"),
    ("ours XLA fused", "ours XLA"),
)


def _rate(run: dict, measurement: str, contender: str) -> float:
    return run["measurements"][measurement]["contenders"][contender]["throughput_median"]


def ratio_rows(first: dict, second: dict, after: dict) -> list[tuple]:
    """``(measurement, ours, reference, before 1, before 2, after, after / mean before)``."""
    rows = []
    for measurement, found in first["measurements"].items():
        for ours in [name for name in found["contenders"] if name.startswith("ours")]:
            for reference in REFERENCES:
                r1, r2, ra = (
                    _rate(run, measurement, ours) / _rate(run, measurement, reference)
                    for run in (first, second, after)
                )
                rows.append((measurement, ours, reference, r1, r2, ra, 2 * ra / (r1 + r2)))
    return rows


def markdown(first: dict, second: dict, after: dict) -> str:
    rows = ratio_rows(first, second, after)
    lines = [
        "| measurement | ours | against | before, run 1 | before, run 2 | after "
        "| after / mean before |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {m} | {o} | {r} | {r1:.3f} | {r2:.3f} | {ra:.3f} | {q:.3f} |"
        for m, o, r, r1, r2, ra, q in rows
    ]
    noise = sorted(r2 / r1 for *_, r1, r2, _, _ in rows)
    change = sorted(q for *_, q in rows)
    lines += [
        "",
        f"Same code, run 2 / run 1: {noise[0]:.3f} to {noise[-1]:.3f} (median "
        f"{statistics.median(noise):.3f}). After / mean before: {change[0]:.3f} to "
        f"{change[-1]:.3f} (median {statistics.median(change):.3f}); "
        f"{sum(q < 0.97 for q in change)} of {len(change)} below 0.97.",
        "",
        "| measurement | fused block | definition's block | fused / definition |",
        "|---|---|---|---:|",
    ]
    for measurement, found in after["measurements"].items():
        for fused, plain in BLOCKS:
            if fused in found["contenders"] and plain in found["contenders"]:
                f, p = (_rate(after, measurement, name) for name in (fused, plain))
                lines.append(
                    f"| {measurement} | {fused}: {f:.3g} | {plain}: {p:.3g} | {f / p:.3f} |"
                )
    lines.append("")
    for run, name in ((first, "before, run 1"), (second, "before, run 2"), (after, "after")):
        machine, ceiling = run["machine"], run["ceiling"]["gflops"]
        lines.append(
            f"- {name}: {run['date']}, `{run['command']}`, load average "
            f"{machine['load_average_start']} at the start, {machine['load_average_end']} at "
            f"the end; matmul ceiling float32 {ceiling['float32']:.0f}, bfloat16 "
            f"{ceiling['bfloat16']:.0f} GFLOP/s"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if len(paths) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    first, second, after = (json.loads(Path(path).read_text()) for path in paths)
    print(markdown(first, second, after))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
