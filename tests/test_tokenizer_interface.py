"""Hugging Face's tokenizer interface on our BertTokenizer: the call, offsets, windows, padding,
added tokens, never_split, pad(), encode_plus, decode.

Expectations written as transformers' own BERT tokenizer tests write them (``test_tokenization_
bert.py``: the naïve AllenNLP sentence, never_split, the clean-text example), and each feature
checked against ``BertTokenizerFast`` (or, for ``never_split``, which only the Python tokenizer
has, ``BertTokenizerLegacy``) on the real vocabularies.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from attention_lab.errors import AttentionLabError
from attention_lab.tokenization import BasicTokenizer, BertTokenizer, WordPiece
from attention_lab.tokenization.reference import reference_tokenizer
from attention_lab.tokenization.truncation import windows

pytest.importorskip("transformers")

SENTENCE = "A, naïve [MASK] AllenNLP sentence."


@pytest.fixture(params=["uncased", "cased"])
def fresh_pair(request, minilm_dir, bert_base_cased_dir):
    """A new (ours, reference) pair for each test: some tests add tokens."""
    directory = minilm_dir if request.param == "uncased" else bert_base_cased_dir
    return BertTokenizer.from_pretrained(directory), reference_tokenizer(directory)


def _same(ours, reference, *args, **kwargs):
    got, want = ours(*args, **kwargs), reference(*args, **kwargs)
    assert dict(got) == dict(want)
    return got, want


def test_offsets_with_special_characters(bert_base_cased_dir, minilm_dir):
    """transformers' test_offsets_with_special_characters, cased and uncased, as written."""
    cased = BertTokenizer.from_pretrained(bert_base_cased_dir)
    got = cased(SENTENCE, return_offsets_mapping=True, return_attention_mask=False,
                return_token_type_ids=False)  # fmt: skip
    assert list(got) == ["input_ids", "offset_mapping"]
    assert list(zip(got["offset_mapping"], got.tokens(), strict=True)) == [
        ((0, 0), "[CLS]"), ((0, 1), "A"), ((1, 2), ","), ((3, 5), "na"), ((5, 6), "##ï"),
        ((6, 8), "##ve"), ((9, 15), "[MASK]"), ((16, 21), "Allen"), ((21, 23), "##NL"),
        ((23, 24), "##P"), ((25, 33), "sentence"), ((33, 34), "."), ((0, 0), "[SEP]"),
    ]  # fmt: skip
    uncased = BertTokenizer.from_pretrained(minilm_dir)
    got = uncased(SENTENCE, return_offsets_mapping=True)
    assert list(zip(got["offset_mapping"], got.tokens(), strict=True)) == [
        ((0, 0), "[CLS]"), ((0, 1), "a"), ((1, 2), ","), ((3, 8), "naive"), ((9, 15), "[MASK]"),
        ((16, 21), "allen"), ((21, 23), "##nl"), ((23, 24), "##p"), ((25, 33), "sentence"),
        ((33, 34), "."), ((0, 0), "[SEP]"),
    ]  # fmt: skip


def test_word_ids_and_sequence_ids_as_the_reference(fresh_pair):
    ours, reference = fresh_pair
    got, want = _same(ours, reference, SENTENCE, "Don't be lured!", return_offsets_mapping=True,
                      return_special_tokens_mask=True)  # fmt: skip
    assert got.word_ids() == want.word_ids()
    assert got.sequence_ids() == want.sequence_ids()
    assert got.tokens() == want.tokens()
    for word, sequence in sorted(
        set(zip(got.word_ids(), got.sequence_ids(), strict=True)) - {(None, None)}
    ):
        assert got.word_to_tokens(word, sequence_index=sequence) == want.word_to_tokens(
            word, sequence_index=sequence
        )
        assert got.word_to_chars(word, sequence_index=sequence) == want.word_to_chars(
            word, sequence_index=sequence
        )
    # Without return_offsets_mapping the fast path is taken; word_ids() still answers.
    assert ours(SENTENCE).word_ids() == want.word_ids()[: len(ours(SENTENCE)["input_ids"])]


def test_overflow_windows_with_stride(fresh_pair):
    """A long text read in windows of 8 positions, 2 tokens shared by neighbours."""
    ours, reference = fresh_pair
    text = "one two three four five six seven eight nine ten eleven twelve thirteen"
    options = {"max_length": 8, "truncation": True, "stride": 2, "return_overflowing_tokens": True,
               "return_offsets_mapping": True, "padding": True}  # fmt: skip
    got, _ = _same(ours, reference, [text, "short"], **options)
    assert got["overflow_to_sample_mapping"] == [0, 0, 0, 1]
    first, second = got["input_ids"][0], got["input_ids"][1]
    assert first[-3:-1] == second[1:3]  # the stride: the last 2 tokens of a window come again
    assert windows(13, 6, stride=2) == [slice(0, 6), slice(4, 10), slice(8, 13)]
    assert windows(13, 6, stride=2, side="left") == [slice(7, 13), slice(3, 9), slice(0, 5)]
    with pytest.raises(AttentionLabError, match="stride=6 must be smaller than the 6 tokens"):
        ours(text, max_length=8, truncation=True, stride=6)
    pair = ("one two three four five six seven", "a b c d e f g h")
    _same(ours, reference, *pair, max_length=10, truncation="longest_first", stride=1,
          return_overflowing_tokens=True)  # fmt: skip
    _same(ours, reference, *pair, max_length=12, truncation="only_second", stride=1,
          return_overflowing_tokens=True)  # fmt: skip


