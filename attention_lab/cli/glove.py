"""``attention-lab glove stats|train|evaluate``: GloVe embeddings and the chapter's BiLSTM."""

from __future__ import annotations

import json
import sys

from attention_lab.cli.imdb import add_data_argument
from attention_lab.cli.options import at_least, finite


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "glove",
        help="GloVe embeddings and the BiLSTM transfer-learning models (chapter section 2)",
        description="GloVe coverage of the IMDb vocabulary, and the chapter's BiLSTM trained "
        "with frozen or fine-tuned GloVe embeddings (or from scratch).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    stats = actions.add_parser("stats", help="embedding shape and GloVe coverage of the vocabulary")
    stats.add_argument("--glove", required=True, help="glove.6B.<dim>d.txt[.gz] or glove.6B.zip")
    stats.add_argument("--dim", type=at_least(1), help="vector dimension (needed for glove.6B.zip)")
    add_data_argument(stats)
    stats.add_argument(
        "--encoder-mode",
        choices=("faithful", "clean"),
        default="faithful",
        help="faithful: the chapter's encoder (lower-cased duplicates kept); clean: merged",
    )
    _add_tokenizer_argument(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=run_stats)

    train = actions.add_parser("train", help="train the BiLSTM on IMDb, evaluate on the test set")
    train.add_argument("--mode", choices=("frozen", "finetune", "scratch"), required=True)
    train.add_argument("--epochs", type=at_least(1), default=10)
    train.add_argument("--glove", help="GloVe file (required unless --mode scratch)")
    add_data_argument(train)
    train.add_argument(
        "--limit", type=at_least(1), help="use only the first N train and N test reviews"
    )
    train.add_argument(
        "--max-len", type=at_least(1), default=150, help="tokens per review (150; 1 to 4096)"
    )
    train.add_argument(
        "--truncate",
        choices=("last", "first"),
        default="last",
        help="which tokens of a longer review to keep: last (the chapter's code, Keras "
        "truncating='pre') or first (what the chapter's text says)",
    )
    train.add_argument("--encoder-mode", choices=("faithful", "clean"), default="faithful")
    train.add_argument("--seed", type=at_least(0), default=42)
    train.add_argument(
        "--learning-rate",
        type=finite(0, above=True),
        default=1e-3,
        help="Adam's learning rate (Keras default)",
    )
    train.add_argument(
        "--out",
        help="run folder, new or empty (default: runs/glove-MODE); a finished run is never "
        "overwritten",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out (given the settings it was started with)",
    )
    _add_tokenizer_argument(train)
    for flag, text in (
        ("--embedding-dropout", "a Dropout of this rate between the embedding and the first "
         "LSTM (0: none, the chapter's model)"),
        ("--validation-split", "hold out this share of the training reviews (seeded) and score "
         "it every epoch: choose settings on it, never on the test reviews"),
    ):  # fmt: skip
        train.add_argument(flag, type=finite(0, 1), default=0.0, help=text)
    train.add_argument(
        "--test-every-epoch",
        action="store_true",
        help="evaluate on the test reviews after every epoch (test_* in metrics.json)",
    )
    train.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    train.set_defaults(func=run_train)

    evaluate = actions.add_parser("evaluate", help="evaluate a trained model on the test split")
    evaluate.add_argument("model", help="folder written by `attention-lab glove train --out`")
    add_data_argument(evaluate)
    evaluate.add_argument("--limit", type=at_least(1), help="use only the first N test reviews")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(func=run_evaluate)


def _add_tokenizer_argument(parser) -> None:
    parser.add_argument(
        "--tokenizer",
        choices=("tfds", "treebank"),
        default="tfds",
        help="tfds: the chapter's (split at every non-word character); treebank: Penn "
        "Treebank style as GloVe spells it (do n't, ``, -- ...)",
    )


def _verbosity(args) -> int:
    """Keras's progress: none under --json (stdout is the JSON object alone), progress bars on
    a terminal, else a line per epoch."""
    if args.json:
        return 0
    return 1 if sys.stdout.isatty() else 2


def run_stats(args) -> int:
    from attention_lab.data.glove import build_embedding_matrix, load_glove
    from attention_lab.data.imdb import read_imdb
    from attention_lab.data.treebank import make_encoder

    glove = load_glove(args.glove, dim=args.dim)
    texts = read_imdb("train", args.data).texts
    encoder, _ = make_encoder(args.tokenizer, texts, args.encoder_mode)
    embedding = build_embedding_matrix(encoder, glove)
    report = {
        "tokenizer": args.tokenizer,
        "glove_words": len(glove),
        "glove_dim": glove.dim,
        "skipped_lines": len(glove.skipped_lines),
        "vocab_size": encoder.vocab_size,
        "embedding_shape": list(embedding.matrix.shape),
        "token_list": embedding.token_count,
        "unknown_tokens": embedding.unknown_tokens,
        "unknown_distinct": len(embedding.unknown_words),
        "coverage": round(embedding.coverage, 4),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:18s} {value}")
        print(f"unknown examples   {' '.join(embedding.unknown_words[:10])}")
    return 0


def run_train(args) -> int:
    from attention_lab.training.bilstm import train_bilstm

    out = args.out or f"runs/glove-{args.mode}"
    metrics = train_bilstm(
        args.mode,
        args.epochs,
        out,
        data=args.data,
        glove_path=args.glove,
        max_len=args.max_len,
        truncate=args.truncate,
        encoder_mode=args.encoder_mode,
        limit=args.limit,
        seed=args.seed,
        learning_rate=args.learning_rate,
        resume=args.resume,
        verbose=_verbosity(args),
        tokenizer=args.tokenizer,
        embedding_dropout=args.embedding_dropout,
        validation_split=args.validation_split,
        test_every_epoch=args.test_every_epoch,
    )
    if args.json:
        print(json.dumps(metrics))
    else:
        test = metrics["test"]
        seconds = [row["seconds"] for row in metrics["history"]]
        print(
            f"{args.mode}: test accuracy {test['accuracy']:.4f}, precision "
            f"{test['precision']:.4f}, recall {test['recall']:.4f}, loss {test['loss']:.4f}; "
            f"{sum(seconds) / len(seconds):.1f} s/epoch; written to {out}"
        )
    return 0


def run_evaluate(args) -> int:
    from attention_lab.training.bilstm import evaluate_bilstm

    verbose = _verbosity(args)
    results = evaluate_bilstm(args.model, data=args.data, limit=args.limit, verbose=verbose)
    if args.json:
        print(json.dumps(results))
    else:
        print(
            f"{results.pop('test_reviews')} test reviews: "
            + ", ".join(f"{key} {value:.4f}" for key, value in results.items())
        )
    return 0
