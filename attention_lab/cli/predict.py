"""``attention-lab predict --checkpoint DIR "text" ...``: sentiment of reviews."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="classify texts with a fine-tuned classifier",
        description="Logits, probabilities (softmax) and the predicted label of each text, "
        "encoded exactly as in training (same vocabulary, --max-len and truncation).",
    )
    parser.add_argument("--checkpoint", required=True, help="finetune --out folder")
    parser.add_argument("texts", nargs="+", help="one or more texts")
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per text: text, logits, probabilities, label",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    import json

    import numpy as np

    from attention_lab.training.finetune import encoded_from_texts, load_finetuned
    from attention_lab.training.trainer import predict_logits

    model, run_record, tokenizer = load_finetuned(args.checkpoint)
    data = encoded_from_texts(
        tokenizer, args.texts, run_record["max_len"], run_record["truncation"]
    )
    logits = predict_logits(model, data, batch_size=min(len(args.texts), 32))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    names = run_record["label_names"]
    for text, row, probs in zip(args.texts, logits, probabilities, strict=True):
        label = int(row.argmax())
        if args.json:
            record = {
                "text": text,
                "logits": [float(v) for v in row],
                "probabilities": [float(v) for v in probs],
                "label": names[label],
                "label_id": label,
            }
            print(json.dumps(record))
        else:
            print(f"{names[label]:<8} {probs[label]:.3f}  {text}")
    return 0
