"""Tiny classifiers, vocabularies, checkpoints and labelled data for the fine-tuning tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attention_lab.models.bert import BertConfig
from attention_lab.training.data import EncodedDataset

WORDS = [
    "the",
    "a",
    "movie",
    "film",
    "was",
    "is",
    "this",
    "an",
    "good",
    "great",
    "bad",
    "awful",
    "terrible",
    "fine",
    "loved",
    "hated",
    "plot",
    "actor",
    "acting",
    "story",
    "not",
    "very",
    "really",
    "boring",
    "fun",
    "wonderful",
]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_config(**overrides) -> BertConfig:
    values = dict(
        vocab_size=len(SPECIAL) + 2 * len(WORDS) + 8,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=24,
        max_position_embeddings=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    values.update(overrides)
    return BertConfig(**values)


def write_vocab(directory: Path) -> Path:
    """A lower-cased WordPiece vocabulary: specials, words, '##' pieces, padding entries."""
    directory.mkdir(parents=True, exist_ok=True)
    tokens = SPECIAL + list(WORDS) + [f"##{w}" for w in WORDS]
    tokens += [f"[unused{i}]" for i in range(tiny_config().vocab_size - len(tokens))]
    (directory / "vocab.txt").write_text("\n".join(tokens) + "\n")
    return directory


def toy_sentiment(n: int, seq_len: int = 12, seed: int = 0) -> EncodedDataset:
    """Label 1: every word is token 10; label 0: random words. Learnable in a few steps."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(11, 30, size=(n, seq_len)).astype(np.int32)
    labels = rng.integers(0, 2, size=n).astype(np.int32)
    ids[labels == 1] = 10
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    mask = np.ones_like(ids)
    mask[::3, -4:] = 0  # some padding
    ids[mask == 0] = 0
    return EncodedDataset(
        {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}, labels
    )


def write_tiny_checkpoint(directory: Path, head: bool = False, seed: int = 0, **config) -> Path:
    """A Hugging Face BERT folder made by ``transformers``, with :func:`write_vocab`'s
    vocabulary: small enough to fine-tune in seconds."""
    from hf_checkpoints import save_hf_checkpoint

    vocab = write_vocab(directory.parent / f"{directory.name}-vocab")
    return save_hf_checkpoint(
        directory,
        head=head,
        vocab_dir=vocab,
        seed=seed,
        **{"vocab_size": tiny_config().vocab_size, "max_position_embeddings": 64, **config},
    )
