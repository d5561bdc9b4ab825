"""Parity with Hugging Face's BertModel on real and transformers-made checkpoints."""

from __future__ import annotations

import json

import pytest
from hf_checkpoints import save_hf_checkpoint

from attention_lab.cli.main import main
from attention_lab.parity import run_parity
from attention_lab.parity.report import ATTENTION_TOLERANCE, HIDDEN_TOLERANCE

pytest.importorskip("torch")


def _assert_passed(report, layers):
    summary = report.to_dict()
    assert summary["passed"], report.format_table()
    assert len(summary["max_abs_diff"]["hidden_states"]) == layers
    assert summary["max_abs_diff"]["last_hidden_state"] <= HIDDEN_TOLERANCE
    assert summary["max_abs_diff"]["attentions"] <= ATTENTION_TOLERANCE
    return summary


@pytest.mark.parametrize("xla", [False, True], ids=["eager", "xla"])
def test_real_all_minilm_l6_v2(minilm_dir, xla):
    report = run_parity(minilm_dir, xla=xla)
    summary = _assert_passed(report, layers=6)
    assert summary["max_abs_diff"]["pooler_output"] <= HIDDEN_TOLERANCE
    # The batch is real text of different lengths plus a pair: padding is exercised.
    assert report.batch_shape[0] == 4 and report.batch_shape[1] > 20


@pytest.mark.slow
@pytest.mark.parametrize("xla", [False, True], ids=["eager", "xla"])
def test_bert_base_cased_architecture(bert_base_cased_dir, tmp_path_factory, xla):
    import transformers

    hf_config = transformers.BertConfig.from_pretrained(bert_base_cased_dir).to_dict()
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "max_position_embeddings", "type_vocab_size")  # fmt: skip
    path = save_hf_checkpoint(
        tmp_path_factory.mktemp("bbc") / "bert-base-cased-random",
        vocab_dir=bert_base_cased_dir,
        **{k: hf_config[k] for k in keys},
    )
    _assert_passed(run_parity(path, xla=xla), layers=12)


def test_sequence_classification_head(tmp_path):
    path = save_hf_checkpoint(tmp_path / "cls", head=True, num_labels=2, seed=3)
    summary = _assert_passed(run_parity(path), layers=2)
    assert summary["max_abs_diff"]["logits"] <= HIDDEN_TOLERANCE


def test_other_configurations_are_read_from_config(tmp_path):
    path = save_hf_checkpoint(
        tmp_path / "odd",
        hidden_size=48,
        num_attention_heads=3,
        num_hidden_layers=3,
        intermediate_size=80,
        type_vocab_size=3,
        layer_norm_eps=1e-7,
        hidden_act="gelu_new",
        seed=5,
    )
    _assert_passed(run_parity(path, xla=True), layers=3)


def test_parity_detects_a_wrong_weight(tmp_path):
    from attention_lab.convert import convert_checkpoint, load_converted

    path = save_hf_checkpoint(tmp_path / "tiny", seed=7)
    out = convert_checkpoint(path, tmp_path / "ours")
    model, _ = load_converted(out)
    beta = model.encoder_layers[0].output_LayerNorm.beta
    beta.assign(beta.numpy() + 0.01)
    model.save_weights(out / "model.weights.h5")
    report = run_parity(path, ours=out)
    assert not report.passed
    assert report.first_failure == "hidden_states[1]"


def test_cli_json_and_exit_status(tmp_path, capsys):
    path = save_hf_checkpoint(tmp_path / "tiny", seed=11)
    assert main(["parity", str(path), "--json", "--xla"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["passed"] is True and summary["xla"] is True
    assert {"last_hidden_state", "pooler_output", "attentions", "hidden_states"} <= set(
        summary["max_abs_diff"]
    )
    assert main(["parity", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
