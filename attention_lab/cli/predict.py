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

    name = "standard input" if path == "-" else path
    try:  # bytes, decoded strictly: stdin refuses what --file refuses, whatever the locale
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            data = stdin.read() if stdin is not None else sys.stdin.read().encode("utf-8")
        else:
            data = Path(path).read_bytes()
        text = data.decode("utf-8")
    except UnicodeError as err:
        start = getattr(err, "start", "?")
        raise AttentionLabError(
            f"{name} is not UTF-8 text (byte {start}); save the texts as UTF-8"
        ) from None
    except IsADirectoryError:
        raise AttentionLabError(f"--file {path} is a folder; pass a text file") from None
    except OSError as err:
        raise AttentionLabError(f"cannot read texts from {name}: {err.strerror}") from None
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
