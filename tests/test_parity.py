"""Parity with Hugging Face's BertModel, measured against its float64 run, on real and
transformers-made checkpoints; and proof that the report catches real bugs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hf_checkpoints import save_hf_checkpoint

from attention_lab.cli.main import main
from attention_lab.errors import AttentionLabError
from attention_lab.parity import read_texts, run_parities, run_parity
from attention_lab.parity.compare import TensorStats
from attention_lab.parity.report import ATTENTION_TOLERANCE, CRITERIA, HIDDEN_TOLERANCE

pytest.importorskip("torch")


def _assert_passed(report, layers):
    summary = report.to_dict()
    assert summary["passed"], report.format_table()
    assert len(summary["max_abs_diff"]["hidden_states"]) == layers
    assert summary["max_abs_diff"]["last_hidden_state"] <= HIDDEN_TOLERANCE
    assert summary["max_abs_diff"]["attentions"] <= ATTENTION_TOLERANCE
    # As exact as Hugging Face's own float32, tensor by tensor.
    float64_limits = {r["name"]: r["float64_limit"] for r in summary["rows"]}
    ours = summary["max_abs_error_vs_float64"]["ours"]
    assert ours["last_hidden_state"] <= float64_limits["last_hidden_state"]
    assert summary["max_padded_key_weight"] <= 1e-12
    return summary


def _variant(model, weights=None, **config):
    """A copy of ``model`` with some config values changed (and perhaps other weights)."""
    base = model.get_config()
    twin = type(model).from_config({**base, "config": {**base["config"], **config}})
    twin.build()
    twin.set_weights(weights or model.get_weights())
    return twin


@pytest.mark.parametrize("xla", [False, True], ids=["eager", "xla"])
def test_real_all_minilm_l6_v2(minilm_dir, xla):
    report = run_parity(minilm_dir, xla=xla)
    summary = _assert_passed(report, layers=6)
    assert summary["max_abs_diff"]["pooler_output"] <= HIDDEN_TOLERANCE
    # The batch is real text of different lengths plus a pair: padding is exercised, and
    # the padded positions are reported apart (pooled outputs have none).
    assert report.batch_shape[0] == 4 and report.batch_shape[1] > 20
    assert report.padded_tokens > 0
    assert summary["max_abs_diff_padded"]["last_hidden_state"] > 0
    assert summary["max_abs_diff_padded"]["pooler_output"] is None
    table = report.format_table()
    assert "|ours-f64|" in table and "as far from float64 as Hugging Face's own" in table


def _bert_base_cased_like(bert_base_cased_dir, directory, head=False):
    """A checkpoint with the exact bert-base-cased configuration, made by transformers."""
    import transformers

    hf_config = transformers.BertConfig.from_pretrained(bert_base_cased_dir).to_dict()
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "max_position_embeddings", "type_vocab_size")  # fmt: skip
    return save_hf_checkpoint(
        directory, head=head, vocab_dir=bert_base_cased_dir, **{k: hf_config[k] for k in keys}
    )


@pytest.fixture(scope="module")
def bert_base_cased_random(bert_base_cased_dir, tmp_path_factory):
    return _bert_base_cased_like(
        bert_base_cased_dir, tmp_path_factory.mktemp("bbc") / "bert-base-cased-random"
    )


@pytest.mark.slow
@pytest.mark.parametrize("xla", [False, True], ids=["eager", "xla"])
def test_bert_base_cased_architecture(bert_base_cased_random, xla):
    _assert_passed(run_parity(bert_base_cased_random, xla=xla), layers=12)


HEAD_ROWS = {
    "BertForPreTraining": ["pooler_output", "prediction_logits", "seq_relationship_logits"],
    "BertForMaskedLM": ["prediction_logits"],  # no pooler, no next-sentence head
}


def _assert_heads_passed(report, architecture, layers):
    """The pre-training heads' rows, named after transformers' outputs, within the rule."""
    summary = _assert_passed(report, layers)
    assert summary["architecture"] == architecture
    names = [row["name"] for row in summary["rows"]]
    assert names[names.index("last_hidden_state") + 1 :] == HEAD_ROWS[architecture]
    for name in (
        HEAD_ROWS[architecture][1:] if "pooler_output" in names else HEAD_ROWS[architecture]
    ):
        assert summary["max_abs_diff"][name] <= HIDDEN_TOLERANCE
    prediction = next(r for r in report.rows if r.name == "prediction_logits")
    assert prediction.kind == "sequence" and prediction.max_abs_diff_padded is not None
    assert f"transformers.{architecture}" in report.format_table()


@pytest.mark.parametrize("architecture", list(HEAD_ROWS))
def test_pretraining_heads(tmp_path, architecture):
    from tiny_runs import tiny_config, write_vocab

    path = save_hf_checkpoint(
        tmp_path / "hf",
        head=architecture,
        vocab_dir=write_vocab(tmp_path / "vocab"),  # real text of different lengths, a pair
        vocab_size=tiny_config().vocab_size,
        seed=9,
    )
    modes = (False, True) if architecture == "BertForPreTraining" else (False,)  # XLA too
    for report in run_parities(path, xla=modes):
        _assert_heads_passed(report, architecture, layers=2)


@pytest.mark.slow
def test_bert_base_cased_pretraining_heads_forward_and_gradients(bert_base_cased_dir, tmp_path):
    from attention_lab.parity.gradients import run_gradient_parity

    path = _bert_base_cased_like(bert_base_cased_dir, tmp_path / "bbc", "BertForPreTraining")
    _assert_heads_passed(run_parity(path), "BertForPreTraining", layers=12)
    report = run_gradient_parity(path)
    assert report.passed, report.format_table()
    # every parameter of transformers' BertForPreTraining, the tied decoder once:
    # 5 of the embeddings, 16 per block, 2 of the pooler, 5 of the MLM head, 2 of the NSP head
    assert len(report.rows) == 5 + 12 * 16 + 2 + 5 + 2


def test_sequence_classification_head(tmp_path):
    path = save_hf_checkpoint(tmp_path / "cls", head=True, num_labels=2, seed=3)
    summary = _assert_passed(run_parity(path), layers=2)
    assert summary["max_abs_diff"]["logits"] <= HIDDEN_TOLERANCE
    assert summary["max_abs_error_vs_float64"]["ours"]["logits"] <= 2e-5


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


def test_parity_detects_a_wrong_weight_in_a_saved_folder(tmp_path):
    from attention_lab.convert import load_bert, save_bert

    path = save_hf_checkpoint(tmp_path / "tiny", seed=7)
    model = load_bert(path).model
    beta = model.encoder_layers[0].output_LayerNorm.beta
    beta.assign(beta.numpy() + 0.01)
    out = save_bert(model, tmp_path / "ours")
    report = run_parity(path, ours=out)
    assert not report.passed
    assert report.first_failure == "hidden_states[1]"


def _perturbed_weight(model):
    """One weight of block 2's feed-forward layer moved by 1e-3."""
    twin = _variant(model)
    kernel = twin.encoder_layers[2].intermediate.kernel
    value = np.array(kernel.numpy())
    value[0, 0] += 1e-3
    kernel.assign(value)
    return twin


