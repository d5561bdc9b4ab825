"""``attention-lab fill-mask MODEL "This movie was [MASK]." [--top-k 5] [--json]``: what a BERT
with its masked-LM head (chapter section 3, pre-training) puts in place of each ``[MASK]``."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "fill-mask",
        help="predict the tokens behind [MASK] with a checkpoint's masked-LM head",
        description="The top-k tokens of the masked-LM head at each [MASK] of the text, with "
        "their probabilities, as Hugging Face's fill-mask pipeline. The checkpoint must hold "
        "the pre-training head (cls.predictions.*), as BertForMaskedLM and BertForPreTraining "
        "checkpoints do.",
    )
    parser.add_argument("model", help="Hugging Face folder or hub id with a masked-LM head")
    parser.add_argument("text", help="a text with one or more [MASK]")
    parser.add_argument("--top-k", type=int, default=5, help="tokens per [MASK] (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON list per [MASK]")
    parser.set_defaults(func=run)


def run(args) -> int:
    import json

    from attention_lab.convert import load_bert
    from attention_lab.errors import AttentionLabError
    from attention_lab.training.pretraining import fill_mask

    loaded = load_bert(args.model)
    if loaded.head not in ("masked-lm", "pretraining"):
        raise AttentionLabError(
            f"{args.model} has no masked-LM head (no cls.predictions.* tensors; "
            f"all-MiniLM-L6-v2, for one, was saved without it), so it cannot fill a [MASK]; "
            "pass a BertForMaskedLM or BertForPreTraining checkpoint"
        )
    for filled in fill_mask(loaded.model, loaded.tokenizer(), args.text, args.top_k):
        if args.json:
            print(json.dumps(filled))
            continue
        for row in filled:
            print(f"{row['score']:.4f}  {row['token_str']:<15} {row['sequence']}")
        print()
    return 0
