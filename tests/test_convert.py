"""The Hugging Face converter: every tensor accounted for, clear errors, atomic output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hf_checkpoints import save_hf_checkpoint

from attention_lab.convert import (
    convert_checkpoint,
    load_converted,
    load_hf_checkpoint,
    read_state_dict,
    resolve_model_dir,
)
from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.models.bert import BertModel
from attention_lab.models.classifier import BertForSequenceClassification

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_hf_checkpoint(tmp_path_factory.mktemp("hf") / "tiny")


def _forward(model, seed=0):
    ids = np.random.default_rng(seed).integers(0, 120, size=(2, 9)).astype(np.int32)
    out = model({"input_ids": ids})
    return np.asarray(out if not isinstance(out, dict) else out["sequence_output"])


def _rewrite_safetensors(src, dst, edit):
    from safetensors.numpy import save_file

    dst.mkdir()
    (dst / "config.json").write_text((src / "config.json").read_text())
    state = read_state_dict(src)
    edit(state)
    save_file(state, str(dst / "model.safetensors"))
    return dst


def test_every_tensor_is_loaded_and_values_are_copied(tiny_dir):
    model, config, report = load_hf_checkpoint(tiny_dir)
    state = read_state_dict(tiny_dir)
    assert isinstance(model, BertModel) and config.hidden_size == 32
    assert sorted(report.loaded + report.skipped) == sorted(state)
    np.testing.assert_array_equal(
        model.encoder_layers[1].attention.query.kernel.numpy(),
        state["encoder.layer.1.attention.self.query.weight"].T,
    )
    np.testing.assert_array_equal(
        model.embeddings.LayerNorm.gamma.numpy(), state["embeddings.LayerNorm.weight"]
    )


def test_classifier_checkpoint_with_bert_prefix(tmp_path):
    path = save_hf_checkpoint(tmp_path / "cls", head=True, num_labels=3)
    model, config, report = load_hf_checkpoint(path)
    assert isinstance(model, BertForSequenceClassification)
    assert config.num_labels == 3
    assert "classifier.weight" in report.loaded and "bert.pooler.dense.weight" in report.loaded


def test_pytorch_bin_and_legacy_layer_norm_names(tmp_path, tiny_dir):
    import torch

    path = save_hf_checkpoint(tmp_path / "bin", safe_serialization=False)
    state = torch.load(path / "pytorch_model.bin", weights_only=True)
    legacy = {
        k.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ): v
        for k, v in state.items()
    }
    torch.save(legacy, path / "pytorch_model.bin")
    model, _, _ = load_hf_checkpoint(path)
    reference, _, _ = load_hf_checkpoint(tiny_dir)
    np.testing.assert_allclose(_forward(model), _forward(reference), atol=1e-6)


def test_pickled_objects_in_bin_files_are_refused(tmp_path, tiny_dir):
    import torch

    path = tmp_path / "evil"
    path.mkdir()
    (path / "config.json").write_text((tiny_dir / "config.json").read_text())
    torch.save({"payload": object()}, path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_hf_checkpoint(path)


def test_convert_writes_weights_and_manifest_atomically(tmp_path, tiny_dir):
    out = convert_checkpoint(tiny_dir, tmp_path / "weights" / "tiny")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.weights.h5"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["hidden_size"] == 32 and manifest["kind"] == "bert"
    assert set(manifest["sha256"]) == {"config.json", "model.safetensors"}
    assert [p.name for p in out.parent.iterdir()] == ["tiny"]  # no temporary folder left
    restored, _ = load_converted(out)
    reference, _, _ = load_hf_checkpoint(tiny_dir)
    np.testing.assert_array_equal(_forward(restored), _forward(reference))
    with pytest.raises(AttentionLabError, match="already exists; pass --overwrite"):
        convert_checkpoint(tiny_dir, out)


def test_failed_conversion_leaves_nothing_behind(tmp_path, tiny_dir, monkeypatch):
    def explode(self, path):
        raise OSError("disk full")

    monkeypatch.setattr(BertModel, "save_weights", explode)
    with pytest.raises(OSError, match="disk full"):
        convert_checkpoint(tiny_dir, tmp_path / "out" / "tiny")
    assert list((tmp_path / "out").iterdir()) == []


def test_missing_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_hf_checkpoint(tmp_path)


def test_malformed_config(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="malformed JSON"):
        load_hf_checkpoint(tmp_path)


def test_non_bert_architecture_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(CheckpointError, match="only BERT checkpoints"):
        load_hf_checkpoint(tmp_path)


def test_missing_weights_file(tmp_path, tiny_dir):
    (tmp_path / "config.json").write_text((tiny_dir / "config.json").read_text())
    with pytest.raises(CheckpointError, match="no weights found"):
        load_hf_checkpoint(tmp_path)


def test_truncated_weights_file(tmp_path, tiny_dir):
    (tmp_path / "config.json").write_text((tiny_dir / "config.json").read_text())
    data = (tiny_dir / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_hf_checkpoint(tmp_path)


def test_missing_tensor_is_named(tmp_path, tiny_dir):
    path = _rewrite_safetensors(
        tiny_dir, tmp_path / "m", lambda s: s.pop("encoder.layer.1.output.dense.bias")
    )
    with pytest.raises(CheckpointError, match="missing tensor 'encoder.layer.1.output.dense.bias'"):
        load_hf_checkpoint(path)


def test_wrong_shape_names_tensor_and_both_shapes(tmp_path, tiny_dir):
    def edit(state):
        state["encoder.layer.0.intermediate.dense.weight"] = np.zeros((50, 32), np.float32)

    path = _rewrite_safetensors(tiny_dir, tmp_path / "m", edit)
    with pytest.raises(
        CheckpointError,
        match=r"'encoder.layer.0.intermediate.dense.weight' has shape \(50, 32\) .* \(48, 32\)",
    ):
        load_hf_checkpoint(path)


def test_unused_tensor_is_an_error_but_pretraining_heads_are_skipped(tmp_path, tiny_dir):
    def extra(state):
        state["encoder.layer.2.output.dense.bias"] = np.zeros(32, np.float32)

    with pytest.raises(CheckpointError, match="unused tensor 'encoder.layer.2.output.dense.bias'"):
        load_hf_checkpoint(_rewrite_safetensors(tiny_dir, tmp_path / "a", extra))

    def mlm_head(state):
        state["cls.predictions.bias"] = np.zeros(120, np.float32)

    _, _, report = load_hf_checkpoint(_rewrite_safetensors(tiny_dir, tmp_path / "b", mlm_head))
    assert "cls.predictions.bias" in report.skipped


def test_hub_id_offline_says_how_to_pass_a_directory(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="pass DIR"):
        resolve_model_dir("bert-base-cased-attention-lab-test")


def test_converted_folder_errors(tmp_path):
    with pytest.raises(CheckpointError, match="manifest.json is missing"):
        load_converted(tmp_path)


def test_pretraining_checkpoint_with_bert_prefix_loads_as_bert_model(tmp_path):
    """bert-base-cased on the hub is a BertForPreTraining layout: ``bert.*`` plus ``cls.*``."""
    import torch
    import transformers
    from hf_checkpoints import TINY_HF

    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(transformers.BertConfig(**TINY_HF)).eval()
    hf.save_pretrained(tmp_path / "pretraining")
    model, _, report = load_hf_checkpoint(tmp_path / "pretraining")
    assert isinstance(model, BertModel)
    assert any(name.startswith("cls.predictions") for name in report.skipped)
    assert any(name.startswith("cls.seq_relationship") for name in report.skipped)
    ids = torch.randint(0, 120, (2, 9))
    with torch.no_grad():
        expected = hf.bert(ids).last_hidden_state.numpy()
    ours = model({"input_ids": ids.numpy().astype(np.int32)})["sequence_output"]
    np.testing.assert_allclose(ours, expected, atol=1e-5)
