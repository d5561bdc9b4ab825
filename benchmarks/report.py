"""Write the results: ``benchmarks.json``, ``benchmarks.md`` and the bar chart ``benchmarks.png``.

``benchmarks.md`` is shared: the hand-written sections (:data:`KEPT_SECTIONS`: the tokenizer
module's own run, comparisons between runs, the bfloat16 study of ``benchmarks.bf16_profile``,
the test suite's timings) are carried over unchanged from the existing file; everything else
is regenerated.
Every write goes through :mod:`attention_lab.io` (a whole file or none).
"""

from __future__ import annotations

import json
from pathlib import Path

from attention_lab.io import atomic_write_bytes, atomic_write_json, atomic_write_text

KEPT_SECTIONS = (
    "## Tokenizer speed",
    "## Run-to-run variation",
    "## bfloat16 on the CPU",
    "## Test suite",
)
# Results sections besides the BERT measurements, and how the page names them.
SECTION_TITLES = {
    "bf16_numerics": "bfloat16 against float32",
    "bilstm": "BiLSTM seconds per epoch",
    "tokenizer": "tokenizer throughput",
}
CHART_NAME = "benchmarks.png"


def goals() -> tuple[tuple[str, str, str, float], ...]:
    """The ratios issue 7 asks for: (ours, reference, measurement kind, minimum ratio).

    "ours" in float32 is the library's CPU path (:func:`attention_lab.runtime.choose_plan`).
    """
    from attention_lab.runtime import choose_plan

    cpu = choose_plan("float32", device="cpu")
    ours_fp32 = "ours XLA" if cpu.jit_compile else "ours tf.function"
    return (
        (ours_fp32, "KerasHub XLA", "forward", 1.1),
        (ours_fp32, "PyTorch fp32", "forward", 0.95),
        ("ours bf16", "PyTorch bf16 autocast", "forward", 1.0),
        ("ours bf16", "PyTorch bf16 autocast", "train step", 1.0),
    )


LIMITS = """\
- **Other load.** The load average before and after the run is given above: about the
  thread count means the benchmark had the cores to itself, more means other jobs shared
  them. Absolute figures move with such load, which is why all contenders are timed in turn,
  round by round (rotating who goes first), in one process: the ratios stay fair when the
  absolutes do not. Spread is the interquartile range of the timed rounds.
- **Matmul speed.** Matmuls are over 99% of BERT-Base's arithmetic (the elementwise work,
  GELU, softmax, LayerNorm, bias adds, is under 0.1 MFLOP per token and layer against 14 MFLOP
  of matmuls), so every contender is bounded by the matmul ceiling of its precision.
  Contenders near 100% of the ceiling cannot go much faster on this CPU; fractions above
  100% mean the ceiling was measured during a busier moment than the model.
- **bfloat16.** The CPU has AVX-512 BF16 dot-product instructions but no AMX tiles: through
  oneDNN (TensorFlow without XLA, PyTorch) bfloat16 matmuls beat float32, while XLA's CPU
  backend does not use those instructions (compare the rows of the ceiling table).
- **Eager.** Ours eager pays Python and per-op dispatch for every layer; tf.function removes
  it, XLA additionally fuses the elementwise work (GELU, softmax, LayerNorm, residuals).
- **Training step.** Forward + backward is about 3× the forward FLOPs; AdamW adds a
  memory-bound pass over 108M parameters and their two moments, which the FLOP count leaves
  out. Our three float32 steps share one model and optimizer, as do PyTorch's two.
- **PyTorch under load.** PyTorch splits each op statically across its OpenMP threads and
  waits for the slowest; when other jobs oversubscribe the cores, a descheduled thread stalls
  the whole op, while TensorFlow's thread pool hands out smaller shards dynamically and
  suffers less. On a loaded machine the ratios against PyTorch therefore favour us.
- **KerasHub** uses the tanh-approximate GELU, ours and Hugging Face's the exact erf GELU: the
  same matmuls, slightly different elementwise work.
"""


