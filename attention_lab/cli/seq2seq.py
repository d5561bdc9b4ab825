"""``attention-lab seq2seq train|translate|plot|compare``: encoder-decoders with and without
Bahdanau attention on the synthetic tasks (chapter section 3).

- ``train --task dates|reverse [--attention/--no-attention] [--epochs N] [--out DIR]
  [--overwrite]`` trains with teacher forcing, then prints the exact-match accuracy on
  held-out examples (sources never seen in training), overall and by input length, and saves
  the checkpoint. An existing --out is replaced only with --overwrite, and only if it is a
  checkpoint folder itself.
- ``translate --checkpoint DIR TEXT…`` decodes greedily.
- ``plot --checkpoint DIR TEXT --out FILE.png`` draws the alignment (output × source).
- ``compare --checkpoint DIR --checkpoint DIR --out FILE.png`` tabulates and plots the
  held-out accuracy by input length that ``train`` measured for each checkpoint.
"""

from __future__ import annotations

import argparse

from attention_lab.cli.options import at_least, finite
from attention_lab.errors import AttentionLabError, check_at_least_one


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "seq2seq",
        help="encoder-decoder with/without Bahdanau attention on dates and string reversal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser("train", help="train on a synthetic task and save a checkpoint")
    train.add_argument("--task", choices=("dates", "reverse"), required=True)
    train.add_argument(
        "--attention",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Bahdanau attention (default) or the fixed-summary decoder (--no-attention)",
    )
    train.add_argument("--epochs", type=at_least(1), default=6)
    train.add_argument("--train-examples", type=at_least(1), default=20_000)
    train.add_argument("--test-examples", type=at_least(1), default=2_000)
    train.add_argument("--batch-size", type=at_least(1), default=64)
    train.add_argument("--learning-rate", type=finite(0, above=True), default=3e-3)
    train.add_argument(
        "--units", type=at_least(1), default=64, help="encoder LSTM units per direction"
    )
    train.add_argument("--seed", type=at_least(0), default=0, help="fixes the data and the weights")
    train.add_argument("--out", help="checkpoint folder (default: runs/seq2seq-TASK-KIND)")
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing checkpoint folder at --out (never a folder of other files)",
    )
    train.set_defaults(func=run_train)

    translate = actions.add_parser("translate", help="greedy decoding of one or more inputs")
    translate.add_argument("--checkpoint", required=True, help="seq2seq train --out folder")
    translate.add_argument("texts", nargs="+", metavar="TEXT")
    translate.set_defaults(func=run_translate)

    plot = actions.add_parser("plot", help="alignment heatmap of one input (attention only)")
    plot.add_argument("--checkpoint", required=True, help="seq2seq train --out folder")
    plot.add_argument("text", metavar="TEXT")
    plot.add_argument("--out", required=True, help="PNG file to write")
    plot.set_defaults(func=run_plot)

    compare = actions.add_parser(
        "compare", help="held-out accuracy by input length of several checkpoints"
    )
    compare.add_argument(
        "--checkpoint", action="append", required=True, help="seq2seq train --out folder"
    )
    compare.add_argument("--out", required=True, help="PNG file to write")
    compare.set_defaults(func=run_compare)


def _kind(attention: bool) -> str:
    return "attention" if attention else "plain"


def run_train(args) -> int:
    for name in ("epochs", "train_examples", "test_examples", "batch_size", "units"):
        check_at_least_one(f"--{name.replace('_', '-')}", getattr(args, name))
    if not args.learning_rate > 0:
        raise AttentionLabError(f"--learning-rate must be positive, got {args.learning_rate}")
    from attention_lab.tasks import get_task
    from attention_lab.training.seq2seq import TrainingSettings, train_run

    task = get_task(args.task)
    settings = TrainingSettings(
        epochs=args.epochs,
        n_train=args.train_examples,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        units=args.units,
        seed=args.seed,
    )
    out = args.out or f"runs/seq2seq-{task.name}-{_kind(args.attention)}"
    metadata = train_run(
        task, args.attention, settings, args.test_examples, out, overwrite=args.overwrite
    )
    print(
        f"trained in {metadata['train_seconds']:.0f} s; exact match on "
        f"{metadata['test_examples']:,} held-out examples: {metadata['exact_match']:.2%}"
    )
    print(format_length_table({_kind(args.attention): metadata}))
    print(f"saved -> {out}")
    return 0


def run_translate(args) -> int:
    from attention_lab.training.seq2seq import load_run

    model, _ = load_run(args.checkpoint)
    for translation in model.translate(args.texts):
        note = "" if translation.ended else "  (no end token: output hit the maximum length)"
        print(f"{translation.source}\t{translation.text}{note}")
    return 0


def run_plot(args) -> int:
    from attention_lab.io import check_output_file
    from attention_lab.training.seq2seq import load_run
    from attention_lab.viz.alignment import plot_alignment
    from attention_lab.viz.attention import save_figure

    check_output_file(args.out, args.checkpoint)  # before the model is loaded
    model, _ = load_run(args.checkpoint)
    translation = model.translate([args.text])[0]
    fig, _ = plot_alignment(translation)
    path = save_figure(fig, args.out)
    print(f"{translation.source!r} -> {translation.text!r}; alignment -> {path}")
    return 0


def format_length_table(results: dict[str, dict]) -> str:
    """Markdown table: one row per length bucket, one exact-match column per model."""
    buckets = [
        [(row["first"], row["last"], row["examples"]) for row in meta["exact_match_by_length"]]
        for meta in results.values()
    ]
    if any(b != buckets[0] for b in buckets):
        raise AttentionLabError(
            "the checkpoints were evaluated on different held-out sets; train them with the "
            "same --task, --seed, --train-examples and --test-examples"
        )
    lines = [
        "| input length | examples | " + " | ".join(results) + " |",
        "|---|---:|" + "---:|" * len(results),
    ]
    columns = [meta["exact_match_by_length"] for meta in results.values()]
    for i, (first, last, n) in enumerate(buckets[0]):
        cells = " | ".join(f"{column[i]['exact_match']:.1%}" for column in columns)
        span = f"{first}–{last}" if last > first else f"{first}"
        lines.append(f"| {span} | {n} | {cells} |")
    overall = " | ".join(f"**{meta['exact_match']:.1%}**" for meta in results.values())
    lines.append(f"| all | {sum(n for _, _, n in buckets[0])} | {overall} |")
    return "\n".join(lines)


def run_compare(args) -> int:
    from attention_lab.io import check_output_file
    from attention_lab.training.seq2seq import read_run_metadata
    from attention_lab.viz.accuracy_by_length import plot_accuracy_by_length
    from attention_lab.viz.attention import save_figure

    check_output_file(args.out, *args.checkpoint)
    results = {}
    for checkpoint in args.checkpoint:
        metadata = read_run_metadata(checkpoint)
        label = _kind(metadata["attention"])
        results[label if label not in results else f"{label} ({checkpoint})"] = metadata
    print(format_length_table(results))
    fig, _ = plot_accuracy_by_length(results)
    print(f"plot -> {save_figure(fig, args.out)}")
    return 0
