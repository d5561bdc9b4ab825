"""``attention-lab pretrain``: masked-LM pre-training on IMDb, from scratch or from a checkpoint
(issue 34; :mod:`attention_lab.training.pretrain`)."""

from __future__ import annotations

import argparse

from attention_lab.cli.options import add_plan_options, at_least, finite


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrain",
        help="pre-train BERT with the masked-LM objective on IMDb's unlabelled + training texts",
        description="Pre-train a fresh BERT (--vocab and an architecture: --config and/or "
        "--layers, --hidden, --heads, --intermediate, --max-positions) or further pre-train a "
        "checkpoint (--model; a masked-LM head it lacks starts fresh) with the masked-LM "
        "objective (--nsp adds next-sentence prediction) on the 50,000 unlabelled and 25,000 "
        "training IMDb texts, never the test texts; --holdout whole texts give the held-out "
        "MLM accuracy every --eval-every steps. The --out folder is a run folder that "
        "`attention-lab finetune --model OUT` and `attention-lab fill-mask OUT` read. Running "
        "the same command again on an interrupted --out folder resumes it at its last backup.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--model", help="checkpoint folder or hub id to pre-train further")
    start.add_argument("--vocab", help="folder with vocab.txt (train-tokenizer --out): fresh BERT")
    parser.add_argument("--out", required=True, help="run folder to write (or resume)")
    parser.add_argument("--config", help="fresh BERT: a config.json-style JSON architecture")
    parser.add_argument("--layers", type=at_least(1), help="fresh BERT: encoder blocks (default 4)")
    parser.add_argument("--hidden", type=at_least(1), help="fresh BERT: hidden size (default 256)")
    parser.add_argument("--heads", type=at_least(1), help="fresh BERT: attention heads (default 4)")
    parser.add_argument(
        "--intermediate", type=at_least(1), help="fresh BERT: FFN size (default 1024)"
    )
    parser.add_argument(
        "--max-positions", type=at_least(3), help="fresh BERT: position embeddings (default 512)"
    )
    parser.add_argument(
        "--data",
        help="aclImdb_v1.tar.gz or an aclImdb/ folder (default: $ATTENTION_LAB_IMDB, then "
        "tensorflow-datasets), or a UTF-8 text file of one text per line",
    )
    parser.add_argument("--steps", type=at_least(1), default=10_000, help="optimizer steps in all")
    parser.add_argument(
        "--eval-every", type=at_least(1), default=1_000, help="steps per evaluation"
    )
    parser.add_argument("--batch-size", type=at_least(1), default=32, help="sequences per step")
    parser.add_argument("--max-len", type=at_least(3), default=128, help="tokens per sequence")
    parser.add_argument(
        "--mask-rate", type=finite(0, 1, above=True), default=0.15, help="share of tokens masked"
    )
    parser.add_argument(
        "--nsp",
        action="store_true",
        help="also next-sentence prediction (default: MLM only, as RoBERTa)",
    )
    parser.add_argument(
        "--holdout", type=at_least(1), default=500, help="texts held out for accuracy"
    )
    parser.add_argument("--limit", type=at_least(1), default=None, help="only the first N texts")
    parser.add_argument(
        "--learning-rate",
        type=finite(0, above=True),
        default=1e-4,
        help="peak rate (BERT's pre-training rate)",
    )
    parser.add_argument(
        "--warmup", type=finite(0, 1), default=0.1, help="share of steps warming up"
    )
    parser.add_argument("--weight-decay", type=finite(0), default=0.01, help="AdamW's decay")
    parser.add_argument("--clipnorm", type=finite(0), default=1.0, help="0 disables clipping")
    parser.add_argument(
        "--seed", type=at_least(0), default=42, help="weights, hold-out, order, masks"
    )
    parser.add_argument(
        "--checkpoint-every", type=at_least(0), default=200, help="back up every N steps as well"
    )
    parser.add_argument(
        "--snapshots",
        action="store_true",
        help="also save the model at every evaluation, OUT/snapshots/step-N/",
    )
    add_plan_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


# The fresh BERT's architecture when neither --config nor a flag gives it: the small
# BERT for a CPU (4 blocks, hidden 256, 4 heads), with BERT's 4 x hidden FFN and 512 positions.
SMALL = {"layers": 4, "hidden": 256, "heads": 4, "intermediate": 1024, "max_positions": 512}


def run(args) -> int:
    from attention_lab.errors import AttentionLabError
    from attention_lab.training.fit import TrainingConfig
    from attention_lab.training.pretrain import (
        ARCHITECTURE_FLAGS,
        PretrainSettings,
        describe_run,
        fresh_config,
        pretrain,
    )

    flags = {name: getattr(args, name) for name in ARCHITECTURE_FLAGS}
    config = None
    if args.model is not None:
        given = [f"--{k.replace('_', '-')}" for k, v in flags.items() if v is not None]
        if args.config or given:
            raise AttentionLabError(
                f"--model keeps the checkpoint's architecture; drop {(given or ['--config'])[0]}"
            )
    else:
        from attention_lab.tokenization import BertTokenizer

        if args.config is None:
            flags = {k: SMALL[k] if v is None else v for k, v in flags.items()}
        vocab_size = BertTokenizer.from_pretrained(args.vocab).vocab_size
        config = fresh_config(vocab_size, args.config, **flags)
    settings = PretrainSettings(
        steps=args.steps,
        eval_every=args.eval_every,
        max_len=args.max_len,
        mask_rate=args.mask_rate,
        nsp=args.nsp,
        holdout=args.holdout,
        limit=args.limit,
        snapshots=args.snapshots,
    )
    training = TrainingConfig(
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_fraction=args.warmup,
        weight_decay=args.weight_decay,
        clipnorm=args.clipnorm,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
    )
    pretrain(
        args.out,
        data=args.data,
        source=args.model,
        vocab=args.vocab,
        config=config,
        settings=settings,
        training=training,
        precision=args.precision,
        xla=args.xla,
        progress=not args.no_progress,
    )
    print(describe_run(args.out))
    return 0