def check_outputs(out) -> None:
    """Refuse an ``--out`` under which the three outputs may not land, before anything is
    measured (:func:`attention_lab.io.check_output_file`): a file where the folder belongs, or
    a model or run folder (its files stay as written). ``--render docs/benchmarks.json --out
    docs`` rewrites the run's own outputs from that file, as documented: allowed."""
    from attention_lab.errors import AttentionLabError
    from attention_lab.io import check_output_file

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AttentionLabError(f"--out {out} is a file; pass a folder for benchmarks.*")
    for name in ("benchmarks.json", "benchmarks.md", CHART_NAME):
        check_output_file(out / name)


def write_all(results: dict, out: Path) -> list[Path]:
    out = Path(out)
    json_path, md_path, png_path = (
        out / "benchmarks.json",
        out / "benchmarks.md",
        out / CHART_NAME,
    )
    atomic_write_json(json_path, results, indent=2)
    written = [json_path, md_path]
    if results["measurements"]:
        atomic_write_bytes(png_path, chart_png(results))
        written.append(png_path)
    previous = md_path.read_text(encoding="utf-8") if md_path.is_file() else ""
    atomic_write_text(md_path, markdown(results, kept_sections(previous)))
    return written


def merge_runs(runs: list[dict]) -> dict:
    """The first run with the measurements and sections of the later ones added.

    Each added run is listed under ``other_runs`` with its own command, date, load and matmul
    ceiling (its rows' ceiling fractions are relative to that ceiling).
    """
    merged = json.loads(json.dumps(runs[0]))
    merged.setdefault("other_runs", [])
    for m in merged["measurements"].values():
        for row in m["contenders"].values():
            row.setdefault("run", 1)
    for number, other in enumerate(runs[1:], start=len(merged["other_runs"]) + 2):
        for key, m in other["measurements"].items():
            rows = {name: {**row, "run": number} for name, row in m["contenders"].items()}
            if key in merged["measurements"]:
                merged["measurements"][key]["contenders"].update(rows)
            else:
                merged["measurements"][key] = {**m, "contenders": rows}
        for section in SECTION_TITLES:
            if section in other:
                merged[section] = other[section]
        merged["complete"] = merged["complete"] and other["complete"]
        merged["other_runs"].append(
            {
                "run": number,
                "command": other["command"],
                "date": other["date"],
                "stages": other.get("stages"),
                "measurements": list(other["measurements"])
                + [SECTION_TITLES[section] for section in SECTION_TITLES if section in other],
                "load_average_start": other["machine"]["load_average_start"],
                "load_average_end": other["machine"].get("load_average_end"),
                "ceiling_gflops": other["ceiling"]["gflops"],
            }
        )
    return merged


def kept_sections(text: str) -> str:
    """The sections other modules own, copied verbatim from the previous file."""
    kept, keep = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            keep = line.rstrip() in KEPT_SECTIONS
        if keep:
            kept.append(line)
    return "".join(kept)


def chart_png(results: dict) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measurements = results["measurements"]
    fig, axes = plt.subplots(
        1, len(measurements), figsize=(5 * len(measurements), 4), squeeze=False
    )
    for ax, (key, m) in zip(axes[0], measurements.items(), strict=True):
        names = list(m["contenders"])
        rows = [m["contenders"][n] for n in names]
        medians = [r["throughput_median"] for r in rows]
        errors = [
            [r["throughput_median"] - r["throughput_iqr"][0] for r in rows],
            [r["throughput_iqr"][1] - r["throughput_median"] for r in rows],
        ]
        colors = ["tab:blue" if n.startswith("ours") else "tab:gray" for n in names]
        if results.get("other_runs"):
            names = [f"{n} (run {r['run']})" for n, r in zip(names, rows, strict=True)]
        ax.barh(names, medians, xerr=errors, color=colors)
        ax.invert_yaxis()
        ax.set_title(key)
        ax.set_xlabel(m["unit"])
    title = f"BERT on {results['machine']['model']}, {results['threads']} threads"
    fig.suptitle(title + (" (quick mode)" if results["quick"] else ""))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _same_run(measurement: dict, a: str, b: str) -> bool:
    """Both contenders measured, alternated in the same process."""
    rows = measurement["contenders"]
    return a in rows and b in rows and rows[a].get("run") == rows[b].get("run")


