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


# --- the heads read from and written to Hugging Face folders --------------------------------


def _hf_pretraining(directory, cls_name: str, vocab_dir=None, seed: int = 0):
    """A checkpoint ``transformers`` creates (random weights) for ``BertForPreTraining`` or
    ``BertForMaskedLM``, saved with ``save_pretrained`` (the tied decoder left out)."""
    import torch
    import transformers
    from tiny_runs import tiny_config

    torch.manual_seed(seed)
    config = transformers.BertConfig(**{**tiny_config().to_dict(), "num_labels": 2})
    model = getattr(transformers, cls_name)(config).eval()
    model.save_pretrained(directory)
    if vocab_dir is not None:
        (directory / "vocab.txt").write_text((vocab_dir / "vocab.txt").read_text())
    return directory, model


def _theirs(model, batch):
    import torch

    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v.astype(np.int64)) for k, v in batch.items()})
    logits = out.prediction_logits if hasattr(out, "prediction_logits") else out.logits
    seq = getattr(out, "seq_relationship_logits", None)
    return logits.numpy(), None if seq is None else seq.numpy()


@pytest.mark.parametrize(
    ("cls_name", "head"), [("BertForPreTraining", "pretraining"), ("BertForMaskedLM", "masked-lm")]
)
def test_both_heads_load_compute_and_save_as_hugging_face_does(tmp_path, cls_name, head):
    pytest.importorskip("torch")
    import transformers
    from tiny_runs import tiny_config

    from attention_lab.convert import load_bert, save_bert

    source, theirs = _hf_pretraining(tmp_path / "hf", cls_name)
    loaded = load_bert(source)
    assert loaded.head == head
    rng = np.random.default_rng(5)
    ids = rng.integers(5, tiny_config().vocab_size, (2, 7)).astype(np.int32)
    batch = {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": 1 + 0 * ids}
    ours = loaded.model(batch)
    logits, seq = _theirs(theirs, batch)
    np.testing.assert_allclose(ours["prediction_logits"], logits, atol=1e-4)
    if seq is not None:
        np.testing.assert_allclose(ours["seq_relationship_logits"], seq, atol=1e-4)
    again = getattr(transformers, cls_name).from_pretrained(
        save_bert(loaded.model, tmp_path / "ours")
    )
    np.testing.assert_allclose(_theirs(again.eval(), batch)[0], logits, atol=1e-4)


def test_an_untied_decoder_and_a_missing_head_are_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    from attention_lab.convert import load_bert
    from attention_lab.errors import CheckpointError

    source, _ = _hf_pretraining(tmp_path / "hf", "BertForMaskedLM")
    state = load_file(str(source / "model.safetensors"))
    decoder = state["bert.embeddings.word_embeddings.weight"] + 1.0
    save_file(
        {**state, "cls.predictions.decoder.weight": decoder}, str(source / "model.safetensors")
    )
    with pytest.raises(CheckpointError, match="decoder.weight differs .* tied"):
        load_bert(source)
    with pytest.raises(CheckpointError, match="holds no pre-training head"):
        load_bert(_hf_pretraining(tmp_path / "encoder", "BertModel")[0], head="pretraining")


def test_fill_mask_ranks_as_the_transformers_pipeline_does(tmp_path):
    pytest.importorskip("torch")
    import transformers
    from tiny_runs import write_vocab

    from attention_lab.convert import load_bert
    from attention_lab.training.pretraining import fill_mask

    source, theirs = _hf_pretraining(tmp_path / "hf", "BertForMaskedLM", write_vocab(tmp_path))
    text = "the movie was [MASK] and the plot [MASK]"
    pipeline = transformers.pipeline(
        "fill-mask",
        model=theirs,
        tokenizer=transformers.BertTokenizerFast(str(source / "vocab.txt")),
        top_k=4,
    )
    expected = pipeline(text)
    loaded = load_bert(source)
    ours = fill_mask(loaded.model, loaded.tokenizer(), text, top_k=4)
    assert len(ours) == len(expected) == 2
    for mine, reference in zip(ours, expected, strict=True):
        assert [row["token"] for row in mine] == [row["token"] for row in reference]
        np.testing.assert_allclose(
            [row["score"] for row in mine], [row["score"] for row in reference], rtol=1e-4
        )
        assert [row["token_str"] for row in mine] == [row["token_str"] for row in reference]


def test_fill_mask_refuses_in_one_line(tmp_path, minilm_dir):
    from cli_faults import assert_refused, run_cli
    from tiny_runs import write_vocab

    source, _ = _hf_pretraining(tmp_path / "hf", "BertForMaskedLM", write_vocab(tmp_path))
    assert_refused(run_cli("fill-mask", source, "no mask here"), "no [MASK]")
    assert_refused(run_cli("fill-mask", minilm_dir, "a [MASK] film"), "no masked-LM head")
    code, out, _ = run_cli("fill-mask", source, "the movie was [MASK]", "--top-k", "3")
    assert code == 0 and len(out.strip().splitlines()) == 3


def test_batches_are_masked_anew_each_epoch_and_alike_in_every_process(tmp_path):
    from tiny_runs import write_vocab

    from attention_lab.tokenization import BertTokenizer
    from attention_lab.training.pretraining import MaskedBatches

    ids, special = _batch(rows=10, length=32)
    ids = ids % 40 + 5  # within the tiny vocabulary
    features = {
        "input_ids": ids,
        "attention_mask": 1 - special,
        "token_type_ids": 0 * ids,
        "special_tokens_mask": special,
    }
    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path))
    batches = MaskedBatches(features, tokenizer, batch_size=4, seed=7)
    assert batches.num_batches == 3
    inputs, labels = batches[0]
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}
    assert (labels["prediction_logits"] != IGNORE).any()
    again = MaskedBatches(features, tokenizer, batch_size=4, seed=7)[0]  # another "process"
    np.testing.assert_array_equal(again[0]["input_ids"], inputs["input_ids"])
    batches.on_epoch_end()
    assert not np.array_equal(batches[0][1]["prediction_logits"], labels["prediction_logits"])
    with pytest.raises(AttentionLabError, match="no text"):
        MaskedBatches({k: v[:0] for k, v in features.items()}, tokenizer, batch_size=4)


