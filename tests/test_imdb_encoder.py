"""Our tokenizer/encoder/padding against tfds.deprecated.text and Keras on real reviews."""

from __future__ import annotations

import numpy as np
import pytest
from glove_imdb_data import imdb_splits, train_vocabulary

from attention_lab.data.text_encoder import (
    TokenEncoder,
    build_vocabulary,
    encode_and_pad,
    pad_and_truncate,
    tokenize,
)
from attention_lab.errors import AttentionLabError


@pytest.fixture(scope="module")
def reviews(imdb_archive):
    splits = imdb_splits(imdb_archive)
    return splits["train"], splits["test"]


@pytest.fixture(scope="module")
def tfds_text():
    return pytest.importorskip("tensorflow_datasets").deprecated.text


@pytest.mark.slow
def test_chapter_vocabulary_on_full_train_split(imdb_archive):
    vocabulary, max_tokens = train_vocabulary(imdb_archive)
    # What the chapter prints: vocab_size 93931 and the longest review, 2525 tokens.
    assert TokenEncoder(vocabulary, lowercase=True).vocab_size == 93931
    assert max_tokens == 2525
    assert TokenEncoder(vocabulary, lowercase=True, mode="clean").vocab_size == 74893


def test_tokenizer_and_encoder_match_tfds(reviews, tfds_text):
    train, test = reviews
    tokenizer = tfds_text.Tokenizer()
    texts = train.texts[:1500]
    reference_vocab, reference_max = set(), 0
    for text in texts:
        tokens = tokenizer.tokenize(text)
        reference_vocab.update(tokens)
        reference_max = max(reference_max, len(tokens))
    vocabulary, max_tokens = build_vocabulary(texts)
    assert vocabulary == sorted(reference_vocab) and max_tokens == reference_max

    reference = tfds_text.TokenTextEncoder(vocabulary, lowercase=True, tokenizer=tokenizer)
    ours = TokenEncoder(vocabulary, lowercase=True)
    assert ours.vocab_size == reference.vocab_size
    assert ours.tokens == reference.tokens
    oov = 0
    for text in test.texts[:400] + train.texts[:100]:
        expected = reference.encode(text)
        assert ours.encode(text) == expected
        oov += expected.count(ours.oov_id)
    assert oov > 100  # the test reviews exercise the out-of-vocabulary id
    sample = "a great zzzqx film"
    assert ours.decode(ours.encode(sample)) == reference.decode(reference.encode(sample))


def test_faithful_keeps_lowercased_duplicates_clean_merges(tfds_text):
    vocabulary = ["Film", "The", "film", "good", "the"]
    reference = tfds_text.TokenTextEncoder(
        vocabulary, lowercase=True, tokenizer=tfds_text.Tokenizer()
    )
    faithful = TokenEncoder(vocabulary)
    clean = TokenEncoder(vocabulary, mode="clean")
    text = "The film, THE FILM... good? Bad!"
    assert faithful.encode(text) == reference.encode(text) == [5, 3, 5, 3, 4, 6]
    assert faithful.vocab_size == reference.vocab_size == 7
    assert clean.vocab_size == 5 and clean.tokens == ["film", "the", "good"]
    assert clean.encode(text) == [2, 1, 2, 1, 3, 4]
    with pytest.raises(AttentionLabError, match="encoder mode"):
        TokenEncoder(vocabulary, mode="fancy")


def test_tokenize_unicode_and_markup():
    assert tokenize("Don't<br /><br />café_au-lait 10/10") == [
        "Don", "t", "br", "br", "café_au", "lait", "10", "10",
    ]  # fmt: skip
    assert tokenize(b"  ...  ") == []


def test_padding_matches_keras_pad_sequences():
    from keras.utils import pad_sequences

    rng = np.random.default_rng(3)
    sequences = [list(rng.integers(1, 50, size=n)) for n in (0, 1, 7, 150, 151, 400)]
    last = pad_and_truncate(sequences, 150, "last")
    first = pad_and_truncate(sequences, 150, "first")
    np.testing.assert_array_equal(last, pad_sequences(sequences, maxlen=150, padding="post"))
    np.testing.assert_array_equal(
        first, pad_sequences(sequences, maxlen=150, padding="post", truncating="post")
    )
    assert last.dtype == np.int32 and last.shape == (6, 150)
    assert not last[0].any()  # an empty review is all padding
    assert last[5, -1] == sequences[5][-1] and first[5, -1] == sequences[5][149]
    with pytest.raises(AttentionLabError, match="truncation"):
        pad_and_truncate(sequences, 150, "middle")
    with pytest.raises(AttentionLabError, match="max_len"):
        pad_and_truncate(sequences, 0)


def test_encode_and_pad_on_real_reviews(reviews):
    train, _ = reviews
    vocabulary, _ = build_vocabulary(train.texts[:300])
    encoder = TokenEncoder(vocabulary)
    encoded = encode_and_pad(encoder, train.texts[:300], max_len=150)
    lengths = [len(encoder.encode(text)) for text in train.texts[:300]]
    assert encoded.shape == (300, 150)
    np.testing.assert_array_equal((encoded > 0).sum(axis=1), np.minimum(lengths, 150))
    assert encoded.max() < encoder.oov_id  # the train reviews are all in their vocabulary