def goal_rows(results: dict) -> list[tuple[str, str, float, float, bool, float, float]]:
    """``(measurement, "ours / reference", ratio, goal, met, ours' and the reference's share
    of the matmul ceiling)`` for every goal whose two contenders were measured in one run."""
    rows = []
    for ours, reference, kind, minimum in goals():
        for key, m in results["measurements"].items():
            if m["kind"] != kind or not _same_run(m, ours, reference):
                continue
            a, b = m["contenders"][ours], m["contenders"][reference]
            ratio = a["throughput_median"] / b["throughput_median"]
            rows.append(
                (
                    key,
                    f"{ours} / {reference}",
                    ratio,
                    minimum,
                    ratio >= minimum,
                    a["fraction_of_ceiling"],
                    b["fraction_of_ceiling"],
                )
            )
    return rows


def _matmul_gflops(results: dict, name: str) -> float:
    """GFLOP/s of the ceiling table's row ``name`` (e.g. ``"tensorflow bfloat16"``)."""
    m, k, n = results["ceiling"]["shape_mkn"]
    return 2 * m * k * n / results["ceiling"]["timings"][name]["median_s"] / 1e9


def missed_goals_note(results: dict, rows) -> list[str]:
    """What stands between a missed goal and the measured hardware, from this run's numbers."""
    missed = {label.split(" / ")[1] for _, label, _, _, met, _, _ in rows if not met}
    if results["quick"] or not missed:
        return []
    lines = ["Where a goal is missed, this run says why:", ""]
    if "KerasHub XLA" in missed:
        shares = [
            f"{key}: ours {o:.0%}, KerasHub {r:.0%}"
            for key, label, _, _, _, o, r in rows
            if label.endswith("KerasHub XLA")
        ]
        lines.append(
            "- float32 against KerasHub: shares of the float32 ceiling (the fastest single "
            f"matmul measured here) {'; '.join(shares)}. Both are bound by the matmul speed "
            "of the CPU: a 10% lead over KerasHub at 91% or more of the ceiling would need "
            "ours to beat the ceiling."
        )
    if "PyTorch bf16 autocast" in missed:
        tf_bf16 = _matmul_gflops(results, "tensorflow bfloat16")
        torch_bf16 = _matmul_gflops(results, "torch bfloat16")
        ours = [
            m["contenders"]["ours bf16"]["gflops"]
            for m in results["measurements"].values()
            if "ours bf16" in m["contenders"]
        ]
        lines.append(
            f"- bfloat16 against PyTorch: TensorFlow's own bfloat16 matmul (oneDNN as "
            f"TensorFlow ships it) ran at {_fmt(tf_bf16)} GFLOP/s on the ceiling's shape, "
            f"PyTorch's at {_fmt(torch_bf16)} ({tf_bf16 / torch_bf16:.0%} of it). Ours bf16 "
            f"ran at {' / '.join(_fmt(x) for x in ours)} GFLOP/s "
            f"({' / '.join(f'{x / tf_bf16:.0%}' for x in ours)} of TensorFlow's matmul): the "
            "model code keeps up with TensorFlow's kernel, and the kernel is what trails "
            "PyTorch's. XLA's bfloat16 matmul is slower still (ceiling table)."
        )
    return [*lines, ""]


