"""Our BertTokenizer against transformers' BertTokenizerFast: real reviews, pairs, random Unicode.

The full 50,000-review comparison is ``attention-lab tokenize --compare-imdb`` (docs/results.md);
here a sample of real IMDb test reviews, every truncation strategy on pairs, and hypothesis.
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
from attention_lab.tokenization.reference import compare, first_difference, reference_tokenizer

pytest.importorskip("transformers")


@pytest.fixture(scope="module", params=["uncased", "cased"])
def pair_of_tokenizers(request, minilm_dir, bert_base_cased_dir):
    """(ours, reference) for the MiniLM uncased vocabulary and the real bert-base-cased one."""
    directory = minilm_dir if request.param == "uncased" else bert_base_cased_dir
    return BertTokenizer.from_pretrained(directory), reference_tokenizer(directory)


@pytest.fixture(scope="module")
def review_sample(imdb_archive):
    """The first 1,000 reviews of the IMDb test split (read_imdb's fixed order mixes labels)."""
    return [text.decode("utf-8") for text in read_imdb("test", data=imdb_archive).texts[:1000]]


def _describe(comparison, texts):
    if comparison.ok:
        return ""
    index, got, want = comparison.mismatches[0]
    return (
        f"{len(comparison.mismatches)} of {comparison.count} differ; first: {texts[index][:200]!r}"
        f": {first_difference(got, want)}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("max_length", [150, None])
def test_real_reviews_encode_identically(pair_of_tokenizers, review_sample, max_length):
    ours, reference = pair_of_tokenizers
    result = compare(ours, reference, review_sample, max_length=max_length)
    assert result.count == 1000
    assert result.ok, _describe(result, review_sample, ours)
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
    for a, b in [
        (first, "Michael Ironside is wasted."),
        ("Short one.", first),
        (first, first.upper()),
        ("Don't be", " lured"),
        ("", first),
    ]:
        try:
            want = reference(a, b, max_length=max_length, truncation=strategy)
        except Exception:  # the reference refuses what cannot be cut: so must we
            with pytest.raises(ValueError):
                ours.encode(a, b, max_length=max_length, truncation=strategy)
            continue
        got = ours.encode(a, b, max_length=max_length, truncation=strategy)
        assert got == {k: want[k] for k in FEATURES}, (a, b)


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
    for text in ["a [SEP] b", "x[MASK]y[CLS]", "[sep] [UNK][PAD]", "[SE P] [[SEP]]"]:
        assert ours.encode(text)["input_ids"] == reference(text)["input_ids"], text


# Random text built from the pieces that trip tokenizers up.
_PIECES = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.text("áéíóúàèçñüÅØßİıΣσςДжΑΩ\u0301\u0308\u0327\u0338\u20dd", max_size=10),
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
EXAMPLES = int(os.environ.get("ATTENTION_LAB_HYPOTHESIS_EXAMPLES", "250"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_TEXT,
    pair=st.one_of(st.none(), _TEXT),
    max_length=st.sampled_from([None, 8, 33]),
    strategy=st.sampled_from(["longest_first", "only_first", "only_second"]),
)
def test_random_unicode_encodes_identically(pair_of_tokenizers, text, pair, max_length, strategy):
    ours, reference = pair_of_tokenizers
    truncation = strategy if max_length is not None else False
    try:
        want = reference(text, pair, max_length=max_length, truncation=truncation)
    except Exception:  # only_first / only_second on a text too short to cut enough
        with pytest.raises(AttentionLabError, match="cannot fit max_length|needs a text_pair"):
            ours.encode(text, pair, max_length=max_length, truncation=truncation)
        return
    got = ours.encode(text, pair, max_length=max_length, truncation=truncation)
    assert got == {k: want[k] for k in FEATURES}
    assert ours.tokenize(text) == reference.tokenize(text)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
def test_real_review_pairs_truncate_identically(pair_of_tokenizers, review_sample, strategy):
    """200 pairs of consecutive reviews at max_length 128, as (sentence A, sentence B)."""
    ours, reference = pair_of_tokenizers
    refused = 0
    for a, b in zip(review_sample[:200], review_sample[1:201], strict=True):
        try:
            want = reference(a, b, max_length=128, truncation=strategy)
        except Exception:
            refused += 1
            with pytest.raises(AttentionLabError, match="cannot fit max_length"):
                ours.encode(a, b, max_length=128, truncation=strategy)
            continue
        assert ours.encode(a, b, max_length=128, truncation=strategy) == {
            k: want[k] for k in FEATURES
        }
    assert refused < 200


@settings(max_examples=150, deadline=None)
@given(ids=st.lists(st.integers(0, 28995), max_size=30), skip=st.booleans())
def test_decode_matches(pair_of_tokenizers, ids, skip):
    ours, reference = pair_of_tokenizers
    assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(
        ids, skip_special_tokens=skip
    )
