"""What both models see in a parity check: token batches, with the attention mask that matters.

The default batch is real text of different lengths padded to the longest (so padding is
exercised) plus a sentence pair (token types 0 and 1), tokenized with the checkpoint's own
vocabulary by Hugging Face's tokenizer; a checkpoint without ``vocab.txt`` gets token ids
drawn with a fixed seed instead. :func:`read_texts` reads the user's own texts from a file,
and :func:`encode_texts` turns texts into batches of at most ``batch_size`` sequences each
padded to its own longest, truncating only when ``max_length`` asks for it and counting
what it truncated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError

# Sentences of different lengths, starting with the chapter's example review.
SENTENCES = [
    "This was an absolutely terrible movie. Don't be lured in by Christopher Walken or "
    "Michael Ironside.",
    "A masterpiece.",
    "The plot meanders, the acting is wooden, and yet the final twenty minutes almost "
    "redeem it: a strange, uneven, oddly memorable film.",
]
PAIR = ("Don't be", "lured")
DEFAULT_TEXTS = [(text, None) for text in SENTENCES] + [PAIR]
# Used when the checkpoint has no vocabulary: token ids drawn with this seed instead.
SEED = 1234
KEYS = ("input_ids", "token_type_ids", "attention_mask")

Text = tuple[str, str | None]  # a text, or the two texts of a pair


@dataclass
class Batches:
    """Padded token batches (each a dict of ``(batch, len)`` int32 arrays) and their story."""

    batches: list[dict[str, np.ndarray]]
    truncated: int = 0  # sequences cut to max_length
    max_length: int | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(sequences, longest length)."""
        sequences = sum(len(b["input_ids"]) for b in self.batches)
        return sequences, max(b["input_ids"].shape[1] for b in self.batches)

    @property
    def real_tokens(self) -> int:
        return int(sum(b["attention_mask"].sum() for b in self.batches))

    @property
    def padded_tokens(self) -> int:
        return int(sum(b["attention_mask"].size for b in self.batches)) - self.real_tokens


def read_texts(path: str | os.PathLike) -> list[Text]:
    """One text per line; a tab separates the two texts of a pair. Blank lines are skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as err:
        raise AttentionLabError(f"{path}: no such file; --texts takes a text file") from err
    except UnicodeDecodeError as err:
        raise AttentionLabError(f"{path}: not UTF-8 text ({err})") from err
    texts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) > 2:
            raise AttentionLabError(
                f"{path}, line {number}: {len(parts) - 1} tabs; a line is one text, or two "
                "texts of a pair separated by one tab"
            )
        texts.append((parts[0], parts[1] if len(parts) == 2 else None))
    if not texts:
        raise AttentionLabError(f"{path}: no texts (one text per line)")
    return texts


def _tokenizer(model_dir: Path):
    if not (model_dir / "vocab.txt").is_file():
        raise AttentionLabError(
            f"{model_dir}: no vocab.txt, so texts cannot be tokenized; --texts and "
            "--max-length need a checkpoint with its vocabulary"
        )
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    tokenizer.model_max_length = 1 << 30  # lengths are checked here, against the model
    return tokenizer


def _pad(encoded: list[dict]) -> dict[str, np.ndarray]:
    length = max(len(e["input_ids"]) for e in encoded)
    return {
        key: np.asarray([e[key] + [0] * (length - len(e[key])) for e in encoded], np.int32)
        for key in KEYS
    }


def encode_texts(
    model_dir: Path,
    texts: list[Text],
    max_positions: int | None = None,
    max_length: int | None = None,
    batch_size: int = 8,
) -> Batches:
    """Tokenize ``texts`` with the checkpoint's tokenizer into padded batches.

    A sequence longer than ``max_length`` is truncated to it (pairs: longest first) and
    counted; without ``max_length``, one longer than the model's ``max_positions`` (when
    given) is an error.
    """
    if max_length is not None and not 2 < max_length <= (max_positions or max_length):
        raise AttentionLabError(
            f"--max-length {max_length}: must be between 3 and the model's "
            f"max_position_embeddings ({max_positions})"
        )
    if batch_size < 1:
        raise AttentionLabError(f"--batch-size {batch_size}: must be at least 1")
    tokenizer = _tokenizer(model_dir)
    encoded, truncated = [], 0
    for number, (text, pair) in enumerate(texts, start=1):
        e = tokenizer(text, pair)
        if max_length is not None and len(e["input_ids"]) > max_length:
            e = tokenizer(text, pair, truncation="longest_first", max_length=max_length)
            truncated += 1
        elif max_positions is not None and len(e["input_ids"]) > max_positions:
            raise AttentionLabError(
                f"text {number} has {len(e['input_ids'])} tokens, more than the model's "
                f"{max_positions} positions; pass --max-length {max_positions} to truncate"
            )
        encoded.append(e)
    batches = [_pad(encoded[i : i + batch_size]) for i in range(0, len(encoded), batch_size)]
    return Batches(batches, truncated=truncated, max_length=max_length)


def random_batch(vocab_size: int) -> dict[str, np.ndarray]:
    """Seeded token ids of four lengths, the last row a pair: for checkpoints without vocab."""
    rng = np.random.default_rng(SEED)
    lengths, length = [24, 5, 17, 9], 24
    ids = rng.integers(1000 % vocab_size, vocab_size, size=(len(lengths), length))
    mask = (np.arange(length)[None, :] < np.asarray(lengths)[:, None]).astype(np.int32)
    types = np.zeros_like(mask)
    types[-1, 4:9] = 1  # the last row is a pair: segment B on its second part
    return {
        "input_ids": (ids * mask).astype(np.int32),
        "token_type_ids": types,
        "attention_mask": mask,
    }


def parity_batch(model_dir: Path, vocab_size: int) -> dict[str, np.ndarray]:
    """The default comparison batch, tokenized with the checkpoint's own vocabulary if any."""
    model_dir = Path(model_dir)
    if (model_dir / "vocab.txt").is_file():
        return encode_texts(model_dir, DEFAULT_TEXTS).batches[0]
    return random_batch(vocab_size)
