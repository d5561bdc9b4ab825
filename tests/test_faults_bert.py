"""Fault and bad-input cases of the BERT commands: one line, exit 2, the user's files intact.

Each destructive case shows the user's files are byte-for-byte as they were; each refusal shows
its exit status and the words its one-line message must contain. (The fine-tuning run folder's
cases are in tests/test_finetune_run.py; the data, GloVe and seq2seq commands' in
tests/test_faults_data.py.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_faults import assert_refused, run_cli, snapshot
from hf_checkpoints import save_hf_checkpoint

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return save_hf_checkpoint(tmp_path_factory.mktemp("hf") / "tiny")


def test_convert_never_replaces_its_own_source(source):
    before = snapshot(source)
    assert_refused(run_cli("convert", source, "--out", source, "--overwrite"), "overlaps the input")
    inside = source / "sub"
    assert_refused(run_cli("convert", source, "--out", inside, "--overwrite"), "overlaps")
    assert snapshot(source) == before


def test_overwrite_replaces_only_a_folder_we_wrote(source, tmp_path):
    theirs = tmp_path / "photos"
    theirs.mkdir()
    (theirs / "holiday.jpg").write_bytes(b"\xff\xd8\xff")
    before = snapshot(theirs)
    assert_refused(
        run_cli("convert", source, "--out", theirs, "--overwrite"), "not written by attention_lab"
    )
    assert snapshot(theirs) == before
    ours = tmp_path / "ours"
    assert run_cli("convert", source, "--out", ours)[0] == 0
    assert run_cli("convert", source, "--out", ours, "--overwrite")[0] == 0  # ours: replaced


def test_the_current_folder_is_never_replaced(source, tmp_path):
    work = tmp_path / "work"
    assert run_cli("convert", source, "--out", work)[0] == 0
    before = snapshot(tmp_path)
    assert_refused(run_cli("convert", source, "--out", ".", "--overwrite", cwd=work), "current")
    assert snapshot(tmp_path) == before  # no ".old" or temporary folder left either


def test_an_existing_out_is_named_before_anything_is_loaded(tmp_path):
    (tmp_path / "out").mkdir()
    refused = run_cli("convert", tmp_path / "no-such-checkpoint", "--out", tmp_path / "out")
    assert_refused(refused, "already exists")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda c: c.update(hidden_dropout_prob=1.5), ["hidden_dropout_prob", "1.5"]),
        (lambda c: c.update(layer_norm_eps=-1e-12), ["layer_norm_eps"]),
        (lambda c: c.update(num_hidden_layers=1), ["2 encoder layers", "num_hidden_layers=1"]),
        (lambda c: c.update(model_type="gpt2"), ["only BERT checkpoints"]),
        (
            lambda c: c.update(id2label={"neg": "negative", "pos": "positive"}),
            ["id2label", "label ids 0, 1"],
        ),
        (lambda c: c.update(id2label=2), ["id2label", "got 2"]),
    ],
)
def test_a_bad_config_json_is_one_line(source, tmp_path, edit, words):
    broken = tmp_path / "broken"
    broken.mkdir()
    config = json.loads((source / "config.json").read_text())
    edit(config)
    (broken / "config.json").write_text(json.dumps(config))
    (broken / "model.safetensors").write_bytes((source / "model.safetensors").read_bytes())
    assert_refused(run_cli("convert", broken, "--out", tmp_path / "out"), *words)
    assert not (tmp_path / "out").exists()


def test_damaged_weights_are_refused_not_loaded(source, tmp_path):
    from safetensors.numpy import save_file

    from attention_lab.convert import read_state_dict

    state = read_state_dict(source)
    state["embeddings.LayerNorm.weight"][0] = np.nan
    broken = tmp_path / "nan"
    broken.mkdir()
    (broken / "config.json").write_text((source / "config.json").read_text())
    save_file(state, str(broken / "model.safetensors"))
    assert_refused(run_cli("convert", broken, "--out", tmp_path / "a"), "non-finite", "LayerNorm")

    ours = tmp_path / "ours"
    assert run_cli("convert", source, "--out", ours)[0] == 0
    data = bytearray((ours / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x10
    (ours / "model.safetensors").write_bytes(bytes(data))
    assert_refused(run_cli("parity", source, "--ours", ours), "has changed since")


def test_a_pickle_in_a_bin_file_is_refused_in_one_line(source, tmp_path):
    import torch

    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "config.json").write_text((source / "config.json").read_text())
    torch.save({"payload": object()}, evil / "pytorch_model.bin")
    line = assert_refused(run_cli("convert", evil, "--out", tmp_path / "out"), "never run")
    assert "weights_only=False" not in line


def test_offline_hub_ids_say_how_to_download_with_the_hf_command(monkeypatch):
    refused = run_cli("convert", "attention-lab/not-a-model", env={"HF_HUB_OFFLINE": "1"})
    line = assert_refused(refused, "hf download", "pass DIR")
    assert "huggingface-cli" not in line


def test_parity_against_a_broken_reference_is_exit_2_not_1(source, tmp_path):
    broken = tmp_path / "ref"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert_refused(run_cli("parity", broken), "malformed JSON")
    assert_refused(run_cli("parity", source, "--ours", tmp_path / "nowhere"), "no such directory")
