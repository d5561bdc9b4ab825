"""``attention-lab tokenize``: WordPiece tokens, ids, token types, mask and offsets, as a table.

The text comes from the command line, from ``--file PATH`` or from standard input (``-``), so
a long review need not fit on the command line. ``--compare-imdb ARCHIVE`` instead encodes all
50,000 labelled IMDb reviews with our tokenizer and with transformers' ``BertTokenizerFast``,
every output and (with ``--max-length``) every overflow window, and counts the reviews whose
encodings differ.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from attention_lab.errors import AttentionLabError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tokenize",
        help="BERT WordPiece tokenization of a text (or a pair) as a table (chapter section 4)",
        description="Encode a text, or a pair of texts, as BERT's encode_plus does: [CLS] A [SEP] "
        "(B [SEP]) with token types, attention mask and each token's characters in the text.",
    )
    parser.add_argument("text", nargs="?", help="the text to encode; - reads standard input")
    parser.add_argument("--file", type=Path, help="read the text from this UTF-8 file instead")
    parser.add_argument(
        "--vocab",
        required=True,
        help="a vocab.txt or a model directory holding one (with tokenizer_config.json)",
    )
    case = parser.add_mutually_exclusive_group()
    case.add_argument(
        "--cased",
        dest="lower",
        action="store_false",
        default=None,
        help="keep case and accents (bert-base-cased)",
    )
    case.add_argument(
        "--uncased",
        dest="lower",
        action="store_true",
        help="lower-case and strip accents (default: the directory's setting)",
    )
    parser.add_argument("--pair", help="a second text: [CLS] text [SEP] pair [SEP]")
    parser.add_argument("--max-length", type=int, help="truncate and pad to N tokens")
    parser.add_argument(
        "--truncation",
        default="longest_first",
        choices=("longest_first", "only_first", "only_second", "first", "last", "head+tail"),
        help="what to keep when longer than --max-length (last and head+tail: one text only; "
        "default: %(default)s)",
    )
    parser.add_argument("--head-tokens", type=int, help="head+tail: tokens kept from the start")
    parser.add_argument(
        "--stride",
        type=int,
        default=0,
        help="with --compare-imdb and --max-length: tokens shared by neighbouring overflow "
        "windows (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the encoding as JSON")
    parser.add_argument(
        "--compare-imdb",
        metavar="ARCHIVE",
        help="compare with BertTokenizerFast on every labelled review of aclImdb_v1.tar.gz "
        "(at --max-length, with every overflow window, else untruncated) instead of encoding TEXT",
    )
    parser.set_defaults(func=run)


def _read_text(args) -> str:
    """The text to encode: the argument, the file, or standard input."""
    if args.file is not None:
        if args.text is not None:
            raise AttentionLabError("pass the text either as TEXT or with --file, not both")
        try:
            data = args.file.read_bytes()
        except OSError as err:
            raise AttentionLabError(
                f"cannot read --file {args.file}: {err.strerror}; pass a UTF-8 text file"
            ) from None
        source = str(args.file)
    elif args.text == "-":
        data, source = sys.stdin.buffer.read(), "standard input"
    elif args.text is None:
        raise AttentionLabError(
            "pass the TEXT to encode, --file PATH, - to read standard input, or --compare-imdb "
            "ARCHIVE"
        )
    else:
        return args.text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise AttentionLabError(
            f"{source} is not UTF-8 text (byte {err.start}); convert it to UTF-8 first"
        ) from None


def _table(encoding) -> str:
    tokens = encoding.tokens()
    width = max(len("token"), *map(len, tokens))
    lines = [f"{'#':>4}  {'token':<{width}}  {'id':>6}  type  mask  chars"]
    rows = zip(
        tokens,
        encoding["input_ids"],
        encoding["token_type_ids"],
        encoding["attention_mask"],
        encoding["offset_mapping"],
        encoding["special_tokens_mask"],
        strict=True,
    )
    for index, (token, token_id, token_type, mask, (start, end), special) in enumerate(rows):
        chars = "" if special else f"{start}-{end}"
        lines.append(
            f"{index:>4}  {token:<{width}}  {token_id:>6}  {token_type:>4}  {mask:>4}  {chars}"
        )
    return "\n".join(lines)


def _compare_imdb(tokenizer, args) -> int:
    from attention_lab.data.imdb import read_imdb
    from attention_lab.tokenization.reference import (
        compare,
        first_difference,
        reference_tokenizer,
    )

    reference = reference_tokenizer(args.vocab, args.lower)
    started = time.perf_counter()
    reviews = [
        text.decode("utf-8")
        for split in ("train", "test")
        for text in read_imdb(split, data=args.compare_imdb).texts
    ]
    result = compare(tokenizer, reference, reviews, max_length=args.max_length, stride=args.stride)
    length = (
        "untruncated"
        if args.max_length is None
        else f"max_length {args.max_length}, stride {args.stride}, {result.rows} windows"
    )
    print(
        f"{result.count} reviews, {length}, {tokenizer}: {len(result.mismatches)} differ from "
        "BertTokenizerFast in input_ids, token_type_ids, attention_mask, special_tokens_mask, "
        f"offset_mapping, word_ids or sequence_ids ({time.perf_counter() - started:.0f} s)"
    )
    for index, got, want in result.mismatches[:5]:
        print(f"  review {index}: {first_difference(got, want)}")
    return 0 if result.ok else 1


def run(args) -> int:
    from attention_lab.tokenization import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(args.vocab, do_lower_case=args.lower)
    if args.compare_imdb:
        return _compare_imdb(tokenizer, args)
    encoding = tokenizer(
        _read_text(args),
        args.pair,
        max_length=args.max_length,
        truncation=args.truncation if args.max_length else False,
        padding="max_length" if args.max_length else False,
        head_tokens=args.head_tokens,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    if args.json:
        json.dump({**encoding, "tokens": encoding.tokens()}, sys.stdout)
        print()
    else:
        print(_table(encoding))
    return 0