# --- the data streamed: sentence pairs and masks through tf.data ------------------------------


def _documents(count: int, seed: int = 0) -> list[list[str]]:
    """Documents of 4 to 9 sentences of 3 to 8 words from the tiny vocabulary; a third of the
    words glue two of its words together, which WordPiece splits into ``w ##w``."""
    from tiny_runs import WORDS

    rng = np.random.default_rng(seed)

    def word():
        first, second = rng.choice(WORDS, 2)
        return first + second if rng.random() < 1 / 3 else first

    return [
        [" ".join(word() for _ in range(rng.integers(3, 9))) for _ in range(rng.integers(4, 10))]
        for _ in range(count)
    ]


def _tokenizer(tmp_path):
    from tiny_runs import write_vocab

    from attention_lab.tokenization import BertTokenizer

    return BertTokenizer.from_pretrained(write_vocab(tmp_path / "vocab"))


def test_pretraining_batches_streamed_through_tf_data_hold_bert_proportions(tmp_path):
    """One epoch of pairs from 1,500 documents, read through ``tf.data``. Each proportion is
    compared with its binomial expectation within 5 standard errors, a bound a correct sampler
    exceeds about once in 1.7 million runs (a two-sided normal tail): 50% IsNext of about
    8,300 pairs (±2.7 points), 15% of about 100,000 maskable tokens (±0.6 points), then 80% /
    10% / 10% of the about 15,000 chosen (±1.6 / ±1.2 / ±1.2 points). A random replacement
    may draw the original token (1 in ``vocab_size``), which then counts as kept: the
    expectations are 0.1 − 0.1/V and 0.1 + 0.1/V."""
    import tensorflow as tf

    from attention_lab.training.pretraining import PreTrainingBatches, stream, tf_dataset

    tokenizer = _tokenizer(tmp_path)
    batches = PreTrainingBatches(_documents(1_500), tokenizer, batch_size=512, max_length=40)
    dataset = stream(batches)
    assert isinstance(dataset, tf.data.Dataset)
    streamed = list(dataset.as_numpy_iterator())
    assert batches.epoch == 0  # the first pass draws epoch 0; the next pass moves it on
    masked = np.concatenate([inputs["input_ids"] for inputs, _ in streamed])
    mlm = np.concatenate([labels["prediction_logits"] for _, labels in streamed])
    nsp = np.concatenate([labels["seq_relationship_logits"] for _, labels in streamed])
    batches.epoch = 0  # the originals: epoch 0's pairs, encoded without masks
    pairs = batches.pairs()
    original = tokenizer.encode_batch(
        [a for a, _, _ in pairs],
        max_length=40,
        padding="max_length",
        text_pairs=[b for _, b, _ in pairs],
    )["input_ids"]
    n = len(nsp)
    assert n == len(original) > 8_000
    np.testing.assert_array_equal(nsp, [label for _, _, label in pairs])
    assert abs((nsp == IS_NEXT).mean() - 0.5) < 5 * _sigma(0.5, n)
    chosen = mlm != IGNORE
    specials = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]
    maskable = ~np.isin(original, specials)
    assert not chosen[~maskable].any()  # never [CLS], [SEP] or padding
    allowed = int(maskable.sum())
    assert abs(chosen.sum() / allowed - 0.15) < 5 * _sigma(0.15, allowed)
    np.testing.assert_array_equal(mlm[chosen], original[chosen])
    k, v = int(chosen.sum()), tokenizer.vocab_size
    as_mask = (masked[chosen] == tokenizer.mask_token_id).mean()
    kept = (masked[chosen] == original[chosen]).mean()
    shares = ((as_mask, 0.8), (kept, 0.1 + 0.1 / v), (1 - as_mask - kept, 0.1 - 0.1 / v))
    for share, expected in shares:
        assert abs(share - expected) < 5 * _sigma(expected, k)
    # Seeded: a new instance streams the same first batch; the next epoch draws anew.
    fresh = PreTrainingBatches(_documents(1_500), tokenizer, batch_size=512, max_length=40)
    first = next(tf_dataset(fresh).as_numpy_iterator())
    np.testing.assert_array_equal(first[0]["input_ids"], masked[:512])
    batches.epoch = 1
    second = next(tf_dataset(batches).as_numpy_iterator())
    assert not np.array_equal(second[1]["seq_relationship_logits"], nsp[:512])