def test_padding_and_truncation_sides(fresh_pair):
    ours, reference = fresh_pair
    texts = ["a b c", "hello there my good friend", ""]
    for options in [
        {"padding": True, "padding_side": "left", "return_special_tokens_mask": True},
        {"padding": "max_length", "max_length": 8, "pad_to_multiple_of": 4},
        {"padding": True, "pad_to_multiple_of": 3, "return_length": True},
        {"padding": "longest", "max_length": 5, "truncation": True},
    ]:
        _same(ours, reference, texts, return_offsets_mapping=True, **options)
    ours.truncation_side = reference.truncation_side = "left"
    _same(ours, reference, texts, max_length=4, return_offsets_mapping=True)
    got = ours(texts, padding=True, return_tensors="np")
    want = reference(texts, padding=True, return_tensors="np")
    for key, value in want.items():
        assert got[key].dtype == value.dtype == np.int64
        np.testing.assert_array_equal(got[key], value)
    unequal = ours(texts)  # no padding: a batch of unequal rows stays lists
    assert [len(ids) for ids in unequal["input_ids"]] == [5, 7, 2]
    with pytest.raises(AttentionLabError, match="rows of different lengths"):
        ours(texts, return_tensors="np")


def test_pad_already_encoded(fresh_pair):
    ours, reference = fresh_pair
    examples = [{"input_ids": [1, 2, 3]}, {"input_ids": [1]}]
    assert ours.pad(examples) == reference.pad(examples)
    batch = {"input_ids": [[1, 2, 3], [1]], "token_type_ids": [[0, 0, 0], [0]],
             "special_tokens_mask": [[1, 0, 1], [1]]}  # fmt: skip
    options = {"padding": "longest", "pad_to_multiple_of": 4, "padding_side": "left"}
    assert ours.pad(batch, **options) == reference.pad(batch, **options)
    one = {"input_ids": [5, 6], "attention_mask": [1, 1]}
    assert ours.pad(one, padding="max_length", max_length=4) == reference.pad(
        one, padding="max_length", max_length=4
    )
    arrays = ours.pad(examples, return_tensors="np")
    assert arrays["input_ids"].tolist() == [[1, 2, 3], [1, ours.pad_token_id, ours.pad_token_id]]


def test_is_split_into_words(fresh_pair):
    ours, reference = fresh_pair
    words = ["Don't", "be", "lured!", "Café", "[SEP]", ""]
    got, want = _same(ours, reference, words, is_split_into_words=True,
                      return_offsets_mapping=True)  # fmt: skip
    assert got.word_ids() == want.word_ids()  # each word keeps its position, pieces and all
    _same(ours, reference, [words, ["x"]], [["a", "pair"], ["y"]], is_split_into_words=True,
          return_offsets_mapping=True, padding=True)  # fmt: skip


def test_added_tokens(fresh_pair):
    ours, reference = fresh_pair
    for tokenizer in (ours, reference):
        assert tokenizer.add_tokens(["hello", "NewWord", "##zz"]) == 3
        assert tokenizer.add_special_tokens({"additional_special_tokens": ["<E1>"]}) == 1
    assert len(ours) == len(reference) == ours.vocab_size + 2
    assert ours.get_vocab() == reference.get_vocab()
    text = "HelloThere newwordy ab##zz NEWWORD a<E1>b <e1> [SEP]"
    got, want = _same(ours, reference, text, return_offsets_mapping=True,
                      return_special_tokens_mask=True)  # fmt: skip
    assert got.word_ids() == want.word_ids()
    assert "<E1>" in ours.all_special_tokens
    assert "<E1>" not in ours.decode(got["input_ids"], skip_special_tokens=True)
    with pytest.raises(AttentionLabError, match="cannot change cls_token"):
        ours.add_special_tokens({"cls_token": "[CLX]"})


