"""Reading a WordPiece vocabulary (``vocab.txt``) and the tokenizer settings beside it.

``vocab.txt`` holds one token per line; a token's id is its line number, counting from 0. A
Hugging Face model directory also has ``tokenizer_config.json`` (``do_lower_case``,
``strip_accents``, ``tokenize_chinese_chars``, ``model_max_length``, ...), often
``special_tokens_map.json`` and sometimes ``tokenizer.json``: together, :data:`TOKENIZER_FILES`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_file, atomic_write_json

VOCAB_FILE = "vocab.txt"
# The files that make a tokenizer folder (the last two only when present).
TOKENIZER_FILES = (VOCAB_FILE, "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json")
# BERT's special tokens by role, as Hugging Face's special_tokens_map.json writes them.
SPECIAL_TOKENS_MAP = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}
# The special tokens every vocabulary must hold: encoding and padding write them.
REQUIRED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
# The tokens a vocabulary trained here starts with, in this id order (then the pieces).
TRAINED_VOCAB_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass(frozen=True)
class TokenizerFiles:
    """Where a tokenizer was found and the settings its directory records (``None``: unset)."""

    vocab_file: Path
    do_lower_case: bool | None = None
    strip_accents: bool | None = None
    tokenize_chinese_chars: bool | None = None
    model_max_length: int | None = None
    clean_up_tokenization_spaces: bool | None = None
    padding_side: str | None = None
    truncation_side: str | None = None
    never_split: tuple[str, ...] | None = None


def load_vocab(path: str | os.PathLike) -> list[str]:
    """The tokens of ``vocab.txt`` in id order; refuses files BERT could not use."""
    path = Path(path)
    if not path.is_file():
        raise AttentionLabError(
            f"vocabulary file {path} not found; pass a vocab.txt or a model directory holding one"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise AttentionLabError(
            f"{path} is not valid UTF-8 (byte {err.start}); a vocab.txt is UTF-8 text, one "
            "token a line: use the checkpoint's own vocab.txt"
        ) from None
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    return check_special_tokens(tokens, str(path))


def check_special_tokens(tokens: list[str], source: str) -> list[str]:
    """``tokens`` if they include every special token BERT's encoding needs, else an error."""
    present = set(tokens)
    missing = [t for t in REQUIRED_TOKENS if t not in present]
    if missing:
        raise AttentionLabError(
            f"{source} lacks the special token(s) {', '.join(missing)}; BERT's encoding needs "
            f"{', '.join(REQUIRED_TOKENS)} each on a line of its own"
        )
    return tokens


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AttentionLabError(f"{path} is not valid JSON ({err}); fix or delete it") from None
    if not isinstance(data, dict):
        raise AttentionLabError(f"{path} should hold a JSON object, not {type(data).__name__}")
    return data


def _optional_bool(data: dict, key: str, source: Path) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise AttentionLabError(f"{source}: {key} should be true, false or null, not {value!r}")
    return value


# Hugging Face writes int(1e30) for "no limit".
_NO_LIMIT = 10**18


def _config_settings(data: dict, source: Path) -> dict:
    """The settings of a ``tokenizer_config.json`` that this tokenizer reads, checked."""
    settings = {
        key: _optional_bool(data, key, source)
        for key in (
            "do_lower_case",
            "strip_accents",
            "tokenize_chinese_chars",
            "clean_up_tokenization_spaces",
        )
    }
    limit = data.get("model_max_length")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 2:
            raise AttentionLabError(
                f"{source}: model_max_length should be an integer of at least 2, not {limit!r}"
            )
        settings["model_max_length"] = None if limit >= _NO_LIMIT else int(limit)
    for key in ("padding_side", "truncation_side"):
        side = data.get(key)
        if side is not None and side not in ("left", "right"):
            raise AttentionLabError(f"{source}: {key} should be 'left' or 'right', not {side!r}")
        settings[key] = side
    never_split = data.get("never_split")
    if never_split is not None:
        if not isinstance(never_split, list) or not all(isinstance(t, str) for t in never_split):
            raise AttentionLabError(
                f"{source}: never_split should be a list of strings or null, not {never_split!r}"
            )
        settings["never_split"] = tuple(never_split)
    return settings


def find_tokenizer_files(path: str | os.PathLike) -> TokenizerFiles:
    """``vocab.txt`` and settings from a model directory, or from a vocabulary file itself."""
    from attention_lab.io import as_path

    path = as_path(path, "the tokenizer's folder or vocab file")
    if path.is_dir():
        vocab_file = path / VOCAB_FILE
        if not vocab_file.is_file():
            raise AttentionLabError(
                f"{path} has no {VOCAB_FILE}; pass a WordPiece model directory or a vocab file"
            )
    elif path.is_file():
        vocab_file = path
    else:
        raise AttentionLabError(f"vocabulary {path} not found; pass a vocab.txt or its directory")
    settings = {}
    config = vocab_file.parent / "tokenizer_config.json"
    fast = vocab_file.parent / "tokenizer.json"
    if config.is_file():
        settings = _config_settings(_json(config), config)
    elif fast.is_file():
        normalizer = _json(fast).get("normalizer") or {}
        if normalizer.get("type") == "BertNormalizer":
            settings["do_lower_case"] = _optional_bool(normalizer, "lowercase", fast)
            settings["strip_accents"] = _optional_bool(normalizer, "strip_accents", fast)
            settings["tokenize_chinese_chars"] = _optional_bool(
                normalizer, "handle_chinese_chars", fast
            )
    return TokenizerFiles(vocab_file, **settings)


def write_tokenizer_files(source: str | os.PathLike, folder: Path, model_max_length: int) -> None:
    """Copy the tokenizer files of ``source`` into ``folder`` (each atomically), adding a
    ``tokenizer_config.json`` and a ``special_tokens_map.json`` where ``source`` has none:
    lower-casing read off the vocabulary (no capitals), the model's positions as its limit."""
    source = Path(source)
    vocab = source / VOCAB_FILE
    if not vocab.is_file():
        raise AttentionLabError(f"{source} has no {VOCAB_FILE} to save with the model")
    tokens = load_vocab(vocab)  # UTF-8 text with BERT's special tokens, before any copy
    for name in TOKENIZER_FILES:
        if (source / name).is_file() and source.resolve() != folder.resolve():
            with atomic_file(folder / name) as tmp:
                shutil.copyfile(source / name, tmp)
    if not (folder / "tokenizer_config.json").is_file():
        capitals = any(t[:1].isupper() for t in tokens if not t.startswith("["))
        settings = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": not capitals,
            "model_max_length": model_max_length,
            **SPECIAL_TOKENS_MAP,
        }
        atomic_write_json(folder / "tokenizer_config.json", settings, indent=2)
    if not (folder / "special_tokens_map.json").is_file():
        atomic_write_json(folder / "special_tokens_map.json", SPECIAL_TOKENS_MAP, indent=2)
