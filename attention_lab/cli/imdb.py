"""``attention-lab imdb stats [--data PATH] [--json]``: what the chapter prints about IMDb."""

from __future__ import annotations

import json


def add_data_argument(parser) -> None:
    """``--data PATH``: where the IMDb reviews are (shared with ``attention-lab glove``)."""
    parser.add_argument(
        "--data",
        help="aclImdb_v1.tar.gz or an extracted aclImdb/ folder (default: $ATTENTION_LAB_IMDB, "
        "then tensorflow-datasets)",
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "imdb",
        help="the IMDb reviews: counts and the chapter's vocabulary (chapter section 2)",
        description="Load the IMDb reviews (tensorflow-datasets, or a local aclImdb_v1.tar.gz / "
        "aclImdb/ folder) and print what the chapter prints after building its encoder.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stats = actions.add_parser(
        "stats", help="vocab_size and max_tokens of the chapter's encoder, counts per split/label"
    )
    add_data_argument(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=run_stats)


def run_stats(args) -> int:
    from attention_lab.data.imdb import SPLITS, read_imdb, resolve_imdb_source
    from attention_lab.data.text_encoder import TokenEncoder, build_vocabulary

    source = resolve_imdb_source(args.data)
    splits = {name: read_imdb(name, source=source) for name in SPLITS}
    vocabulary, max_tokens = build_vocabulary(splits["train"].texts)
    report = {
        "source": source.describe(),
        "vocab_size": TokenEncoder(vocabulary, lowercase=True).vocab_size,
        "vocab_size_clean": TokenEncoder(vocabulary, lowercase=True, mode="clean").vocab_size,
        "max_tokens": max_tokens,
        "splits": {
            name: {"reviews": len(split), **split.label_counts(), "empty": split.empty_reviews()}
            for name, split in splits.items()
        },
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"source            {report['source']}")
    print(
        f"vocab_size        {report['vocab_size']}  (the chapter's encoder: vocabulary + "
        "padding + out-of-vocabulary)"
    )
    print(f"vocab_size_clean  {report['vocab_size_clean']}  (lower-cased duplicates merged)")
    print(f"max_tokens        {report['max_tokens']}  (longest train review)")
    for name, counts in report["splits"].items():
        details = ", ".join(f"{key} {value}" for key, value in counts.items())
        print(f"{name:17s} {details}")
    return 0
