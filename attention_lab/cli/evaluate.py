"""``attention-lab evaluate --checkpoint DIR``: test-set accuracy, precision, recall, F1."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a fine-tuned classifier on the IMDb test reviews",
        description="Accuracy, precision, recall and F1 (positive = 1) of a finetune run "
        "folder on the IMDb test split (25,000 reviews), and a confusion-matrix PNG. Results "
        "are written to DIR/evaluation-<split>.json and DIR/confusion-<split>.png.",
    )
    parser.add_argument("--checkpoint", required=True, help="finetune --out folder")
    parser.add_argument("--data", help="IMDb aclImdb_v1.tar.gz or aclImdb/ folder")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--limit", type=int, default=None, help="only the first N reviews")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--precision", choices=("float32", "bfloat16", "float16"), default="float32"
    )
    parser.add_argument(
        "--xla",
        choices=("auto", "on", "off"),
        default="off",
        help="compile with XLA (off: batches of varying length need no recompiling)",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    import json
    import time
    from pathlib import Path

    from attention_lab.io import atomic_write_text
    from attention_lab.training.finetune import encode_imdb, execution_plan, load_finetuned
    from attention_lab.training.metrics import classification_metrics
    from attention_lab.training.trainer import predict_logits

    policy, jit = execution_plan(args.precision, {"auto": None, "on": True, "off": False}[args.xla])
    model, run_record, tokenizer = load_finetuned(args.checkpoint, dtype=policy)
    started = time.perf_counter()
    data = encode_imdb(
        tokenizer,
        args.split,
        args.data,
        args.limit,
        run_record["max_len"],
        run_record["truncation"],
    )
    data.check(model.config.num_labels, f"IMDb {args.split} split")
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    logits = predict_logits(
        model, data, args.batch_size, jit_compile=jit, progress=not args.no_progress
    )
    seconds = time.perf_counter() - started
    metrics = classification_metrics(data.labels, logits.argmax(axis=1))
    metrics.update(
        split=args.split,
        precision_policy=policy,
        xla=jit,
        encode_seconds=encode_seconds,
        predict_seconds=seconds,
        examples_per_second=len(data) / seconds,
    )
    out = Path(args.checkpoint)
    atomic_write_text(out / f"evaluation-{args.split}.json", json.dumps(metrics, indent=1) + "\n")
    from attention_lab.viz.confusion import save_confusion_matrix  # after the metrics are safe

    png = save_confusion_matrix(
        metrics["confusion_matrix"],
        run_record["label_names"],
        out / f"confusion-{args.split}.png",
        title=f"{run_record['head']} head, IMDb {args.split} ({len(data):,} reviews)",
    )
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    print(
        f"IMDb {args.split}: {len(data):,} reviews, {seconds:.0f} s "
        f"({metrics['examples_per_second']:.1f} reviews/s, {policy})"
    )
    for name in ("accuracy", "precision", "recall", "f1"):
        print(f"  {name:<10} {metrics[name]:.4f}")
    print(f"  confusion  [[{tn} {fp}] [{fn} {tp}]] (rows: true neg/pos) -> {png}")
    return 0
