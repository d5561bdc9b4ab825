"""``attention-lab parity MODEL [--xla] [--json]``: our BERT vs Hugging Face, layer by layer."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "parity",
        help="compare our BERT with Hugging Face's, layer by layer",
        description="Run the Hugging Face BertModel (PyTorch, eval, eager attention) and ours on "
        "the same batch and compare every hidden state and attention map. Exit status 1 when "
        "a tensor exceeds tolerance.",
    )
    parser.add_argument("model", help="Hugging Face checkpoint directory or hub id (reference)")
    parser.add_argument(
        "--ours", help="a folder written by `attention-lab convert` (default: convert in memory)"
    )
    parser.add_argument("--xla", action="store_true", help="run ours with jit_compile=True")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args) -> int:
    from attention_lab.parity import run_parity

    report = run_parity(args.model, ours=args.ours, xla=args.xla)
    print(report.to_json() if args.json else report.format_table())
    return 0 if report.passed else 1
