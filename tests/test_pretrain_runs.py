"""Pre-training runs (issue 34): the masked-LM loss falls, an interrupted run resumes to the same
bytes, the folder fine-tunes and fills masks, a checkpoint keeps its encoder, bad input is
refused in one line; the transfer study's statistics on numbers given to it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from cli_faults import assert_refused, run_cli
from glove_imdb_data import write_tiny_imdb_archive
from tiny_runs import WORDS, tiny_config, write_vocab

from attention_lab.training import run_folder
from attention_lab.training.fit import TrainingConfig
from attention_lab.training.pretrain import (
    PretrainSettings,
    build_model,
    fresh_config,
    pretrain,
)

ARCHITECTURE = dict(layers=1, hidden=16, heads=2, intermediate=32, max_positions=32)
# 200 texts: 180 train 360 windows of 16 tokens, 20 held out; 40 steps of 16, evaluated every 10
SETTINGS = dict(steps=40, eval_every=10, max_len=16, holdout=20)
TRAINING = dict(batch_size=16, learning_rate=3e-3, seed=3)


def _corpus(folder: Path) -> Path:
    """Texts whose words repeat in a pattern a tiny model learns in a few dozen steps."""
    lines = [
        " ".join(["the movie was", WORDS[8 + i % 6], "and the plot is", WORDS[8 + i % 6]] * 3)
        for i in range(200)
    ]
    (folder / "corpus.txt").write_text("\n".join(lines) + "\n")
    return folder / "corpus.txt"


def _pretrain(folder: Path, out: str, callbacks=(), **settings):
    vocab = write_vocab(folder / "vocab")
    return pretrain(
        folder / out,
        data=_corpus(folder),
        vocab=vocab,
        config=fresh_config(len((vocab / "vocab.txt").read_text().split()), **ARCHITECTURE),
        settings=PretrainSettings(**{**SETTINGS, **settings}),
        training=TrainingConfig(**TRAINING, checkpoint_every=4),
        precision="float32",
        xla="off",
        progress=False,
        callbacks=callbacks,
    )


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("pretrain")
    return folder, _pretrain(folder, "run")


def test_the_masked_lm_loss_falls_and_the_budget_is_stated(pretrained):
    folder, record = pretrained
    history = record["result"]["history"]
    assert len(history) == 4 and record["result"]["steps"] == 40
    assert history[-1]["loss"] < 0.85 * history[0]["loss"]
    assert history[-1]["val_loss"] < 0.85 * history[0]["val_loss"]
    accuracy = record["result"]["held_out_mlm_accuracy"]
    assert accuracy == [h["val_accuracy"] for h in history] and all(0 < a < 1 for a in accuracy)
    assert record["budget"]["token_positions"] == 40 * 16 * 16
    assert record["budget"]["sequences"] == 640
    assert record["corpus"]["held_out_texts"] == 20 and record["corpus"]["texts"] == 180
    assert record["choices"]["untrained"] == ["cls.seq_relationship", "bert.pooler"]
    assert not (folder / "run" / "checkpoints").exists()  # removed once complete


def _interrupt_at(step: int):
    """A callback that interrupts training (as Ctrl-C would) after the ``step``-th batch."""
    steps = itertools.count(1)

    def interrupt(batch, logs=None):
        if next(steps) == step:
            raise KeyboardInterrupt

    return keras.callbacks.LambdaCallback(on_train_batch_end=interrupt)


def test_a_run_interrupted_at_a_step_resumes_to_byte_identical_weights(pretrained, tmp_path):
    reference, _ = pretrained
    with pytest.raises(KeyboardInterrupt):  # step 14, in the second evaluation period
        _pretrain(tmp_path, "run", callbacks=[_interrupt_at(14)])
    state = json.loads((tmp_path / "run" / "checkpoints" / "state.json").read_text())
    assert state["step"] == 12 and len(state["history"]) == 1  # the backup of step 12
    assert run_folder.read_run(tmp_path / "run")["status"] == "training"
    resumed = _pretrain(tmp_path, "run")
    theirs = json.loads((reference / "run" / "run.json").read_text())
    assert resumed["result"]["steps"] == 40
    mine = (tmp_path / "run" / "model.safetensors").read_bytes()
    assert mine == (reference / "run" / "model.safetensors").read_bytes()
    np.testing.assert_allclose(
        resumed["result"]["held_out_mlm_accuracy"], theirs["result"]["held_out_mlm_accuracy"]
    )


def test_the_folder_fine_tunes_from_its_encoder_and_fills_masks(pretrained):
    from attention_lab.convert import load_bert
    from attention_lab.training.finetune import finetune

    folder, _ = pretrained
    code, out, _ = run_cli("fill-mask", folder / "run", "the movie was [MASK]", "--top-k", "2")
    assert code == 0 and len(out.strip().splitlines()) == 2
    classifier = run_folder.load_model(folder / "run", head="prebuilt", num_labels=2).model
    encoder = load_bert(folder / "run").model.bert
    for mine, theirs in zip(classifier.bert.weights, encoder.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    archive = write_tiny_imdb_archive(folder / "imdb.tar.gz", per_folder=10)
    record = finetune(
        folder / "run",
        "prebuilt",
        folder / "finetuned",
        TrainingConfig(epochs=1, batch_size=8),
        data=archive,
        max_len=16,
        precision="float32",
        progress=False,
    )
    assert record["status"] == "complete" and record["source"] == str(folder / "run")
    assert record["result"]["steps"] == 2  # 20 of the 40 reviews after the 80/20 split


def _encoder_folder(folder: Path) -> Path:
    """A BERT folder with an encoder and pooler but no pre-training head (as all-MiniLM-L6-v2)."""
    from attention_lab.convert import save_bert
    from attention_lab.models.bert import BertModel

    model = BertModel(tiny_config(num_hidden_layers=1))
    model.build()
    return save_bert(model, folder / "encoder", write_vocab(folder / "vocab"))


def test_a_checkpoint_keeps_its_encoder_and_its_missing_head_starts_fresh(tmp_path):
    from attention_lab.convert import load_bert
    from attention_lab.runtime import choose_plan

    source = _encoder_folder(tmp_path)
    model, _, starts = build_model(source, None, choose_plan("float32", "off"))
    assert "fresh" in starts["heads"] and "no masked-LM head" in starts["heads"]
    original = load_bert(source, implementation=model.implementation).encoder
    for mine, theirs in zip(model.bert.weights, original.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    assert not np.asarray(model.predictions.bias).any()  # the fresh head's bias: zeros


def _cli(folder: Path, *extra: str):
    vocab = write_vocab(folder / "vocab")
    corpus = _corpus(folder)
    base = ["pretrain", "--vocab", vocab, "--data", corpus, "--out", folder / "out"]
    small = ["--layers", "1", "--hidden", "16", "--heads", "2", "--max-len", "16"]
    return run_cli(*base, *small, *extra)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--mask-rate", "0"], ["--mask-rate", "(0, 1)"]),
        (["--mask-rate", "1.5"], ["--mask-rate", "(0, 1)"]),
        (["--heads", "3"], ["3 attention heads do not divide hidden size 16", "--heads 2"]),
        (["--steps", "25", "--eval-every", "10"], ["--steps 30"]),
        (["--holdout", "200"], ["--holdout 200 leaves nothing"]),
    ],
)
def test_bad_settings_are_refused_in_one_line_and_write_nothing(tmp_path, extra, words):
    assert_refused(_cli(tmp_path, *extra), *words)
    assert not (tmp_path / "out").exists()


def test_an_empty_corpus_and_a_fixed_architecture_are_refused(tmp_path):
    (tmp_path / "empty.txt").write_text("\n  \n")
    vocab = write_vocab(tmp_path / "vocab")
    refused = run_cli(
        "pretrain", "--vocab", vocab, "--data", tmp_path / "empty.txt", "--out", tmp_path / "o",
        "--layers", "1", "--hidden", "16", "--heads", "2", "--max-len", "16",
    )  # fmt: skip
    assert_refused(refused, "no text to pre-train on")
    assert not (tmp_path / "o").exists()
    checkpoint = _encoder_folder(tmp_path)
    refused = run_cli("pretrain", "--model", checkpoint, "--layers", "2", "--out", tmp_path / "o")
    assert_refused(refused, "--model keeps the checkpoint's architecture", "--layers")


def test_next_sentence_prediction_adds_its_loss_on_sentence_pairs(tmp_path):
    from attention_lab.models.bert_pretraining import BertForPreTraining
    from attention_lab.tokenization import BertTokenizer
    from attention_lab.training.pretrain import PreTrainer, mask_batch, sentence_pairs
    from attention_lab.training.pretraining import IS_NEXT, NOT_NEXT, masked_lm_loss

    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path))
    texts = [f"the movie was {w}. the plot is fun! the actor was bad." for w in WORDS[8:14]]
    pairs = sentence_pairs(tokenizer, texts, 16, seed=0)
    assert len(pairs) == 6 * 2  # two pairs per three-sentence text
    assert set(pairs.labels) <= {IS_NEXT, NOT_NEXT}
    assert (pairs.features["token_type_ids"].max(axis=1) == 1).all()  # [CLS] A [SEP] B [SEP]
    x, y = mask_batch(tokenizer, pairs.features, pairs.labels, np.random.default_rng(0), 0.15,
                      nsp=True)  # fmt: skip
    model = BertForPreTraining(tiny_config())
    model.build()
    trainer = PreTrainer(model, nsp=True)
    out = trainer(x)
    logits = np.asarray(out["seq_relationship_logits"], np.float64)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nsp = -log_p[np.arange(len(logits)), y["nsp"]].mean()
    expected = float(masked_lm_loss(y["mlm"], out["prediction_logits"])) + nsp
    assert float(trainer.compute_loss(x, y, out)) == pytest.approx(expected, rel=1e-5)
    names = {m.name for m in trainer.metrics}
    assert {"accuracy", "nsp_accuracy"} <= names


def test_the_mlm_head_runs_at_the_masked_positions_only(tmp_path):
    from attention_lab.models.bert_pretraining import BertForPreTraining
    from attention_lab.tokenization import BertTokenizer
    from attention_lab.training.pretrain import PreTrainer, mask_batch, max_predictions
    from attention_lab.training.pretraining import IGNORE

    assert max_predictions(128, 0.15) == 36 and max_predictions(4, 0.5) == 4
    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path))
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 30, (6, 16)).astype(np.int32)
    ids[:, 0], ids[:, -1], ids[0, 10:] = 2, 3, 0  # [CLS] … [SEP], padding in row 0
    features = {"input_ids": ids, "attention_mask": (ids != 0) * 1, "token_type_ids": 0 * ids}
    args = (tokenizer, features, None, np.random.default_rng(1), 0.5, False)
    inputs, labels = mask_batch(*args, slots=5)  # half the tokens chosen: some rows overflow
    positions, mlm = inputs["masked_positions"], labels["mlm"]
    assert positions.shape == mlm.shape == (6, 5)
    changed = inputs["input_ids"] != ids
    for row in range(6):
        kept = positions[row][mlm[row] != IGNORE]
        np.testing.assert_array_equal(mlm[row][mlm[row] != IGNORE], ids[row, kept])
        assert set(np.flatnonzero(changed[row])) <= set(kept)  # the rest restored
        assert (positions[row][mlm[row] == IGNORE] == 0).all()
    assert (mlm != IGNORE).sum(axis=1).max() == 5  # an overflowing row keeps 5
    model = BertForPreTraining(tiny_config())
    model.build()
    inputs, labels = mask_batch(*args)
    ours = PreTrainer(model)(inputs)["prediction_logits"]
    full = model({k: v for k, v in inputs.items() if k != "masked_positions"})
    expected = np.take_along_axis(
        np.asarray(full["prediction_logits"]), inputs["masked_positions"][..., None], axis=1
    )
    np.testing.assert_allclose(np.asarray(ours), expected, atol=1e-5)
