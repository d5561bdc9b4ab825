"""``attention-lab finetune``: fine-tune BERT on IMDb with the pre-built or the custom head."""

from __future__ import annotations

import argparse

from attention_lab.cli.imdb import add_data_argument
from attention_lab.cli.options import add_plan_options, at_least, finite
from attention_lab.errors import AttentionLabError

# The chapter's exact settings (sections 4-5), for --chapter.
CHAPTER = {
    "epochs": 3,
    "batch_size": 16,
    "learning_rate": 2e-5,
    "max_len": 150,
    "truncation": "first",
    "precision": "float32",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a BERT classifier on IMDb (chapter sections 5 and 6)",
        description="Fine-tune a BERT checkpoint on the IMDb training reviews with the "
        "chapter's pre-built head (dropout + Dense) or custom head (Dropout 0.2, Dense 200 "
        "relu, Dropout 0.2, Dense 2). 20 percent of the reviews are held out for validation "
        "(seed 42). Running the same command again on an interrupted --out folder resumes it "
        "at the step it reached; other settings are refused.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model",
        required=True,
        help="Hugging Face BERT folder or hub id, a folder from `attention-lab convert`, or "
        "a finetune --out folder to continue from (e.g. with --freeze-encoder)",
    )
    parser.add_argument(
        "--head",
        choices=("prebuilt", "custom", "lstm", "concat"),
        required=True,
        help="prebuilt, custom: on the pooled [CLS] output (sections 5, 6); lstm: an LSTM over "
        "every token's output; concat: every token's output concatenated into Dense(200) (at "
        "most 150 tokens): the chapter's closing suggestion",
    )
    parser.add_argument("--out", required=True, help="run folder to write (or resume)")
    parser.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="train only the head (the chapter's bert.trainable = False)",
    )
    parser.add_argument(
        "--chapter",
        action="store_true",
        help="the chapter's exact settings: "
        + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in CHAPTER.items()),
    )
    parser.add_argument(
        "--epochs", type=at_least(1), default=3, help="passes over the training set"
    )
    parser.add_argument("--batch-size", type=at_least(1), default=16, help="reviews per step")
    parser.add_argument(
        "--learning-rate",
        type=finite(0, above=True),
        default=None,
        help="peak learning rate; by default chosen for the model and printed: 2e-5 for "
        "BERT-Base's width (the chapter's), 5e-5 for smaller encoders, 1e-3 with the encoder "
        "frozen",
    )
    parser.add_argument(
        "--warmup", type=finite(0, 1), default=0.1, help="share of steps warming up"
    )
    parser.add_argument("--weight-decay", type=finite(0), default=0.01, help="AdamW's decay")
    parser.add_argument("--clipnorm", type=finite(0), default=1.0, help="0 disables clipping")
    parser.add_argument(
        "--patience",
        type=at_least(1),
        default=None,
        help="stop after this many epochs without a better validation figure (--keep-best)",
    )
    parser.add_argument(
        "--keep-best",
        choices=("accuracy", "loss"),
        default="accuracy",
        help="keep the epoch with the highest validation accuracy, or the lowest validation "
        "loss (Keras's default)",
    )
    parser.add_argument(
        "--seed", type=at_least(0), default=42, help="head weights, dropout, batches"
    )
    parser.add_argument(
        "--max-len", type=at_least(2), default=150, help="WordPiece tokens per review"
    )
    parser.add_argument(
        "--truncation",
        choices=("first", "last", "head+tail"),
        default="first",
        help="which tokens of a long review to keep",
    )
    parser.add_argument(
        "--bucket-by-length",
        action="store_true",
        help="batch reviews of similar length, padded only to the longest",
    )
    parser.add_argument(
        "--limit",
        type=at_least(1),
        default=None,
        help="use only the first N training reviews (before the 80/20 split)",
    )
    add_plan_options(parser)
    parser.add_argument(
        "--checkpoint-every",
        type=at_least(0),
        default=200,
        help="also save the training state every N steps inside an epoch (0: epoch ends only)",
    )
    add_data_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run, defaults={key: parser.get_default(key) for key in CHAPTER})


def run(args) -> int:
    from attention_lab.training.finetune import finetune
    from attention_lab.training.fit import TrainingConfig

    if args.chapter:
        for key, value in CHAPTER.items():
            if getattr(args, key) not in (value, args.defaults[key]):
                raise AttentionLabError(
                    f"--chapter sets --{key.replace('_', '-')} {value}; drop one of the two"
                )
            setattr(args, key, value)
    if args.head == "concat":
        from attention_lab.models.bert_token_heads import CONCAT_SLOTS as slots

        if args.max_len > slots:  # its first kernel has one row per token slot
            raise AttentionLabError(
                f"--head concat holds {slots} token slots; pass --max-len {slots} or less"
            )
    training = TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_fraction=args.warmup,
        weight_decay=args.weight_decay,
        clipnorm=args.clipnorm,
        early_stopping_patience=args.patience,
        keep_best=args.keep_best,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        bucket_by_length=args.bucket_by_length,
    )
    record = finetune(
        args.model,
        args.head,
        args.out,
        training=training,
        data=args.data,
        freeze_encoder=args.freeze_encoder,
        limit=args.limit,
        max_len=args.max_len,
        truncation=args.truncation,
        precision=args.precision,
        xla=args.xla,
        progress=not args.no_progress,
    )
    result = record["result"]
    speed = result["examples_per_second"]
    print(
        f"done: {result['steps']} steps, {result['train_seconds']:.0f} s training"
        + (f", {speed:.1f} examples/s" if speed else "")
        + kept_epoch(result, args.keep_best)
        + f" -> {args.out}"
    )
    return 0


def kept_epoch(result: dict, keep_best: str) -> str:
    """Which epoch's weights the run folder holds, why, and its validation figures."""
    history, best = result["history"], result["best_epoch"]
    if not best:
        return ""
    kept = history[best - 1]
    criterion = "highest" if keep_best == "accuracy" else "lowest"
    other = "loss" if keep_best == "accuracy" else "accuracy"
    return (
        f", kept epoch {best} of {len(history)} ({criterion} validation {keep_best} "
        f"{kept['val_' + keep_best]:.4f}; its validation {other} {kept['val_' + other]:.4f})"
    )
