"""``attention-lab tokenize``: WordPiece tokens, ids, token types and mask of a text, as a table.

``--compare-imdb ARCHIVE`` instead encodes all 50,000 labelled IMDb reviews with our tokenizer
and with transformers' ``BertTokenizerFast`` and counts the reviews whose encodings differ.
"""

from __future__ import annotations

import json
import sys
import time

from attention_lab.errors import AttentionLabError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tokenize",
        help="BERT WordPiece tokenization of a text (or a pair) as a table (chapter section 4)",
        description="Encode a text, or a pair of texts, as BERT's encode_plus does: [CLS] A [SEP] "
        "(B [SEP]) with token types and attention mask.",
    )
    parser.add_argument("text", nargs="?", help="the text to encode")
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
        help="what to keep when longer than --max-length (last and head+tail: one text only)",
    )
    parser.add_argument("--head-tokens", type=int, help="head+tail: tokens kept from the start")
    parser.add_argument("--json", action="store_true", help="print the encoding as JSON")
    parser.add_argument(
        "--compare-imdb",
        metavar="ARCHIVE",
        help="compare with BertTokenizerFast on every labelled review of aclImdb_v1.tar.gz "
        "(at --max-length, else untruncated) instead of encoding TEXT",
    )
    parser.set_defaults(func=run)


def _table(tokenizer, encoding) -> str:
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    width = max(len("token"), *map(len, tokens))
    lines = [f"{'#':>4}  {'token':<{width}}  {'id':>6}  type  mask"]
    rows = zip(
        tokens,
        encoding["input_ids"],
        encoding["token_type_ids"],
        encoding["attention_mask"],
        strict=True,
    )
    for index, (token, token_id, token_type, mask) in enumerate(rows):
        lines.append(f"{index:>4}  {token:<{width}}  {token_id:>6}  {token_type:>4}  {mask:>4}")
    return "\n".join(lines)


def _compare_imdb(tokenizer, args) -> int:
    from attention_lab.tokenization.reference import compare, imdb_reviews, reference_tokenizer

    reference = reference_tokenizer(args.vocab, args.lower)
    started = time.perf_counter()
    reviews = imdb_reviews(args.compare_imdb, "train") + imdb_reviews(args.compare_imdb, "test")
    result = compare(tokenizer, reference, reviews, max_length=args.max_length)
    length = "untruncated" if args.max_length is None else f"max_length {args.max_length}"
    print(
        f"{result.count} reviews, {length}, {tokenizer}: {len(result.mismatches)} differ "
        f"from BertTokenizerFast ({time.perf_counter() - started:.0f} s)"
    )
    for index, got, want in result.mismatches[:5]:
        print(
            f"  review {index}: ours {got['input_ids'][:20]}… reference {want['input_ids'][:20]}…"
        )
    return 0 if result.ok else 1


def run(args) -> int:
    from attention_lab.tokenization import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(args.vocab, do_lower_case=args.lower)
    if args.compare_imdb:
        return _compare_imdb(tokenizer, args)
    if args.text is None:
        raise AttentionLabError("pass the TEXT to encode (or --compare-imdb ARCHIVE)")
    encoding = tokenizer.encode(
        args.text,
        args.pair,
        max_length=args.max_length,
        truncation=args.truncation,
        padding="max_length" if args.max_length else False,
        head_tokens=args.head_tokens,
    )
    if args.json:
        json.dump(encoding, sys.stdout)
        print()
    else:
        print(_table(tokenizer, encoding))
    return 0
