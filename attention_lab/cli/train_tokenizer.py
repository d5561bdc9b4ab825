"""``attention-lab train-tokenizer``: learn a WordPiece or BPE vocabulary from IMDb or a text file.

The output folder (``vocab.txt`` + ``tokenizer_config.json``) loads with
``BertTokenizer.from_pretrained`` and with transformers' ``BertTokenizerFast.from_pretrained``.
"""

from __future__ import annotations

import time
from pathlib import Path

from attention_lab.cli.options import add_overwrite_option, at_least
from attention_lab.errors import AttentionLabError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-tokenizer",
        help="train a WordPiece or BPE vocabulary (chapter section 3)",
        description="Start from characters and merge pieces until --vocab-size tokens: WordPiece "
        "merges the pair with the best count(ab) / (count(a) count(b)), BPE the most frequent.",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="the IMDb archive aclImdb_v1.tar.gz or an extracted aclImdb folder (its train "
        "split), or a UTF-8 text file (one text per line)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--vocab-size",
        type=at_least(1),
        default=30000,
        help="tokens to reach (default: %(default)s)",
    )
    parser.add_argument(
        "--algorithm",
        choices=("wordpiece", "bpe"),
        default="wordpiece",
        help="which pair to merge next (default: %(default)s)",
    )
    parser.add_argument("--cased", action="store_true", help="keep case and accents")
    parser.add_argument("--limit", type=at_least(1), help="only the first N texts (N >= 1)")
    parser.add_argument(
        "--min-frequency",
        type=at_least(1),
        default=2,
        help="rarest pair to merge (default: %(default)s)",
    )
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def _texts(data: Path, limit: int | None) -> list[str]:
    from attention_lab.data.imdb import read_imdb

    if limit is not None and limit < 1:
        raise AttentionLabError(
            f"--limit {limit} leaves no texts to train on; pass --limit 1 or more"
        )
    if data.is_file() and not data.name.endswith((".tar.gz", ".tgz")):
        try:
            lines = data.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise AttentionLabError(f"{data} is not UTF-8 text (byte {err.start})") from None
        return lines[:limit]
    if not data.exists():
        raise AttentionLabError(
            f"{data} not found; pass aclImdb_v1.tar.gz, an aclImdb folder or a text file"
        )
    texts = read_imdb("train", data=data).texts[:limit]
    return [text.decode("utf-8") for text in texts]


def run(args) -> int:
    from attention_lab.io import check_destination
    from attention_lab.tokenization.trainer import train_vocabulary

    out = Path(args.out)
    check_destination(out, args.overwrite, inputs=(args.data,))
    started = time.perf_counter()
    texts = _texts(Path(args.data), args.limit)
    print(f"{len(texts)} texts read in {time.perf_counter() - started:.0f} s", flush=True)

    def progress(size: int, target: int) -> None:
        print(f"  {size:>6} / {target} tokens  {time.perf_counter() - started:6.0f} s", flush=True)

    vocabulary = train_vocabulary(
        texts,
        args.vocab_size,
        args.algorithm,
        do_lower_case=not args.cased,
        min_frequency=args.min_frequency,
        progress=progress,
    )
    vocabulary.save(out, overwrite=args.overwrite)
    print(
        f"{args.algorithm}: {len(vocabulary.tokens)} tokens ({len(vocabulary.merges)} merges) "
        f"in {time.perf_counter() - started:.0f} s → {out / 'vocab.txt'}"
    )
    return 0