def test_never_split_as_the_python_tokenizer(minilm_dir):
    """transformers' test_basic_tokenizer_respects_never_split_tokens, then the whole tokenizer
    against BertTokenizerLegacy (the fast tokenizer has no never_split)."""
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    basic = BasicTokenizer(lowercase=False, never_split=["[UNK]"])
    assert basic.tokenize(" \tHeLLo!how  \n Are yoU? [UNK]") == [
        "HeLLo", "!", "how", "Are", "yoU", "?", "[UNK]",
    ]  # fmt: skip
    never_split = ["don't", "C++", "Walken"]
    ours = BertTokenizer.from_pretrained(minilm_dir, never_split=never_split)
    legacy = BertTokenizerLegacy(str(minilm_dir / "vocab.txt"), never_split=never_split)
    for text in ["I don't like C++ or Walken.", "don't,C++ x", "Walken's don't"]:
        assert ours(text)["input_ids"] == legacy(text)["input_ids"], text
    got = ours("don't like C++", return_offsets_mapping=True)
    assert got.tokens()[1:3] == ["[UNK]", "like"]  # a never_split word not in the vocabulary
    assert got["offset_mapping"][1] == (0, 5)


def test_helpers_with_hugging_face_names(bert_base_cased_dir):
    ours = BertTokenizer.from_pretrained(bert_base_cased_dir)
    text = ours("sequence builders", add_special_tokens=False)["input_ids"]
    text_2 = ours("multi-sequence build", add_special_tokens=False)["input_ids"]
    assert ours.build_inputs_with_special_tokens(text) == [101, *text, 102]
    assert ours.build_inputs_with_special_tokens(text, text_2) == [101, *text, 102, *text_2, 102]
    assert ours.num_special_tokens_to_add() == 2 and ours.num_special_tokens_to_add(True) == 3
    assert ours.convert_tokens_to_string(["Don", "'", "t", "be", "lure", "##d", "."]) == (
        "Don ' t be lured."
    )
    # transformers' test_clean_text: a soft hyphen alone is no token at all.
    assert [ours.tokenize(t) for t in ["Test", "\xad", "test"]] == [["Test"], [], ["test"]]


def test_encode_plus_runs_the_chapter_call_as_printed(bert_base_cased_dir):
    """Section 4, transformers 3.0.2's arguments; pad_to_max_length now warns."""
    ours = BertTokenizer.from_pretrained(bert_base_cased_dir)
    reference = reference_tokenizer(bert_base_cased_dir)
    with pytest.warns(FutureWarning, match="pad_to_max_length=True is deprecated"):
        encoded = ours.encode_plus(" Don't be lured", add_special_tokens=True, max_length=9,
                                   pad_to_max_length=True, return_attention_mask=True,
                                   return_token_type_ids=True)  # fmt: skip
    want = reference(" Don't be lured", max_length=9, padding="max_length", truncation=True)
    assert dict(encoded) == dict(want)
    assert encoded["attention_mask"] == [1] * 8 + [0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pair = ours.encode_plus(" Don't be", " lured", max_length=10, padding="max_length")
    assert pair["token_type_ids"] == [0] * 6 + [1] * 3 + [0]


def test_decode_clean_up_does_what_transformers_does(minilm_dir):
    """The whole text is cleaned up, so contractions join (they never did token by token)."""
    ours = BertTokenizer.from_pretrained(minilm_dir)
    ids = ours("This shouldn't be! He'll go.")["input_ids"]
    assert ours.decode(ids, skip_special_tokens=True) == "this shouldn ' t be! he ' ll go."
    assert ours.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True) == (
        "this shouldn't be! he'll go."
    )


def test_wordpiece_without_its_unknown_token_is_a_clear_error():
    vocab = {"[PAD]": 0, "want": 1, "##ed": 2}
    for unk_token in ("[UNK]", None):
        with pytest.raises(AttentionLabError, match="needs its unknown token"):
            WordPiece(vocab, unk_token=unk_token)
    assert WordPiece({**vocab, "<unk>": 3}, unk_token="<unk>").tokenize("wantedx") == ["<unk>"]


def test_bad_call_options_are_refused(minilm_dir):
    ours = BertTokenizer.from_pretrained(minilm_dir, model_max_length=None)
    with pytest.raises(AttentionLabError, match="needs max_length"):
        ours("a", padding="max_length")
    with pytest.raises(AttentionLabError, match="not a multiple of pad_to_multiple_of"):
        ours("a", max_length=10, truncation=True, padding=True, pad_to_multiple_of=4)
    with pytest.raises(AttentionLabError, match="2 texts need 2 text pairs"):
        ours(["a", "b"], ["c"])
    with pytest.raises(AttentionLabError, match="return_overflowing_tokens needs"):
        ours("a", max_length=5, truncation="head+tail", return_overflowing_tokens=True)
    with pytest.raises(AttentionLabError, match="unknown return_tensors"):
        ours("a", return_tensors="pt")
    with pytest.raises(AttentionLabError, match="padding_side"):
        ours("a", padding=True, padding_side="middle")
    with pytest.raises(AttentionLabError, match="encode_plus encodes one text"):
        ours.encode_plus(["a", "b"])
