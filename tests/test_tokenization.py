"""BertTokenizer on its own: basic tokenization, WordPiece, encoding layout, truncation, errors."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from attention_lab.cli.main import main as cli
from attention_lab.errors import AttentionLabError
from attention_lab.tokenization import BasicTokenizer, BertTokenizer, WordPiece

TOKENS = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "don", "'", "t", "be", "lure", "##d", "in", "by", "walk", "##en", ".", "a", "##b", "##c",
    "b", "c", "d", "e", "f", "g", "h",
]  # fmt: skip


@pytest.fixture(scope="module")
def tok() -> BertTokenizer:
    return BertTokenizer(TOKENS)


def write_vocab(path, tokens) -> None:
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")


def test_basic_tokenizer_cleans_splits_and_lowercases():
    basic = BasicTokenizer()
    assert basic.tokenize("Don't  be\tLURED!") == ["don", "'", "t", "be", "lured", "!"]
    assert basic.tokenize("Crème\u00a0Brûlée") == ["creme", "brulee"]
    assert basic.tokenize("a\x00b\u200bc\ufeffd\ue000e\U000f0000f") == ["abcdef"]  # removed
    assert basic.tokenize("中文ab") == ["中", "文", "ab"]
    assert basic.tokenize("$5+x^2<y`z") == ["$", "5", "+", "x", "^", "2", "<", "y", "`", "z"]
    assert basic.tokenize("ΟΔΟΣ") == ["οδοσ"]  # letter by letter: no final sigma
    assert basic.tokenize("") == basic.tokenize(" \t\n ") == []


def test_basic_tokenizer_cased_keeps_case_and_accents():
    basic = BasicTokenizer(lowercase=False)
    assert basic.tokenize("Crème Brûlée, Walken") == ["Crème", "Brûlée", ",", "Walken"]
    assert BasicTokenizer(lowercase=False, strip_accents=True).tokenize("Crème") == ["Creme"]
    assert BasicTokenizer(tokenize_chinese_chars=False).tokenize("中文ab") == ["中文ab"]


def test_wordpiece_greedy_longest_match_first():
    vocab = {t: i for i, t in enumerate(TOKENS)}
    wordpiece = WordPiece(vocab, max_input_chars_per_word=6)
    assert wordpiece.tokenize("lured") == ["lure", "##d"]
    assert wordpiece.tokenize("walken") == ["walk", "##en"]
    assert wordpiece.tokenize("abc") == ["a", "##b", "##c"]
    assert wordpiece.tokenize("lurex") == ["[UNK]"]  # "##x" is missing: the whole word
    assert wordpiece.tokenize("abcbcbc") == ["[UNK]"]  # 7 characters > 6
    assert wordpiece.ids("lured") == (9, 10)
    assert wordpiece.cache["lured"] == (9, 10)


def test_encode_single_and_pair_layout(tok):
    single = tok.encode("Don't be")
    assert tok.convert_ids_to_tokens(single["input_ids"]) == [
        "[CLS]", "don", "'", "t", "be", "[SEP]",
    ]  # fmt: skip
    assert single["token_type_ids"] == [0] * 6
    assert single["attention_mask"] == [1] * 6
    pair = tok.encode("Don't be", "lured", max_length=12, padding="max_length")
    assert tok.convert_ids_to_tokens(pair["input_ids"][:9]) == [
        "[CLS]", "don", "'", "t", "be", "[SEP]", "lure", "##d", "[SEP]",
    ]  # fmt: skip
    assert pair["input_ids"][9:] == [tok.pad_token_id] * 3
    assert pair["token_type_ids"] == [0] * 6 + [1] * 3 + [0] * 3
    assert pair["attention_mask"] == [1] * 9 + [0] * 3


def test_empty_and_whitespace_text_encode_as_cls_sep(tok):
    for text in ["", "   ", "\t\n", "\u200b"]:
        assert tok.encode(text)["input_ids"] == [tok.cls_token_id, tok.sep_token_id]


def test_truncation_keeps_head_tail_or_both(tok):
    text = "a b c d e f g h"  # 8 tokens
    ids = tok.encode(text)["input_ids"][1:-1]
    assert tok.encode(text, max_length=5)["input_ids"][1:-1] == ids[:3]
    assert tok.encode(text, max_length=5, truncation="first")["input_ids"][1:-1] == ids[:3]
    assert tok.encode(text, max_length=5, truncation="last")["input_ids"][1:-1] == ids[-3:]
    both = tok.encode(text, max_length=7, truncation="head+tail", head_tokens=2)
    assert both["input_ids"][1:-1] == ids[:2] + ids[-3:]
    quarter = tok.encode(text, max_length=10 - 2 + 2 - 1, truncation="head+tail")
    assert quarter["input_ids"][1:-1] == ids[:1] + ids[-6:]  # room 7: head 7 // 4 = 1
    assert tok.encode(text, max_length=20, truncation="last")["input_ids"][1:-1] == ids
    assert len(tok.encode(text, max_length=5, truncation=False)["input_ids"]) == 10


def test_encode_batch_arrays(tok):
    batch = tok.encode_batch(["a b c d e f", "a", ""], max_length=6, truncation="last")
    assert {k: v.dtype for k, v in batch.items()} == dict.fromkeys(batch, np.dtype(np.int32))
    assert batch["input_ids"].shape == (3, 6)  # the longest row, truncated to 6
    assert batch["attention_mask"].sum(axis=1).tolist() == [6, 3, 2]
    assert batch["input_ids"][0, 1:5].tolist() == tok.encode("c d e f")["input_ids"][1:5]
    fixed = tok.encode_batch(["a"], max_length=8, padding="max_length")
    assert fixed["input_ids"].shape == (1, 8)
    pairs = tok.encode_batch(["a", "b c"], text_pairs=["d", ""])
    assert pairs["token_type_ids"].tolist() == [[0, 0, 0, 1, 1], [0, 0, 0, 0, 1]]


def test_to_tf_dataset_batches_dicts(tok):
    dataset = tok.to_tf_dataset(["a b", "c", "d e f"], [1, 0, 1], max_length=5, batch_size=2)
    features, labels = next(iter(dataset))
    assert sorted(features) == ["attention_mask", "input_ids", "token_type_ids"]
    assert tuple(features["input_ids"].shape) == (2, 5)
    assert labels.numpy().tolist() == [1, 0]
    assert sum(1 for _ in dataset) == 2
    tensors = tok(["a b", "c"], padding=True, return_tensors="tf", return_offsets_mapping=True)
    assert tensors["input_ids"].dtype.name == "int32"
    assert (
        tensors["input_ids"].numpy().tolist()
        == tok.encode_batch(["a b", "c"])["input_ids"].tolist()
    )
    assert tuple(tensors["offset_mapping"].shape) == (2, 4, 2)


def test_decode_glues_continuations(tok):
    ids = tok.encode("Don't be lured by walken.")["input_ids"]
    assert tok.decode(ids) == "[CLS] don ' t be lured by walken. [SEP]"
    assert tok.decode(ids, skip_special_tokens=True) == "don ' t be lured by walken."
    assert tok.convert_tokens_to_ids(["lure", "zebra"]) == [9, tok.unk_token_id]


def test_from_pretrained_reads_the_directory_setting(tmp_path):
    write_vocab(tmp_path / "vocab.txt", TOKENS + ["Walk"])
    assert BertTokenizer.from_pretrained(tmp_path).tokenize("Walk") == ["walk"]
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    cased = BertTokenizer.from_pretrained(tmp_path)
    assert cased.tokenize("Walk") == ["Walk"]
    assert BertTokenizer.from_pretrained(tmp_path / "vocab.txt", do_lower_case=True).tokenize(
        "Walk"
    ) == ["walk"]
    assert cased.vocab_size == len(TOKENS) + 1
    assert (cased.pad_token_id, cased.unk_token_id, cased.cls_token_id, cased.sep_token_id) == (
        0, 1, 2, 3,
    )  # fmt: skip


def test_bad_vocabularies_are_refused(tmp_path):
    with pytest.raises(AttentionLabError, match="not found"):
        BertTokenizer.from_pretrained(tmp_path / "missing.txt")
    with pytest.raises(AttentionLabError, match="no vocab.txt"):
        BertTokenizer.from_pretrained(tmp_path)
    write_vocab(tmp_path / "vocab.txt", ["[PAD]", "[UNK]", "hello"])
    with pytest.raises(AttentionLabError, match=r"\[CLS\], \[SEP\]"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_bytes(b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xff\xfe\n")
    with pytest.raises(AttentionLabError, match="not valid UTF-8"):
        BertTokenizer.from_pretrained(tmp_path)
    with pytest.raises(AttentionLabError, match=r"lacks the special token\(s\) \[SEP\]"):
        BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "word"])


def test_bad_inputs_are_refused(tok):
    with pytest.raises(AttentionLabError, match="None"):
        tok.encode(None)
    with pytest.raises(AttentionLabError, match="not valid UTF-8"):
        tok.encode(b"caf\xe9")
    assert tok.encode(b"don't")["input_ids"] == tok.encode("don't")["input_ids"]
    with pytest.raises(AttentionLabError, match="should be a str"):
        tok.encode(42)
    with pytest.raises(AttentionLabError, match="no room for the 2 special tokens"):
        tok.encode("a", max_length=1)
    with pytest.raises(AttentionLabError, match="no room for the 3 special tokens"):
        tok.encode("a", "b", max_length=2)
    with pytest.raises(AttentionLabError, match="unknown truncation"):
        tok.encode("a", "b", max_length=5, truncation="last")
    with pytest.raises(AttentionLabError, match="needs a text_pair"):
        tok.encode("a b c d", max_length=5, truncation="only_second")
    assert tok.encode("a b", max_length=5, truncation="only_second")["input_ids"][1:-1] == [16, 19]
    with pytest.raises(AttentionLabError, match="head_tokens=9"):
        tok.encode("a b c d e f g", max_length=6, truncation="head+tail", head_tokens=9)
    with pytest.raises(AttentionLabError, match="needs max_length"):
        tok.encode("a", padding="max_length")
    with pytest.raises(AttentionLabError, match="truncation is off"):
        tok.encode_batch(["a b c d"], max_length=4, truncation=False, padding="max_length")
    with pytest.raises(AttentionLabError, match="outside the vocabulary"):
        tok.decode([len(TOKENS)])


def test_cli_prints_the_table(tmp_path, capsys):
    write_vocab(tmp_path / "vocab.txt", TOKENS)
    status = cli(["tokenize", "--vocab", str(tmp_path), "Don't", "--pair", "lured",
                  "--max-length", "9"])  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[0].split() == ["#", "token", "id", "type", "mask", "chars"]
    assert [line.split()[1] for line in lines[1:]] == [
        "[CLS]", "don", "'", "t", "[SEP]", "lure", "##d", "[SEP]", "[PAD]",
    ]  # fmt: skip
    assert [line.split()[5] for line in lines[2:5]] == ["0-3", "3-4", "4-5"]
    assert lines[7].split()[5] == "4-5"  # "##d" is the d of "lured"
    assert lines[-1].split()[3:] == ["0", "0"]
    assert lines[-2].split()[3:] == ["1", "1"]


def test_cli_reads_the_text_from_a_file_or_stdin(tmp_path, capsys, monkeypatch):
    write_vocab(tmp_path / "vocab.txt", TOKENS)
    review = "a b " * 1000 + "b" * 1_000_000  # 1 MB: no command line takes that
    (tmp_path / "review.txt").write_text(review, encoding="utf-8")
    args = ["tokenize", "--vocab", str(tmp_path), "--max-length", "6", "--json"]
    assert cli([*args, "--file", str(tmp_path / "review.txt")]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert from_file["tokens"] == ["[CLS]", "a", "b", "a", "b", "[SEP]"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(review.encode("utf-8"))))
    assert cli([*args, "-"]) == 0
    assert json.loads(capsys.readouterr().out) == from_file
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    assert cli([*args, "--file", str(tmp_path / "latin1.txt")]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert cli([*args, "--file", str(tmp_path / "review.txt"), "text"]) == 2
    assert "not both" in capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert cli(["tokenize", "--vocab", str(tmp_path / "nope"), "text"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err
    write_vocab(tmp_path / "vocab.txt", TOKENS)
    assert cli(["tokenize", "--vocab", str(tmp_path)]) == 2
    assert "--file" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["tokenize", "train-tokenizer"])
def test_help_has_no_markup(command, capsys):
    with pytest.raises(SystemExit):
        cli([command, "--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "%%" not in text and "%(" not in text
