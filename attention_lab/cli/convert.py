"""``attention-lab convert MODEL``: a Hugging Face BERT checkpoint -> ``weights/<name>/``."""

from __future__ import annotations

from pathlib import Path

from attention_lab.cli.options import add_overwrite_option

# Converted checkpoints go here unless --out says otherwise (not tracked by git).
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a Hugging Face BERT checkpoint into a checked attention_lab folder",
        description="Read a Hugging Face BERT folder or hub id (BertModel or "
        "BertForSequenceClassification) into our Keras layers, checking every tensor, and write "
        "it back as a Hugging Face folder (config.json, model.safetensors, tokenizer files) "
        "that records where it came from.",
    )
    parser.add_argument("model", help="Hugging Face checkpoint folder or hub id")
    parser.add_argument("--out", help="output folder (default: weights/<name>)")
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from attention_lab.convert import convert_checkpoint

    out = Path(args.out) if args.out else DEFAULT_WEIGHTS_DIR / Path(str(args.model)).name
    out = convert_checkpoint(args.model, out, overwrite=args.overwrite)
    print(f"converted {args.model} -> {out}")
    return 0
