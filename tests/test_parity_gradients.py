"""Parity of gradients with Hugging Face (issue 31): one backward pass of the head's loss,
every weight's gradient against transformers' float32 and float64, one AdamW step of the
classifier; and proof that a gradient wrong on purpose fails at the weight it touches."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hf_checkpoints import save_hf_checkpoint

from attention_lab.cli.main import main
from attention_lab.parity import gradients
from attention_lab.parity.gradients import (
    FLOAT64_FLOOR,
    TOLERANCE,
    run_gradient_parity,
)

pytest.importorskip("torch")

WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from tiny_runs import tiny_config, write_vocab

    root = tmp_path_factory.mktemp("gradients")
    vocab = write_vocab(root / "vocab")  # real text, a real [MASK]
    size = tiny_config().vocab_size
    return {
        "pretraining": save_hf_checkpoint(
            root / "pretraining", head="BertForPreTraining", vocab_dir=vocab, vocab_size=size
        ),
        "masked-lm": save_hf_checkpoint(root / "masked-lm", head="BertForMaskedLM", seed=4),
        "classifier": save_hf_checkpoint(root / "classifier", head=True, num_labels=3, seed=5),
    }


def _hf_parameter_names(path, architecture):
    import transformers

    model = getattr(transformers, architecture).from_pretrained(str(path))
    return [name for name, _ in model.named_parameters()]


def _failures(report) -> list[str]:
    summary = report.to_dict()
    return [r["name"] for r in summary["rows"] + summary["adamw_rows"] if not r["passed"]]


@pytest.mark.parametrize(
    ("name", "architecture"),
    [
        ("pretraining", "BertForPreTraining"),
        ("masked-lm", "BertForMaskedLM"),
        ("classifier", "BertForSequenceClassification"),
    ],
)
def test_every_gradient_passes_named_by_hugging_face(checkpoints, name, architecture):
    report = run_gradient_parity(checkpoints[name])
    assert report.passed, report.format_table()
    assert report.architecture == architecture
    # One row per parameter of transformers' model, in its order: the tied decoder has none.
    names = [row.name for row in report.rows]
    assert names == _hf_parameter_names(checkpoints[name], architecture)
    assert "cls.predictions.decoder.weight" not in names
    assert report.loss["ours"] == pytest.approx(report.loss["float64"], rel=1e-5)
    for row in report.rows:  # as exact as Hugging Face's float32, weight by weight
        assert row.max_abs_diff <= TOLERANCE * report.scale(row)
        assert row.ours_vs_float64 <= max(
            2 * row.reference_vs_float64, FLOAT64_FLOOR * report.scale(row)
        )
    if name == "classifier":  # one AdamW step: every weight moved, as PyTorch's AdamW moves it
        assert [row.name for row in report.adamw_rows] == names
        assert min(row.max_abs for row in report.adamw_rows) > 0
    else:
        assert report.adamw_rows == []
        word = next(row for row in report.rows if row.name == WORD_EMBEDDINGS)
        assert word.max_abs > 0.01  # the decoder's share: every row of the table


def test_an_untied_decoder_fails_at_the_word_embeddings(checkpoints, monkeypatch):
    """The decoder as a copy of the word embeddings, not the table itself: the table's
    gradient loses the decoder's share, and only that gradient is wrong."""
    from keras import ops

    from attention_lab.models.bert_pretraining import BertLMPredictionHead

    tied = BertLMPredictionHead.call

    def untied(self, sequence_output, word_embeddings):
        return tied(self, sequence_output, ops.stop_gradient(word_embeddings))

    monkeypatch.setattr(BertLMPredictionHead, "call", untied)
    report = run_gradient_parity(checkpoints["pretraining"])
    assert not report.passed
    assert report.first_failure == WORD_EMBEDDINGS
    assert _failures(report) == [WORD_EMBEDDINGS]
    assert f"FAILED: first weight over tolerance: {WORD_EMBEDDINGS}" in report.format_table()


def test_a_layernorm_gradient_scaled_by_1_001_fails_there(checkpoints, monkeypatch):
    target = "bert.encoder.layer.1.output.LayerNorm.weight"
    right = gradients.our_gradients

    def wrong(model, inputs, labels):
        loss, grads = right(model, inputs, labels)
        return loss, {**grads, target: grads[target] * np.float32(1.001)}

    monkeypatch.setattr(gradients, "our_gradients", wrong)
    report = run_gradient_parity(checkpoints["pretraining"])
    assert _failures(report) == [target], report.format_table()
    row = next(row for row in report.rows if row.name == target)
    assert row.max_abs_diff > 5 * report.tolerance(row)  # caught by a wide margin


def test_cli_gradients_json_and_refusals(checkpoints, tmp_path, capsys):
    assert main(["parity", str(checkpoints["masked-lm"]), "--gradients", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["passed"] and summary["gradients"] and summary["backend"] == "tensorflow"
    assert summary["architecture"] == "BertForMaskedLM"
    assert all(row["passed"] for row in summary["rows"])
    assert main(["parity", str(checkpoints["masked-lm"]), "--gradients", "--xla"]) == 2
    assert "drop --xla" in capsys.readouterr().err
    encoder = save_hf_checkpoint(tmp_path / "encoder", seed=2)
    capsys.readouterr()  # transformers' progress bars
    assert main(["parity", str(encoder), "--gradients"]) == 2
    err = capsys.readouterr().err
    assert "needs a head with a loss" in err and len(err.strip().splitlines()) == 1
