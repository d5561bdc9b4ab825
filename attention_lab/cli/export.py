"""``attention-lab export --checkpoint DIR --out HF_DIR``: back to a Hugging Face folder."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a fine-tuned pre-built classifier as a Hugging Face folder",
        description="Write config.json, model.safetensors, vocab.txt and the tokenizer config "
        "so that transformers' BertForSequenceClassification.from_pretrained(HF_DIR) loads the "
        "fine-tuned classifier (pre-built head only).",
    )
    parser.add_argument("--checkpoint", required=True, help="finetune --out folder")
    parser.add_argument("--out", required=True, help="Hugging Face folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    from attention_lab.convert.export import export_classifier
    from attention_lab.training.finetune import load_finetuned

    model, run_record, _ = load_finetuned(args.checkpoint)
    out = export_classifier(
        model,
        model.config,
        args.checkpoint,
        args.out,
        run_record["label_names"],
        overwrite=args.overwrite,
    )
    print(f"exported {args.checkpoint} -> {out} (BertForSequenceClassification)")
    return 0
