"""The Hugging Face converter: every tensor accounted for, clear errors, atomic output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hf_checkpoints import save_hf_checkpoint

from attention_lab.convert import (
    convert_checkpoint,
    load_bert,
    read_state_dict,
    resolve_model_dir,
    save_bert,
)
from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.models.bert import BertForSequenceClassification, BertModel
from attention_lab.models.bert_pretraining import BertForPreTraining

pytest.importorskip("torch")


def _drop_heads(state):
    for name in [n for n in state if n.startswith("cls.")]:
        del state[name]


def _load(path):
    loaded = load_bert(path)
    return loaded.model, loaded.config, loaded.report


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
    model, config, report = _load(tiny_dir)
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
    model, config, report = _load(path)
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
    model, _, _ = _load(path)
    reference, _, _ = _load(tiny_dir)
    np.testing.assert_allclose(_forward(model), _forward(reference), atol=1e-6)


def test_pickled_objects_in_bin_files_are_refused(tmp_path, tiny_dir):
    import torch

    path = tmp_path / "evil"
    path.mkdir()
    (path / "config.json").write_text((tiny_dir / "config.json").read_text())
    torch.save({"payload": object()}, path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickled Python objects.*never run") as refused:
        _load(path)
    assert "weights_only=False" not in str(refused.value)  # no advice to run the pickle


def test_convert_writes_a_hugging_face_folder_that_records_its_source(tmp_path, tiny_dir):
    out = convert_checkpoint(tiny_dir, tmp_path / "weights" / "tiny")
    assert sorted(p.name for p in out.iterdir()) == [
        ".attention_lab",
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_size"] == 32 and config["architectures"] == ["BertModel"]
    ours = config["attention_lab"]
    assert set(ours["source_sha256"]) == {"config.json", "model.safetensors"}
    assert ours["source"] == str(tiny_dir) and ours["head"] is None
    assert [p.name for p in out.parent.iterdir()] == ["tiny"]  # no temporary folder left
    restored = load_bert(out).model
    reference, _, _ = _load(tiny_dir)
    np.testing.assert_array_equal(_forward(restored), _forward(reference))
    with pytest.raises(AttentionLabError, match="already exists; pass --overwrite"):
        convert_checkpoint(tiny_dir, out)


def test_failed_conversion_leaves_nothing_behind(tmp_path, tiny_dir, monkeypatch):
    import safetensors.numpy

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", explode)
    with pytest.raises(OSError, match="disk full"):
        convert_checkpoint(tiny_dir, tmp_path / "out" / "tiny")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_changed_byte_in_our_weights_is_refused(tmp_path, tiny_dir):
    out = convert_checkpoint(tiny_dir, tmp_path / "ours")
    data = bytearray((out / "model.safetensors").read_bytes())
    data[-5] ^= 0x01  # one bit of the last tensor's values
    (out / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="has changed since attention_lab wrote it"):
        load_bert(out)


@pytest.mark.parametrize(
    ("value", "words"),
    [(np.nan, "non-finite"), (np.inf, "non-finite"), (3, "dtype int64")],
)
def test_nan_inf_and_integer_weights_are_refused(tmp_path, tiny_dir, value, words):
    def edit(state):
        tensor = state["encoder.layer.0.output.dense.bias"]
        if isinstance(value, int):
            state["encoder.layer.0.output.dense.bias"] = np.full(tensor.shape, value, np.int64)
        else:
            tensor[3] = value

    with pytest.raises(CheckpointError, match=words):
        _load(_rewrite_safetensors(tiny_dir, tmp_path / "m", edit))


def test_a_layer_count_that_disagrees_with_the_weights_names_both(tmp_path, tiny_dir):
    path = tmp_path / "fewer"
    path.mkdir()
    config = json.loads((tiny_dir / "config.json").read_text())
    config["num_hidden_layers"] = 1
    (path / "config.json").write_text(json.dumps(config))
    (path / "model.safetensors").write_bytes((tiny_dir / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="weights have 2 encoder layers.*num_hidden_layers=1"):
        load_bert(path)


def test_save_then_load_round_trips_every_kind(tmp_path, tiny_dir):
    for head in (None, "prebuilt", "custom"):
        loaded = load_bert(tiny_dir, head=head, num_labels=3 if head else None)
        model = loaded.model
        out = save_bert(model, tmp_path / str(head), tokenizer_dir=None, label_names=None)
        again = load_bert(out)
        assert type(again.model) is type(model) and again.head == head
        for a, b in zip(model.weights, again.model.weights, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        if head:
            assert again.label_names == ["LABEL_0", "LABEL_1", "LABEL_2"]


def test_missing_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="config.json is missing"):
        _load(tmp_path)


def test_malformed_config(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="malformed JSON"):
        _load(tmp_path)


def test_non_bert_architecture_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(CheckpointError, match="only BERT checkpoints"):
        _load(tmp_path)


def test_missing_weights_file(tmp_path, tiny_dir):
    (tmp_path / "config.json").write_text((tiny_dir / "config.json").read_text())
    with pytest.raises(CheckpointError, match="no weights found"):
        _load(tmp_path)


def test_truncated_weights_file(tmp_path, tiny_dir):
    (tmp_path / "config.json").write_text((tiny_dir / "config.json").read_text())
    data = (tiny_dir / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        _load(tmp_path)


def test_missing_tensor_is_named(tmp_path, tiny_dir):
    path = _rewrite_safetensors(
        tiny_dir, tmp_path / "m", lambda s: s.pop("encoder.layer.1.output.dense.bias")
    )
    with pytest.raises(CheckpointError, match="missing tensor 'encoder.layer.1.output.dense.bias'"):
        _load(path)


def test_wrong_shape_names_tensor_and_both_shapes(tmp_path, tiny_dir):
    def edit(state):
        state["encoder.layer.0.intermediate.dense.weight"] = np.zeros((50, 32), np.float32)

    path = _rewrite_safetensors(tiny_dir, tmp_path / "m", edit)
    with pytest.raises(
        CheckpointError,
        match=r"'encoder.layer.0.intermediate.dense.weight' has shape \(50, 32\) .* \(48, 32\)",
    ):
        _load(path)


def test_unused_tensor_is_an_error_but_pretraining_heads_are_skipped(tmp_path, tiny_dir):
    def extra(state):
        state["encoder.layer.2.output.dense.bias"] = np.zeros(32, np.float32)

    with pytest.raises(CheckpointError, match="weights have 3 encoder layers"):
        _load(_rewrite_safetensors(tiny_dir, tmp_path / "a", extra))

    def foreign(state):
        state["encoder.adapter.weight"] = np.zeros(32, np.float32)

    with pytest.raises(CheckpointError, match="unused tensor 'encoder.adapter.weight'"):
        _load(_rewrite_safetensors(tiny_dir, tmp_path / "c", foreign))

    def mlm_head(state):
        state["cls.predictions.bias"] = np.zeros(120, np.float32)

    _, _, report = _load(_rewrite_safetensors(tiny_dir, tmp_path / "b", mlm_head))
    assert "cls.predictions.bias" in report.skipped


def test_hub_id_offline_says_how_to_pass_a_directory(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="pass DIR"):
        resolve_model_dir("bert-base-cased-attention-lab-test")


def test_a_pretraining_checkpoint_loads_with_its_heads_and_its_encoder(tmp_path):
    """bert-base-cased on the hub is a BertForPreTraining layout: ``bert.*`` plus ``cls.*``."""
    import torch
    import transformers
    from hf_checkpoints import TINY_HF

    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(transformers.BertConfig(**TINY_HF)).eval()
    hf.save_pretrained(tmp_path / "pretraining")
    model, _, report = _load(tmp_path / "pretraining")
    assert isinstance(model, BertForPreTraining)
    assert {"cls.predictions.bias", "cls.seq_relationship.weight"} <= set(report.loaded)
    encoder, _, skipped = _load(
        _rewrite_safetensors(tmp_path / "pretraining", tmp_path / "e", _drop_heads)
    )
    assert isinstance(encoder, BertModel) and not skipped.skipped
    ids = torch.randint(0, 120, (2, 9))
    with torch.no_grad():
        expected = hf.bert(ids).last_hidden_state.numpy()
    ours = model.bert({"input_ids": ids.numpy().astype(np.int32)})["sequence_output"]
    np.testing.assert_allclose(ours, expected, atol=1e-5)