BUGS = {
    "one weight + 1e-3": (_perturbed_weight, "hidden_states[3]"),
    "LayerNorm eps 1e-5": (lambda m: _variant(m, layer_norm_eps=1e-5), "embeddings"),
    "tanh GELU": (lambda m: _variant(m, hidden_act="gelu_new"), "hidden_states[1]"),
}


@pytest.mark.slow
@pytest.mark.parametrize("bug", list(BUGS))
def test_the_report_catches_real_bugs(minilm_dir, bug):
    from attention_lab.convert import load_bert

    make, first = BUGS[bug]
    report = run_parity(minilm_dir, ours=make(load_bert(minilm_dir).model))
    assert not report.passed
    assert report.first_failure == first
    row = next(r for r in report.rows if r.name == first)
    # The float64 rule catches each of them too, by a wide margin.
    assert row.ours_vs_float64 > 4 * CRITERIA["float32"].float64_limit(row)
    assert f"FAILED: first tensor over tolerance: {first}" in report.format_table()


def _stats(ours, reference, float64, mask, name="hidden_states[1]"):
    row = TensorStats(name)
    row.update(ours, reference, float64, np.asarray(mask))
    return row


def test_padded_positions_are_reported_apart_and_never_fail():
    mask = [[1, 1, 0]]
    truth = np.zeros((1, 3, 2))
    ours = truth.copy()
    ours[0, 2] = 0.5  # a padded position far off
    row = _stats(ours, truth, truth, mask)
    assert row.max_abs_diff == 0 and row.max_abs_diff_padded == 0.5
    assert CRITERIA["float32"].failure(row) is None
    ours[0, 1] = 2e-4  # a real token off by more than the tolerance
    assert "tolerance" in CRITERIA["float32"].failure(_stats(ours, truth, truth, mask))


