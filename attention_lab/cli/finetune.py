"""``attention-lab finetune``: fine-tune BERT on IMDb with the pre-built or the custom head."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a BERT classifier on IMDb (chapter sections 5 and 6)",
        description="Fine-tune a BERT checkpoint on the IMDb reviews with the chapter's "
        "pre-built head (dropout + Dense) or custom head (Dropout 0.2, Dense 200 relu, Dropout "
        "0.2, Dense 2). 20%% of the reviews are held out for validation (seed 42). Running the "
        "same command again on an interrupted --out folder resumes it.",
    )
    parser.add_argument(
        "--model",
        required=True,
        help="Hugging Face BERT directory or hub id, a folder from `attention-lab convert`, or "
        "a finetune --out folder to continue from (e.g. with --freeze-encoder)",
    )
    parser.add_argument("--head", choices=("prebuilt", "custom"), required=True)
    parser.add_argument("--out", required=True, help="run folder to write (or resume)")
    parser.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="train only the head (the chapter's bert.trainable = False)",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=2e-5,
        help="peak learning rate (chapter: 2e-5; 1e-3 with the encoder frozen)",
    )
    parser.add_argument("--warmup", type=float, default=0.1, help="share of steps warming up")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--clipnorm", type=float, default=1.0, help="0 disables clipping")
    parser.add_argument(
        "--patience",
        type=int,
        default=None,
        help="stop after this many epochs without a better validation loss",
    )
    parser.add_argument("--max-len", type=int, default=150)
    parser.add_argument(
        "--truncation",
        choices=("first", "last", "head+tail"),
        default="first",
        help="which tokens of a long review to keep",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="use only the first N training reviews (before the 80/20 split)",
    )
    parser.add_argument(
        "--precision", choices=("float32", "bfloat16", "float16"), default="float32"
    )
    parser.add_argument(
        "--xla",
        choices=("auto", "on", "off"),
        default="auto",
        help="compile the steps with XLA (auto: on a GPU; on a CPU oneDNN alone is faster)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="also checkpoint every N steps inside an epoch",
    )
    parser.add_argument("--data", help="IMDb aclImdb_v1.tar.gz or aclImdb/ folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    from attention_lab.training.finetune import finetune
    from attention_lab.training.trainer import TrainingConfig

    training = TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_fraction=args.warmup,
        weight_decay=args.weight_decay,
        clipnorm=args.clipnorm,
        early_stopping_patience=args.patience,
        checkpoint_every=args.checkpoint_every,
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
        jit_compile={"auto": None, "on": True, "off": False}[args.xla],
        progress=not args.no_progress,
    )
    result = record["result"]
    last = result["history"][-1] if result["history"] else {}
    print(
        f"done: {result['global_step']} steps, {result['train_seconds']:.0f} s training, "
        f"{result['examples_per_second']:.1f} examples/s"
        + (f", validation accuracy {last['val_accuracy']:.4f}" if "val_accuracy" in last else "")
        + f" -> {args.out}"
    )
    return 0
