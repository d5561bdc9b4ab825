"""Our BertTokenizer against transformers' BertTokenizerFast: real reviews, pairs, random Unicode.

Every output is compared (``reference.OUTPUTS``: ids, token types, masks, offsets, word and
sequence ids, each overflow window a row). The full 50,000-review comparison is
``attention-lab tokenize --compare-imdb`` (docs/results.md); here a sample of real IMDb test
reviews, every truncation strategy on pairs, and hypothesis over texts and call options.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attention_lab.data.imdb import read_imdb
from attention_lab.errors import AttentionLabError
from attention_lab.tokenization import BertTokenizer
from attention_lab.tokenization.bert_tokenizer import FEATURES
from attention_lab.tokenization.reference import (
    compare,
    first_difference,
    outputs,
    plain_ids,
    reference_tokenizer,
)

pytest.importorskip("transformers")
# The reference's Rust core panics on a stride too long for a text: one line, no backtrace.
os.environ.setdefault("RUST_BACKTRACE", "0")


@pytest.fixture(scope="module", params=["uncased", "cased"])
def pair_of_tokenizers(request, minilm_dir, bert_base_cased_dir):
    """(ours, reference) for the MiniLM uncased vocabulary and the real bert-base-cased one."""
    directory = minilm_dir if request.param == "uncased" else bert_base_cased_dir
    return BertTokenizer.from_pretrained(directory), reference_tokenizer(directory)


@pytest.fixture(scope="module")
def review_sample(imdb_archive):
    """The first 400 reviews of the IMDb test split (read_imdb's fixed order mixes labels)."""
    return [text.decode("utf-8") for text in read_imdb("test", data=imdb_archive).texts[:400]]


def _describe(comparison, texts):
    if comparison.ok:
        return ""
    index, got, want = comparison.mismatches[0]
    return (
        f"{len(comparison.mismatches)} of {comparison.count} differ; first: {texts[index][:200]!r}"
        f": {first_difference(got, want)}"
    )


def _refused(err: BaseException) -> bool:
    """Whether the reference refused the input: an exception, or a panic of its Rust core
    (``pyo3_runtime.PanicException``, a ``BaseException``: a stride too long for a text)."""
    return isinstance(err, Exception) or type(err).__name__ == "PanicException"


def assert_same(ours, reference, texts, pairs=None, **options):
    """Every output of both for a batch call, or both refuse it; our fast path agrees too."""
    try:
        want = outputs(reference, texts, pairs, **options)
    except BaseException as err:
        if not _refused(err):
            raise
        with pytest.raises(AttentionLabError):
            outputs(ours, texts, pairs, **options)
        return "refused"
    got = outputs(ours, texts, pairs, **options)
    for index, (mine, theirs) in enumerate(zip(got, want, strict=True)):
        assert mine == theirs, (texts[index], first_difference(mine, theirs))
    assert plain_ids(ours, texts, pairs, **options) == [
        [row["input_ids"] for row in rows] for rows in want
    ]
    if options.get("padding"):  # rows of one length: the arrays, written without lists
        arrays = {"return_tensors": "np", "return_overflowing_tokens": True,
                  "return_special_tokens_mask": True, "return_offsets_mapping": True}  # fmt: skip
        got = ours(texts, pairs, **options, **arrays)
        for key, value in reference(texts, pairs, **options, **arrays).items():
            assert got[key].dtype == value.dtype, key
            if value.size:  # empty rows: the reference's offsets lose their last axis
                np.testing.assert_array_equal(got[key], value, err_msg=key)
        got_plain = ours(
            texts, pairs, **options, return_tensors="np", return_overflowing_tokens=True
        )
        np.testing.assert_array_equal(got_plain["token_type_ids"], got["token_type_ids"])
    return "same"


@pytest.mark.slow
@pytest.mark.parametrize(("max_length", "stride"), [(150, 32), (None, 0)])
def test_real_reviews_encode_identically(pair_of_tokenizers, review_sample, max_length, stride):
    """400 reviews: at 150 tokens every overflow window (32 shared), and untruncated."""
    ours, reference = pair_of_tokenizers
    result = compare(ours, reference, review_sample, max_length=max_length, stride=stride)
    assert result.count == 400
    assert result.rows > (800 if max_length else 399)  # most reviews need several windows
    assert result.ok, _describe(result, review_sample)
    if max_length is not None:  # the batch path, straight to padded int32 arrays
        options = {"max_length": max_length, "truncation": True, "padding": "max_length"}
        got = ours.encode_batch(review_sample, **options)
        want = reference(review_sample, return_tensors="np", **options)
        for key in FEATURES:
            assert got[key].dtype == np.int32
            np.testing.assert_array_equal(got[key], want[key])


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
@pytest.mark.parametrize("max_length", [3, 12, 16, 17, 40])
def test_pairs_truncate_identically(pair_of_tokenizers, strategy, max_length):
    ours, reference = pair_of_tokenizers
    first = "This was an absolutely terrible movie. Don't be lured in by Christopher Walken."
    texts, pairs = zip(
        *[
            (first, "Michael Ironside is wasted."),
            ("Short one.", first),
            (first, first.upper()),
            ("Don't be", " lured"),
            ("", first),
        ],
        strict=True,
    )
    for text, pair in zip(texts, pairs, strict=True):
        for stride in (0, 2):
            options = {"max_length": max_length, "truncation": strategy, "stride": stride}
            assert_same(ours, reference, [text], [pair], **options)


def test_chapter_examples_match_encode_plus(pair_of_tokenizers):
    """Section 4: " Don't be lured" at max_length 9, the pair (" Don't be", " lured") at 10."""
    ours, reference = pair_of_tokenizers
    single = ours.encode(" Don't be lured", max_length=9, padding="max_length")
    assert single == {
        k: v
        for k, v in reference(" Don't be lured", max_length=9, padding="max_length").items()
        if k in FEATURES
    }
    assert single["attention_mask"].count(0) == 9 - len(ours.tokenize(" Don't be lured")) - 2
    pair = ours.encode(" Don't be", " lured", max_length=10, padding="max_length")
    want = reference(" Don't be", " lured", max_length=10, padding="max_length")
    assert pair == {k: want[k] for k in FEATURES}
    assert (
        pair["token_type_ids"][: len(pair["input_ids"]) - pair["attention_mask"].count(0)][-1] == 1
    )


def test_special_tokens_written_in_text_stay_whole(pair_of_tokenizers):
    ours, reference = pair_of_tokenizers
    texts = ["a [SEP] b", "x[MASK]y[CLS]", "[sep] [UNK][PAD]", "[SE P] [[SEP]]"]
    assert assert_same(ours, reference, texts) == "same"


# Random text built from the pieces that trip tokenizers up.
_PIECES = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.text("áéíóúàèçñüÅØßİıΣσςДжΑΩ\u0301\u0308\u0327\u0338\u20dd", max_size=10),
    # Spacing marks that canonical ordering moves (kept by accent stripping), among others.
    st.text("a\u0301\u0316\U0001d165\U0001d16d\u302e\u302f\u1734\u0f71", max_size=8),
    st.text("中文字漢日本語한국어\u3400\U00020000\U0002b820\uf900\U0002f800", max_size=6),
    st.text("😀🥺🧋👍🏽\u200d❤️🇫🇷\U0001fae8", max_size=6),
    st.text(
        "\x00\x01\x07\x0b\x0c\x1c\x7f\x85\u200b\u200c\u200d\u2060\ufeff\ufffd\ue000",
        max_size=6,
    ),
    st.text(" \t\n\r\xa0\u1680\u2002\u2028\u3000", min_size=1, max_size=6),
    st.text("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»…—–“”‘’", min_size=1, max_size=8),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=95, max_size=130),
    st.sampled_from(["[SEP]", "[CLS]", "[MASK]", "[UNK]", "[PAD]", "##", "don't", "lured"]),
)
_TEXT = st.lists(_PIECES, max_size=8).map("".join)
# More examples for a longer hunt: ATTENTION_LAB_HYPOTHESIS_EXAMPLES=10000 pytest -k random
EXAMPLES = int(os.environ.get("ATTENTION_LAB_HYPOTHESIS_EXAMPLES", "200"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(_TEXT, min_size=1, max_size=3),
    data=st.data(),
    max_length=st.sampled_from([None, 8, 12, 33]),
    strategy=st.sampled_from(["longest_first", "only_first", "only_second"]),
    stride=st.sampled_from([0, 0, 1, 3]),
    sides=st.sampled_from([("right", "right"), ("left", "right"), ("right", "left")]),
    padding=st.sampled_from([False, True, "max_length"]),
    pad_to_multiple_of=st.sampled_from([None, None, 4]),
    add_special_tokens=st.sampled_from([True, True, False]),
)
def test_random_unicode_encodes_identically(
    pair_of_tokenizers,
    texts,
    data,
    max_length,
    strategy,
    stride,
    sides,
    padding,
    pad_to_multiple_of,
    add_special_tokens,
):
    """Random texts (and pairs) through the tokenizer call with random options: every output
    of every row, overflow windows included, or both refuse."""
    ours, reference = pair_of_tokenizers
    same_length = st.lists(_TEXT, min_size=len(texts), max_size=len(texts))
    pairs = data.draw(st.one_of(st.none(), same_length))
    truncation_side, padding_side = sides
    ours.truncation_side = reference.truncation_side = truncation_side
    try:
        assert_same(
            ours,
            reference,
            texts,
            pairs,
            max_length=max_length,
            truncation=strategy if max_length is not None else False,
            stride=stride,
            padding=padding,
            padding_side=padding_side,
            pad_to_multiple_of=pad_to_multiple_of,
            add_special_tokens=add_special_tokens,
        )
    finally:
        ours.truncation_side = reference.truncation_side = "right"
    assert ours.tokenize(texts[0]) == reference.tokenize(texts[0])


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
def test_real_review_pairs_truncate_identically(pair_of_tokenizers, review_sample, strategy):
    """40 pairs of consecutive reviews at max_length 128, as (sentence A, sentence B), with
    every overflow window (16 tokens shared) where both texts are cut."""
    ours, reference = pair_of_tokenizers
    stride = 16 if strategy == "longest_first" else 0  # only_*: the cut text may keep fewer
    answers = [
        assert_same(ours, reference, [a], [b], max_length=128, truncation=strategy, stride=stride)
        for a, b in zip(review_sample[:40], review_sample[1:41], strict=True)
    ]
    assert "same" in answers


@settings(max_examples=150, deadline=None)
@given(
    ids=st.lists(st.integers(0, 28995), max_size=30),
    skip=st.booleans(),
    clean_up=st.sampled_from([None, True, False]),
)
def test_decode_matches(pair_of_tokenizers, ids, skip, clean_up):
    ours, reference = pair_of_tokenizers
    options = {"skip_special_tokens": skip, "clean_up_tokenization_spaces": clean_up}
    assert ours.decode(ids, **options) == reference.decode(ids, **options)


@settings(max_examples=100, deadline=None)
@given(text=_TEXT, clean_up=st.booleans())
def test_decode_of_an_encoding_matches(pair_of_tokenizers, text, clean_up):
    """Contractions and punctuation, where the clean-up rules fire."""
    ours, reference = pair_of_tokenizers
    text += " This shouldn't be! He'll go, won't he? I do not know."
    ids = reference(text)["input_ids"]
    assert ours.decode(ids, clean_up_tokenization_spaces=clean_up) == reference.decode(
        ids, clean_up_tokenization_spaces=clean_up
    )
