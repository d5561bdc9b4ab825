"""BERT's pre-training heads and data: masking statistics, whole words, sentence pairs, the
masked-LM loss, the tied decoder, and the layer harness on both heads."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from layer_harness import check_layer

from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import BertConfig
from attention_lab.models.bert_pretraining import BertForMaskedLM, BertForPreTraining
from attention_lab.training.pretraining import (
    IGNORE,
    IS_NEXT,
    NOT_NEXT,
    mask_tokens,
    masked_lm_loss,
    next_sentence_pairs,
)

CONFIG = BertConfig(
    vocab_size=40,
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=24,
    max_position_embeddings=16,
)
VOCAB, MASK_ID = 30_000, 103


def _batch(rows=2_000, length=128, seed=0):
    """Token ids with [CLS] first, [SEP] last and 10% of each row padding."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1_000, VOCAB, (rows, length))
    special = np.zeros((rows, length), np.int32)
    special[:, 0] = special[:, -14:] = 1
    return ids, special


def _sigma(p: float, n: int) -> float:
    """Standard deviation of a proportion of n Bernoulli(p) draws."""
    return float(np.sqrt(p * (1 - p) / n))


def test_masking_chooses_15_percent_and_replaces_them_80_10_10():
    """Each proportion within 5 standard deviations of its binomial draw (a false alarm about
    once in 1.7 million runs): 15% of 228,000 allowed tokens (±0.37 points), then 80% / 10% /
    10% of the about 34,000 chosen (±1.1 / ±0.8 / ±0.8 points)."""
    ids, special = _batch()
    masked, labels = mask_tokens(ids, special, VOCAB, MASK_ID, np.random.default_rng(1))
    chosen = labels != IGNORE
    allowed = int((special == 0).sum())
    assert not chosen[special == 1].any()  # never [CLS], [SEP] or padding
    assert abs(chosen.sum() / allowed - 0.15) < 5 * _sigma(0.15, allowed)
    np.testing.assert_array_equal(labels[chosen], ids[chosen])  # labels: the original ids
    n = int(chosen.sum())
    as_mask = (masked[chosen] == MASK_ID).mean()
    kept = (masked[chosen] == ids[chosen]).mean()
    replaced = 1 - as_mask - kept
    assert abs(as_mask - 0.8) < 5 * _sigma(0.8, n)
    assert abs(replaced - 0.1) < 5 * _sigma(0.1, n) and abs(kept - 0.1) < 5 * _sigma(0.1, n)
    np.testing.assert_array_equal(masked[~chosen], ids[~chosen])  # the rest untouched


def test_whole_word_masking_chooses_all_pieces_of_a_word_or_none():
    ids, special = _batch(rows=200, length=64)
    rng = np.random.default_rng(2)
    word_starts = rng.random(ids.shape) < 0.6  # a word is 1 to several pieces
    word_starts[:, 0] = True
    _, labels = mask_tokens(ids, special, VOCAB, MASK_ID, rng, word_starts=word_starts)
    chosen = labels != IGNORE
    word = np.cumsum(word_starts, axis=1)
    for row in range(len(ids)):
        for number in np.unique(word[row][chosen[row]]):
            pieces = (word[row] == number) & (special[row] == 0)
            assert chosen[row][pieces].all()


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, 1.5])
def test_a_masking_rate_outside_0_1_is_refused(rate):
    ids, special = _batch(rows=2, length=8)
    with pytest.raises(AttentionLabError, match=r"must lie in \(0, 1\)"):
        mask_tokens(ids, special, VOCAB, MASK_ID, np.random.default_rng(0), rate=rate)


def test_next_sentence_pairs_are_half_true_successors_half_other_documents():
    documents = [[f"d{d} s{s}" for s in range(8)] for d in range(500)]
    pairs = next_sentence_pairs(documents, np.random.default_rng(3))
    assert len(pairs) == 500 * 7
    labels = np.array([label for _, _, label in pairs])
    assert abs((labels == IS_NEXT).mean() - 0.5) < 5 * _sigma(0.5, len(pairs))
    for a, b, label in pairs:
        doc_a, sentence_a = a.split()
        doc_b, sentence_b = b.split()
        if label == IS_NEXT:
            assert doc_a == doc_b and int(sentence_b[1:]) == int(sentence_a[1:]) + 1
        else:
            assert label == NOT_NEXT and doc_a != doc_b
    with pytest.raises(AttentionLabError, match="at least 2 documents"):
        next_sentence_pairs([["only one"], []], np.random.default_rng(0))


def test_masked_lm_loss_is_cross_entropy_at_the_chosen_positions_only():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 5, 7)).astype(np.float32)
    labels = np.full((2, 5), IGNORE)
    labels[0, 1], labels[1, 3] = 4, 0
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    expected = -(log_p[0, 1, 4] + log_p[1, 3, 0]) / 2
    assert float(masked_lm_loss(labels, logits)) == pytest.approx(expected, rel=1e-5)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 20, (2, 9)).astype(np.int32)  # only rows 1 … 19 of the table
    return {"input_ids": ids, "token_type_ids": np.zeros_like(ids)}


def test_the_decoder_is_tied_to_the_word_embeddings():
    model = BertForPreTraining(CONFIG)
    model.build()
    out = model(_inputs())
    assert tuple(out["prediction_logits"].shape) == (2, 9, CONFIG.vocab_size)
    assert tuple(out["seq_relationship_logits"].shape) == (2, 2)
    table = model.bert.embeddings.word_embeddings.embeddings
    assert not any(v is table for v in model.predictions.weights)  # one table, used twice
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.ops.sum(model(_inputs())["prediction_logits"])
    gradient = tf.convert_to_tensor(tape.gradient(loss, table))
    # rows 20 … 39 never occur in the input: only the decoder's use gives them a gradient
    assert np.abs(np.asarray(gradient)[20:]).min() > 0


def test_the_masked_lm_has_no_pooler_and_no_next_sentence_head():
    model = BertForMaskedLM(CONFIG)
    model.build()
    assert model.bert.pooler is None and not hasattr(model, "seq_relationship")
    assert set(model(_inputs())) == {"prediction_logits"}


@pytest.mark.parametrize("cls", [BertForPreTraining, BertForMaskedLM])
def test_both_heads_pass_the_layer_harness(cls, tmp_path):
    config = BertConfig(**{**CONFIG.to_dict(), "hidden_dropout_prob": 0.1})
    check_layer(cls, {"config": config}, (_inputs(),), directory=tmp_path)