def markdown(results: dict, kept: str = "") -> str:
    machine = results["machine"]
    lines = ["# Benchmarks", ""]
    if not results["complete"]:
        lines += [
            "**Partial results: not everything was measured (see *Not measured* below).**",
            "",
        ]
    if results["quick"]:
        lines += ["**Quick mode: tiny model, two rounds; these figures say nothing about speed.**"]
        lines += [""]
    lines += [
        "Our BERT against Hugging Face's `BertModel` (PyTorch) and KerasHub's `BertBackbone`, "
        "measured side by side: all contenders of a measurement in one process, in turn. Model: "
        + (
            "BERT-Base cased (12 layers, hidden 768, 12 heads, 110M parameters), random weights."
            if not results["quick"]
            else "a tiny BERT."
        ),
        "",
        "## How these figures were made",
        "",
        f"- Date: {results['date']}",
        "- Command (from the repository root)"
        + (", run 1" if results.get("other_runs") else "")
        + f": `{results['command']}`",
        f"- Threads: {results['threads']} for every framework (TensorFlow intra-op "
        f"{results['threads']}, inter-op 1; `torch.set_num_threads({results['threads']})`, "
        "inter-op 1).",
        f"- Load average (1, 5, 15 min) at start {machine['load_average_start']}, at end "
        f"{machine.get('load_average_end', '(stopped before the end)')}.",
        *(
            f"- Run {other['run']}, another process: `{other['command']}` "
            f"({other['date']}; load average at start {other['load_average_start']}, at end "
            f"{other['load_average_end']}; its own matmul ceiling: "
            f"{_fmt(other['ceiling_gflops']['float32'])} GFLOP/s float32, "
            f"{_fmt(other['ceiling_gflops']['bfloat16'])} bfloat16) measured: "
            f"{', '.join(other['measurements'])}."
            for other in results.get("other_runs", [])
        ),
        *(
            [
                (
                    "- This page and `benchmarks.json` were written from those runs' JSON files"
                    if results.get("other_runs")
                    else "- This page was written again from the run's `benchmarks.json`, "
                    "measurements unchanged,"
                )
                + f" by `{results['render_command']}`."
            ]
            if "render_command" in results
            else []
        ),
        "- Each contender: one warm-up call (tracing, XLA compilation), then timed rounds in "
        "which every contender runs once, in rotating order. Figures are the median; the "
        "spread is the interquartile range of the rounds.",
        "- Inputs: random token ids, attention mask all ones, token types 0; identical for "
        "every contender. Training step: dropout on, 2-class head on the pooled output, sparse "
        "cross-entropy, AdamW (learning rate 2e-5).",
        "- GFLOP/s: matmul FLOPs counted analytically (`benchmarks/flops.py`: 2 per "
        "multiply-add over the Q/K/V/output projections, QKᵀ, PV, the feed-forward layers and "
        "the pooler; a training step counts 3× the forward) divided by the median time; the "
        "fraction is of the measured matmul ceiling of the contender's precision.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['model']}, {machine['logical_cpus']} logical CPUs",
        "- Flags: "
        + ", ".join(f"{flag} {'yes' if has else 'no'}" for flag, has in machine["flags"].items()),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()),
        "",
        "## Matmul ceiling",
        "",
    ]
    m, k, n = results["ceiling"]["shape_mkn"]
    lines += [
        f"One ({m} × {k}) · ({k} × {n}) matmul"
        + ("" if results["quick"] else ", the feed-forward layer of BERT-Base at batch 8 × 128")
        + ", timed like the models:",
        "",
        "| matmul | GFLOP/s (median) | interquartile range |",
        "|---|---:|---:|",
    ]
    flops = 2 * m * k * n
    for name, t in results["ceiling"]["timings"].items():
        low, high = (flops * x / t["items_per_call"] / 1e9 for x in t["throughput_iqr"])
        lines.append(f"| {name} | {_fmt(flops / t['median_s'] / 1e9)} | {_fmt(low)}–{_fmt(high)} |")
    ceiling = results["ceiling"]["gflops"]
    lines += [
        "",
        "Ceiling (the fastest of TensorFlow, TensorFlow XLA and PyTorch): float32 "
        f"{_fmt(ceiling['float32'])} GFLOP/s, "
        f"bfloat16 {_fmt(ceiling['bfloat16'])} GFLOP/s.",
        "",
        "## BERT on the CPU",
        "",
    ]
    if results["measurements"]:
        lines += [f"![throughput of every contender]({CHART_NAME})", ""]
    several_runs = bool(results.get("other_runs"))
    if several_runs:
        lines += [
            "Rows from different runs (last column) were not alternated with each other: "
            "compare them only within a run.",
            "",
        ]
    for key, meas in results["measurements"].items():
        lines += [
            f"### {key} ({meas['unit']})",
            "",
            f"Matmul work per call: {_fmt(meas['flops_per_call'] / 1e9)} GFLOP.",
            "",
            f"| contender | {meas['unit']} (median) | interquartile range | GFLOP/s | of ceiling |"
            + (" run |" if several_runs else ""),
            "|---|---:|---:|---:|---:|" + ("---:|" if several_runs else ""),
        ]
        for name, row in meas["contenders"].items():
            low, high = row["throughput_iqr"]
            lines.append(
                f"| {name} | {_fmt(row['throughput_median'])} | {_fmt(low)}–{_fmt(high)} | "
                f"{_fmt(row['gflops'])} | {row['fraction_of_ceiling']:.0%} "
                f"({row['precision']}) |" + (f" {row['run']} |" if several_runs else "")
            )
        lines.append("")
    lines += [
        "## Goals of issue 7",
        "",
        "Each side's share of the matmul ceiling of its precision (see *Matmul ceiling*) says "
        "how much room the slower one has left.",
        "",
        "| measurement | ratio | measured | goal | met | ours, of ceiling | other, of ceiling |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    rows = goal_rows(results)
    for key, label, ratio, minimum, met, ours, reference in rows:
        lines.append(
            f"| {key} | {label} | {ratio:.2f} | ≥ {minimum} | {'yes' if met else 'no'} | "
            f"{ours:.0%} | {reference:.0%} |"
        )
    lines += [""] + missed_goals_note(results, rows)
    if "bf16_numerics" in results:
        lines += bf16_section(results["bf16_numerics"])
    lines += paths_section(results)
    if "bilstm" in results:
        lines += bilstm_section(results["bilstm"])
    if "tokenizer" in results:
        lines += tokenizer_section(results["tokenizer"])
    lines += missing_section(results)
    lines += [
        "## What limits each number",
        "",
        LIMITS,
        "## GPU",
        "",
        "No GPU was lent to this task, so the GPU table (and the XLA + mixed-precision training "
        "step against PyTorch eager on a GPU) could not be produced here. "
        "`python -m benchmarks` runs unchanged on a GPU machine.",
        "",
    ]
    text = "\n".join(lines)
    return text + ("\n" + kept if kept else "")


def _ratio(results: dict, key: str, a: str, b: str) -> float:
    rows = results["measurements"][key]["contenders"]
    return rows[a]["throughput_median"] / rows[b]["throughput_median"]


def paths_section(results: dict) -> list[str]:
    """Which precision/compile path ``attention_lab.runtime`` picks, with this run's evidence."""
    from attention_lab.runtime import Probe, choose_plan, native_bfloat16_cpu

    def ratios(a: str, b: str, kinds=("forward",)) -> str:
        found = [
            f"{_ratio(results, key, a, b):.2f}× at {key}"
            for key, m in results["measurements"].items()
            if m["kind"] in kinds and _same_run(m, a, b)
        ]
        return ", ".join(found) or "not measured"

    def fused_over_plain(fused: str, plain: str) -> str:
        return ratios(fused, plain, kinds=("forward", "train step"))

    xla_vs_function = ratios("ours XLA", "ours tf.function")
    bf16_vs_xla = ratios("ours bf16", "ours bf16 XLA")
    # --precision auto decides by a probe of TensorFlow's matmul: this run's ceiling is one
    m, k, n = results["ceiling"]["shape_mkn"]
    timings = results["ceiling"]["timings"]
    probe = Probe(
        **{
            d: 2 * m * k * n / timings[f"tensorflow {d}"]["median_s"] / 1e9
            for d in Probe.__annotations__
        }
    )
    auto, gpu = choose_plan(device="cpu", probe=probe), choose_plan(device="gpu")
    fp32 = choose_plan("float32", device="cpu")
    return [
        "## Which path the library picks (`attention_lab.runtime.choose_plan`)",
        "",
        f"- CPU, `--precision auto`: `{auto.dtype_policy}`, `jit_compile={auto.jit_compile}` "
        f"({auto.reason}; bfloat16 instructions here: {native_bfloat16_cpu() or 'none'}). "
        "bfloat16 runs oneDNN's bfloat16 matmuls; XLA's CPU backend has no fast bfloat16 "
        f"matmul. Ours bf16 (no XLA) against ours bf16 XLA: {bf16_vs_xla}.",
        f"- CPU, `--precision float32`: `jit_compile={fp32.jit_compile}`. float32 keeps the "
        "parity tolerances with Hugging Face (`attention-lab parity`, eager and with XLA). Ours "
        f"XLA against ours tf.function in this run: {xla_vs_function}.",
        f"- GPU, `--precision auto`: `{gpu.dtype_policy}`, `jit_compile={gpu.jit_compile}` "
        "(tensor cores and fused kernels); not measured here, no GPU was lent to this task.",
        f"- The encoder block: `{auto.implementation}` on TensorFlow without XLA (eager calls "
        f"and graphs), `{gpu.implementation}` with XLA. The fused block "
        "(`attention_lab/models/bert_fused.py`) against the definition's "
        "(`attention_lab/models/bert.py`), same weights, in this run: tf.function "
        f"{fused_over_plain('ours tf.function', 'ours tf.function plain')}; bf16 "
        f"{fused_over_plain('ours bf16', 'ours bf16 plain')}; XLA "
        f"{fused_over_plain('ours XLA fused', 'ours XLA')}; eager "
        f"{fused_over_plain('ours eager', 'ours eager plain')}.",
        "",
    ]


def missing_section(results: dict) -> list[str]:
    """What a full ``python -m benchmarks`` measures that these results lack."""
    from benchmarks.plan import FORWARD_SHAPES, PRECISION, TRAIN_SHAPE

    if results["quick"]:
        return []
    measured = results["measurements"]
    expected = [f"forward {b}x{n}" for b, n in FORWARD_SHAPES]
    expected.append("train step {}x{}".format(*TRAIN_SHAPE))
    missing = []
    for key in expected:
        absent = [n for n in PRECISION if n not in measured.get(key, {}).get("contenders", {})]
        if key.startswith("train"):
            absent = [n for n in absent if n != "ours bf16 XLA"]
        if absent:
            missing.append(f"- {key}: {', '.join(absent)}")
    missing += [
        f"- {title}" + (" (*Tokenizer speed* has its own run)" if section == "tokenizer" else "")
        for section, title in SECTION_TITLES.items()
        if section not in results
    ]
    if not missing:
        return []
    return [
        "## Not measured",
        "",
        "The machine was so loaded by other jobs during this run (load averages above) that "
        "the full set did not fit in the time available; these were left out:",
        "",
        *missing,
        "",
    ]


def bilstm_section(bilstm: dict) -> list[str]:
    lines = [
        "## GloVe BiLSTM (chapter section 2): seconds per epoch",
        "",
        "The chapter's model from `attention_lab.models.bilstm` (compiled by its own "
        "`compile_bilstm`), one training step on a batch of 100 reviews × 150 tokens, times "
        f"{bilstm['steps_per_epoch']} steps per epoch (25,000 train reviews); see "
        "`benchmarks/bilstm.py`. The chapter reports about 17 s (frozen) and 24 s (fine-tuned) "
        "per epoch on a GPU.",
        "",
        "| mode | seconds per step (median) | seconds per epoch |",
        "|---|---:|---:|",
    ]
    for name, row in bilstm["contenders"].items():
        lines.append(f"| {name} | {row['median_s']:.3f} | {_fmt(row['seconds_per_epoch'])} |")
    return lines + [""]


def tokenizer_section(tokenizer: dict) -> list[str]:
    lines = ["## Tokenizer throughput in this run", ""]
    if "skipped" in tokenizer:
        return lines + [f"Not measured: {tokenizer['skipped']}.", ""]
    from benchmarks.tokenizer_speed import markdown as tokenizer_table

    return lines + [
        f"`benchmarks/tokenizer_speed.py` (its docstring gives the method) run by this "
        f"command: {tokenizer['reviews']:,} IMDb test "
        f"reviews encoded to {tokenizer['max_length']} tokens, one thread each.",
        "",
        tokenizer_table(tokenizer),
        "",
    ]


def bf16_section(numerics: dict) -> list[str]:
    return [
        "## bfloat16 against float32",
        "",
        f"The same converted checkpoint ({numerics['model']}) run in float32 and with the "
        f"`mixed_bfloat16` policy on the parity batch ({numerics['batch']} × "
        f"{numerics['length']} tokens, padded):",
        "",
        "| tensor | max abs diff | mean abs diff | cosine similarity (min over tokens) |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {row['max_abs_diff']:.2e} | {row['mean_abs_diff']:.2e} | "
            f"{row['min_cosine']:.5f} |"
            for name, row in numerics["tensors"].items()
        ),
        "",
        "bfloat16 keeps 8 significand bits (relative rounding 2⁻⁸ ≈ 0.4%), so differences of "
        "a few 1e-2 on LayerNorm-scaled hidden states are its expected size; float32 parity "
        "(1e-4) is not expected of it; `attention-lab parity --precision bfloat16` holds it to "
        "bfloat16 criteria instead.",
        "",
    ]
