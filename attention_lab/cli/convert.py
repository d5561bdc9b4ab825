"""``attention-lab convert MODEL``: a Hugging Face BERT checkpoint -> ``weights/<name>/``."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a Hugging Face BERT checkpoint into attention_lab weights",
        description="Convert a Hugging Face BERT directory or hub id (BertModel or "
        "BertForSequenceClassification) into our Keras weights, with a manifest.",
    )
    parser.add_argument("model", help="Hugging Face checkpoint directory or hub id")
    parser.add_argument("--out", help="output folder (default: weights/<name>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    from attention_lab.convert import convert_checkpoint

    out = convert_checkpoint(args.model, args.out, overwrite=args.overwrite)
    print(f"converted {args.model} -> {out}")
    return 0
