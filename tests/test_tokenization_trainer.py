"""The WordPiece and BPE vocabulary trainers: merge order, vocabulary files, loading by both."""

from __future__ import annotations

import pytest

from attention_lab.cli.main import main as cli
from attention_lab.data.imdb import read_imdb
from attention_lab.errors import AttentionLabError
from attention_lab.tokenization import BertTokenizer
from attention_lab.tokenization.bert_tokenizer import FEATURES
from attention_lab.tokenization.reference import reference_tokenizer
from attention_lab.tokenization.trainer import train_vocabulary
from attention_lab.tokenization.vocab import TRAINED_VOCAB_SPECIALS

# The classic toy corpus: hug ×10, pug ×5, pun ×12, bun ×4, hugs ×5.
TOY = ["hug"] * 10 + ["pug"] * 5 + ["pun"] * 12 + ["bun"] * 4 + ["hugs"] * 5
ALPHABET = ["b", "h", "p", "##g", "##n", "##s", "##u"]


def test_bpe_merges_the_most_frequent_pair():
    vocabulary = train_vocabulary(TOY, 14, "bpe", min_frequency=1)
    # u+g occurs 20 times (hug, pug, hugs), p+u 17, u+n 16; once ug is a piece, p+u only 12.
    assert vocabulary.merges == [("##u", "##g"), ("##u", "##n")]
    assert vocabulary.tokens == list(TRAINED_VOCAB_SPECIALS) + ALPHABET + ["##ug", "##un"]


def test_wordpiece_merges_the_most_likely_pair():
    vocabulary = train_vocabulary(TOY, 13, "wordpiece", min_frequency=1)
    # g+s: 5 / (20 · 5) = 0.05 beats every pair with u (count / (count · 36) = 1/36).
    assert vocabulary.merges[0] == ("##g", "##s")
    assert vocabulary.tokens[len(TRAINED_VOCAB_SPECIALS) + len(ALPHABET)] == "##gs"
    assert len(vocabulary.tokens) == 13


def test_training_stops_when_pairs_are_rare_and_refuses_a_tiny_size():
    vocabulary = train_vocabulary(TOY, 1000, "bpe", min_frequency=13)
    # After ug (20), un (16) and h+ug (15), no pair occurs 13 times.
    assert vocabulary.merges == [("##u", "##g"), ("##u", "##n"), ("h", "##ug")]
    with pytest.raises(AttentionLabError, match="smaller than the 5 special tokens and 7"):
        train_vocabulary(TOY, 11)
    with pytest.raises(AttentionLabError, match="no words"):
        train_vocabulary(["", "  "], 100)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["wordpiece", "bpe"])
def test_trained_vocabulary_loads_in_ours_and_transformers(tmp_path, imdb_archive, algorithm):
    reviews = [t.decode("utf-8") for t in read_imdb("test", data=imdb_archive).texts[:150]]
    vocabulary = train_vocabulary(reviews[:100], 600, algorithm)
    assert len(vocabulary.tokens) == 600
    assert len(set(vocabulary.tokens)) == 600
    vocabulary.save(tmp_path / "vocab")
    ours = BertTokenizer.from_pretrained(tmp_path / "vocab")
    reference = reference_tokenizer(tmp_path / "vocab")
    assert ours.vocab_size == reference.vocab_size == 600
    held_out = reviews[100:]
    for review in held_out:
        want = reference(review, max_length=150, truncation=True)
        assert ours.encode(review, max_length=150) == {k: want[k] for k in FEATURES}
    words = [w for r in held_out for w in ours.basic.tokenize(r)]
    pieces = sum(len(ours.tokenize(r)) for r in held_out)
    assert len(words) < pieces < sum(map(len, words))  # subwords: fewer than characters


def test_cli_trains_and_refuses_to_overwrite(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TOY), encoding="utf-8")
    out = tmp_path / "vocab"
    args = ["train-tokenizer", "--data", str(corpus), "--out", str(out), "--vocab-size", "14",
            "--algorithm", "bpe", "--min-frequency", "1"]  # fmt: skip
    assert cli(args) == 0
    assert (out / "vocab.txt").read_text().split("\n")[12] == "##ug"
    tokens = BertTokenizer.from_pretrained(out).tokenize("hugs pun")
    assert tokens == ["h", "##ug", "##s", "p", "##un"]
    assert cli(args) == 2
    assert "already exists" in capsys.readouterr().err


def test_train_tokenizer_limit_zero_names_the_limit(tmp_path, capsys, imdb_archive):
    out = tmp_path / "vocab"
    args = ["train-tokenizer", "--data", str(imdb_archive), "--out", str(out), "--limit", "0"]
    with pytest.raises(SystemExit) as refused:  # argparse refuses it, before any work
        cli(args)
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "--limit must be at least 1, got 0" in err and "archive" not in err
    assert not out.exists()
