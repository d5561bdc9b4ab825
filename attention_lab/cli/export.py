"""``attention-lab export --checkpoint DIR --out HF_DIR``: the fine-tuned model on its own."""

from __future__ import annotations

from attention_lab.cli.options import add_overwrite_option


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="copy a fine-tuned classifier out of its run folder as a Hugging Face folder",
        description="Write config.json, model.safetensors and the tokenizer files of a "
        "fine-tuned classifier, without the run record: transformers' "
        "BertForSequenceClassification.from_pretrained(HF_DIR) loads a pre-built-head "
        "classifier, BertModel.from_pretrained(HF_DIR) the encoder of either head.",
    )
    parser.add_argument("--checkpoint", required=True, help="finetune --out folder")
    parser.add_argument("--out", required=True, help="Hugging Face folder to write")
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from attention_lab.convert import save_bert
    from attention_lab.io import check_separate
    from attention_lab.training.finetune import load_run

    check_separate(args.out, args.checkpoint)
    loaded, _ = load_run(args.checkpoint)
    out = save_bert(
        loaded.model,
        args.out,
        tokenizer_dir=loaded.directory,
        label_names=loaded.label_names,
        overwrite=args.overwrite,
        provenance={"exported_from": str(loaded.directory.resolve())},
    )
    kind = "BertForSequenceClassification" if loaded.head == "prebuilt" else "BertModel + head"
    print(f"exported {args.checkpoint} -> {out} ({kind})")
    return 0
