"""``attention-lab predict --checkpoint DIR "text" ...``: sentiment of reviews."""

from __future__ import annotations

import sys

from attention_lab.errors import AttentionLabError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="classify texts with a fine-tuned classifier",
        description="Logits, probabilities (softmax) and the predicted label of each text, "
        "encoded exactly as in training (same vocabulary, --max-len and truncation). Texts "
        "come from the command line, or one per line from --file (- reads standard input).",
    )
    parser.add_argument("--checkpoint", required=True, help="finetune --out folder")
    parser.add_argument("texts", nargs="*", help="one or more texts")
    parser.add_argument("--file", help="a UTF-8 file with one text per line, or - for stdin")
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per text: text, logits, probabilities, label",
    )
    parser.set_defaults(func=run)


def read_lines(path: str) -> list[str]:
    from pathlib import Path

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise AttentionLabError(f"cannot read texts from {path}: {err}") from None
    return [line for line in text.splitlines() if line.strip()]


def run(args) -> int:
    import json

    from attention_lab.runtime import choose_plan
    from attention_lab.training.evaluation import predict_texts
    from attention_lab.training.finetune import load_run

    texts = list(args.texts) + (read_lines(args.file) if args.file else [])
    if not texts:
        raise AttentionLabError("no text to classify; pass texts or --file FILE")
    plan = choose_plan("float32", "off")
    loaded, run_record = load_run(args.checkpoint, plan)
    records = predict_texts(
        loaded.model, loaded.tokenizer(), texts, run_record, loaded.label_names, plan
    )
    for record in records:
        if args.json:
            print(json.dumps(record))
        else:
            label = record["label_id"]
            print(f"{record['label']:<8} {record['probabilities'][label]:.3f}  {record['text']}")
    return 0
