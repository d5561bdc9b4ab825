"""``attention-lab parity MODEL [--texts FILE] [--xla] [--precision P] [--gradients] [--json]``:
our BERT vs Hugging Face, layer by layer (or weight by weight, ``--gradients``), both measured
against Hugging Face in float64."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "parity",
        help="compare our BERT with Hugging Face's, layer by layer",
        description="Run the Hugging Face model (PyTorch, eval, eager attention: BertModel, or "
        "the checkpoint's BertForSequenceClassification, BertForPreTraining or BertForMaskedLM, "
        "whose outputs are compared too) and ours on the same batch, and the Hugging Face "
        "model again in float64 as ground truth; compare every hidden state and attention map "
        "at real (unpadded) tokens. Exit status 1 when a tensor fails the pass rule printed "
        "under the table.",
    )
    parser.add_argument("model", help="Hugging Face checkpoint directory or hub id (reference)")
    parser.add_argument(
        "--ours", help="a folder written by `attention-lab convert` (default: convert in memory)"
    )
    parser.add_argument(
        "--texts",
        metavar="FILE",
        help="your own inputs: one text per line, a tab between the two texts of a pair; "
        "blank lines are skipped (default: three sentences and a pair)",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        metavar="N",
        help="truncate longer sequences to N tokens, and say how many were "
        "(default: a sequence longer than the model's positions is an error)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, help="texts per forward pass (default 8)"
    )
    parser.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        default="float32",
        help="bfloat16: ours under mixed_bfloat16 against Hugging Face under bfloat16 "
        "autocast, with bfloat16's tolerances (default float32)",
    )
    parser.add_argument(
        "--xla", action="store_true", help="compile ours whole (XLA, through the Keras backend)"
    )
    parser.add_argument(
        "--implementation",
        choices=("eager", "fused"),
        default="eager",
        help="ours' encoder block: eager (the definition, attention_lab/models/bert.py) or "
        "fused (attention_lab/models/bert_fused.py, the one a TensorFlow graph runs); the "
        "weights are the same (default eager)",
    )
    parser.add_argument(
        "--gradients",
        action="store_true",
        help="compare every weight's gradient after one backward pass of the head's loss "
        "(a classifier's cross-entropy, plus one AdamW step; the masked-LM and next-sentence "
        "losses of a pre-training checkpoint), float32, eager; the other options do not apply",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run_gradients(args) -> int:
    from attention_lab.errors import AttentionLabError
    from attention_lab.parity.gradients import run_gradient_parity

    changed = [
        option
        for option, value, default in (
            ("--texts", args.texts, None),
            ("--max-length", args.max_length, None),
            ("--precision", args.precision, "float32"),
            ("--xla", args.xla, False),
            ("--implementation", args.implementation, "eager"),
        )
        if value != default
    ]
    if changed:
        raise AttentionLabError(
            f"--gradients runs float32, eager, on the default batch; drop {', '.join(changed)}"
        )
    report = run_gradient_parity(args.model, ours=args.ours)
    print(report.to_json() if args.json else report.format_table())
    return 0 if report.passed else 1


def run(args) -> int:
    from attention_lab.parity import read_texts, run_parity

    if args.gradients:
        return run_gradients(args)
    report = run_parity(
        args.model,
        ours=args.ours,
        xla=args.xla,
        texts=read_texts(args.texts) if args.texts else None,
        max_length=args.max_length,
        precision=args.precision,
        batch_size=args.batch_size,
        implementation=args.implementation,
    )
    print(report.to_json() if args.json else report.format_table())
    return 0 if report.passed else 1
