"""``attention-lab evaluate --checkpoint DIR``: test-set accuracy, precision, recall, F1."""

from __future__ import annotations

from attention_lab.cli.imdb import add_data_argument
from attention_lab.cli.options import add_plan_options, at_least
from attention_lab.errors import check_at_least_one


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a fine-tuned classifier on the IMDb test reviews",
        description="Accuracy, precision, recall and F1 (positive = 1) of a finetune run "
        "folder on the IMDb test split (25,000 reviews), and a confusion-matrix PNG. Results "
        "are written to DIR/evaluation-<split>.json and DIR/confusion-<split>.png. Reviews of "
        "similar length are batched together and padded only to the longest of their batch.",
    )
    parser.add_argument("--checkpoint", required=True, help="finetune --out folder")
    add_data_argument(parser)
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--limit", type=at_least(1), default=None, help="only the first N reviews")
    parser.add_argument("--batch-size", type=at_least(1), default=64)
    add_plan_options(
        parser,
        xla_default="off",
        xla_help="compile with XLA (off: batches of varying length need no recompiling)",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    import time
    from pathlib import Path

    from attention_lab.io import atomic_write_json
    from attention_lab.runtime import choose_plan
    from attention_lab.training.evaluation import evaluate
    from attention_lab.training.finetune import encode_imdb, load_run

    check_at_least_one("--batch-size", args.batch_size)
    plan = choose_plan(args.precision, args.xla)
    loaded, run_record = load_run(args.checkpoint, plan)
    settings = run_record["settings"]
    started = time.perf_counter()
    data = encode_imdb(
        loaded.tokenizer(),
        args.split,
        args.data,
        args.limit,
        settings["max_len"],
        settings["truncation"],
    )
    data.check(loaded.config, f"IMDb {args.split} split")
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    metrics, _ = evaluate(loaded.model, data, args.batch_size, plan, not args.no_progress)
    seconds = time.perf_counter() - started
    metrics.update(
        split=args.split,
        precision_policy=plan.dtype_policy,
        xla=plan.jit_compile,
        encode_seconds=encode_seconds,
        predict_seconds=seconds,
        examples_per_second=len(data) / seconds,
    )
    out = Path(args.checkpoint)
    atomic_write_json(out / f"evaluation-{args.split}.json", metrics)
    from attention_lab.viz.confusion import save_confusion_matrix  # after the metrics are safe

    png = save_confusion_matrix(
        metrics["confusion_matrix"],
        loaded.label_names,
        out / f"confusion-{args.split}.png",
        title=f"{loaded.head} head, IMDb {args.split} ({len(data):,} reviews)",
    )
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    print(
        f"IMDb {args.split}: {len(data):,} reviews, {seconds:.0f} s "
        f"({metrics['examples_per_second']:.1f} reviews/s; {plan.describe()})"
    )
    for name in ("accuracy", "precision", "recall", "f1"):
        print(f"  {name:<10} {metrics[name]:.4f}")
    print(f"  confusion  [[{tn} {fp}] [{fn} {tp}]] (rows: true neg/pos) -> {png}")
    return 0