def test_whole_word_masking_of_streamed_batches(tmp_path):
    """Whole words chosen: every piece of a chosen word, and about 15% of the words, within 5
    binomial standard errors (±0.6 points of about 95,000 words)."""
    from attention_lab.training.pretraining import PreTrainingBatches, tf_dataset, word_starts

    tokenizer = _tokenizer(tmp_path)
    batches = PreTrainingBatches(
        _documents(1_500, seed=1), tokenizer, batch_size=512, max_length=40, whole_words=True
    )
    streamed = list(tf_dataset(batches).as_numpy_iterator())
    mlm = np.concatenate([labels["prediction_logits"] for _, labels in streamed])
    batches.epoch = 0
    pairs = batches.pairs()
    ids = tokenizer.encode_batch(
        [a for a, _, _ in pairs], max_length=40, padding="max_length",
        text_pairs=[b for _, b, _ in pairs],
    )["input_ids"]  # fmt: skip
    starts = word_starts(ids, tokenizer)
    assert (~starts).sum() > 10_000  # many words of two pieces
    chosen = mlm != IGNORE
    word = np.cumsum(starts, axis=1)  # a word's number within its row
    first_of_chosen = chosen & starts
    # a piece is chosen exactly when the first piece of its word is
    owner = np.take_along_axis(first_of_chosen, np.maximum.accumulate(
        np.where(starts, np.arange(ids.shape[1]), 0), axis=1), axis=1)  # fmt: skip
    np.testing.assert_array_equal(chosen, owner)
    assert word.max() > 0
    maskable = ~np.isin(ids, [tokenizer.cls_token_id, tokenizer.sep_token_id, 0])
    words = int((starts & maskable).sum())
    share = first_of_chosen.sum() / words
    assert abs(share - 0.15) < 5 * _sigma(0.15, words)


def test_bad_pretraining_data_is_refused(tmp_path):
    from attention_lab.training.pretraining import MaskedBatches, PreTrainingBatches

    tokenizer = _tokenizer(tmp_path)
    with pytest.raises(AttentionLabError, match="no text to pre-train on"):
        PreTrainingBatches([["  "], [], ["one sentence only"]], tokenizer, batch_size=4)
    with pytest.raises(AttentionLabError, match=r"must lie in \(0, 1\)"):
        PreTrainingBatches(_documents(3), tokenizer, batch_size=4, rate=1.5)
    ids, special = _batch(rows=4, length=8)
    features = {"input_ids": ids % 40, "special_tokens_mask": special}
    with pytest.raises(AttentionLabError, match=r"must lie in \(0, 1\)"):
        MaskedBatches(features, tokenizer, batch_size=2, rate=0.0)


@pytest.mark.slow
def test_fit_reads_the_tf_data_stream(tmp_path):
    from tiny_runs import tiny_config

    from attention_lab.training.pretraining import PreTrainingBatches, stream

    tokenizer = _tokenizer(tmp_path)
    batches = PreTrainingBatches(_documents(40), tokenizer, batch_size=16, max_length=24)
    model = BertForPreTraining(tiny_config())
    model.build()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={
            "prediction_logits": masked_lm_loss,
            "seq_relationship_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
    )
    history = model.fit(stream(batches), epochs=2, verbose=0)
    assert batches.epoch == 1 and len(history.history["loss"]) == 2  # epochs 0 and 1 drawn
    assert np.isfinite(history.history["loss"]).all()