def test_ours_may_not_stray_further_from_float64_than_twice_the_reference():
    truth = np.zeros((1, 2, 2))
    reference = truth + 3e-5  # Hugging Face float32 off by 3e-5
    mask = [[1, 1]]
    assert CRITERIA["float32"].failure(_stats(truth + 5e-5, reference, truth, mask)) is None
    # Within 1e-4 of the reference, yet 2.2x as far from float64 as the reference is:
    failure = CRITERIA["float32"].failure(_stats(truth - 6.5e-5, reference, truth, mask))
    assert failure and "f64 limit" in failure


def test_padded_keys_must_get_no_weight():
    mask = [[1, 1, 0]]
    probs = np.zeros((1, 1, 3, 3))
    probs[0, 0, :, :2] = 0.5
    row = _stats(probs, probs, probs, mask, name="attentions[0]")
    assert row.padded_key_weight == 0 and CRITERIA["float32"].failure(row) is None
    leaky = probs.copy()
    leaky[0, 0, 0] = [0.5, 0.5 - 1e-9, 1e-9]  # a real query gives a padded key 1e-9
    row = _stats(leaky, leaky, leaky, mask, name="attentions[0]")
    assert "padded key" in CRITERIA["float32"].failure(row)


def test_read_texts(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("A single text.\n\nDon't be\tlured\n", encoding="utf-8")
    assert read_texts(path) == [("A single text.", None), ("Don't be", "lured")]
    path.write_text("one\ttwo\tthree\n", encoding="utf-8")
    with pytest.raises(AttentionLabError, match="line 1: 2 tabs"):
        read_texts(path)
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(AttentionLabError, match="no texts"):
        read_texts(path)


def test_cli_texts_and_max_length(bert_base_cased_dir, tmp_path, capsys):
    path = save_hf_checkpoint(
        tmp_path / "tiny", vocab_dir=bert_base_cased_dir, vocab_size=28996, seed=13
    )
    texts = tmp_path / "texts.txt"
    long = " ".join(["wooden acting"] * 30)  # about 60 tokens: over 40 positions
    texts.write_text(f"A masterpiece.\nDon't be\tlured\n{long}\n", encoding="utf-8")
    assert main(["parity", str(path), "--texts", str(texts)]) == 2
    assert "pass --max-length 40" in capsys.readouterr().err
    status = main(["parity", str(path), "--texts", str(texts), "--max-length", "40", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["passed"]
    assert summary["batch_shape"] == [3, 40] and summary["truncated"] == 1
    assert main(["parity", str(path), "--max-length", "41"]) == 2
    assert "max_position_embeddings (40)" in capsys.readouterr().err


def test_cli_json_and_exit_status(tmp_path, capsys):
    path = save_hf_checkpoint(tmp_path / "tiny", seed=11)
    assert main(["parity", str(path), "--json", "--xla"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["passed"] is True and summary["xla"] is True
    keys = {"last_hidden_state", "pooler_output", "attentions", "hidden_states"}
    assert keys <= set(summary["max_abs_diff"])
    assert keys <= set(summary["max_abs_diff_padded"])
    for side in ("ours", "reference"):
        assert keys <= set(summary["max_abs_error_vs_float64"][side])
    texts = tmp_path / "texts.txt"
    texts.write_text("A masterpiece.\n", encoding="utf-8")
    assert main(["parity", str(path), "--texts", str(texts)]) == 2  # no vocabulary to tokenize
    assert "no vocab.txt" in capsys.readouterr().err
    assert main(["parity", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err


@pytest.mark.slow
def test_bfloat16_against_autocast_and_float64(minilm_dir, capsys):
    assert main(["parity", str(minilm_dir), "--precision", "bfloat16", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["passed"] and summary["precision"] == "bfloat16"
    # bfloat16 really ran: both sides are far outside float32 parity.
    assert summary["max_abs_diff"]["last_hidden_state"] > 1e-3
    assert summary["max_abs_error_vs_float64"]["reference"]["last_hidden_state"] > 1e-3
