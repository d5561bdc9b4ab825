"""The fine-tuning run folder end to end: finetune, evaluate, predict, export, transformers.

A tiny ``transformers``-made BERT is fine-tuned on a tiny IMDb look-alike through the command
line; the run folder must load in ``transformers`` with our logits, resume after a kill, and
every refused command must leave the user's files as they were.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_faults import ROOT, assert_refused, run_cli, snapshot
from glove_imdb_data import write_tiny_imdb_archive
from tiny_runs import write_tiny_checkpoint

from attention_lab.convert import load_bert

pytest.importorskip("torch")

TEXTS = ["the movie was good great fun", "the plot was bad awful", "this film is wonderful"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    return {
        "model": write_tiny_checkpoint(root / "bert"),
        "data": write_tiny_imdb_archive(root / "aclImdb_v1.tar.gz", per_folder=24),
    }


def finetune_args(inputs, out, *extra):
    return (
        "finetune", "--model", inputs["model"], "--data", inputs["data"], "--out", out,
        "--epochs", "2", "--batch-size", "8", "--learning-rate", "1e-3", "--no-progress",
        "--precision", "float32", "--max-len", "32", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for head in ("prebuilt", "custom"):
        status, out, err = run_cli(*finetune_args(inputs, root / head, "--head", head))
        assert status == 0, err
    return root


def _features(texts, directory):
    from attention_lab.tokenization import BertTokenizer

    encoded = BertTokenizer.from_pretrained(directory).encode_batch(texts, max_length=20)
    return {k: np.asarray(v, np.int64) for k, v in encoded.items()}


def test_the_run_folder_is_a_hugging_face_folder_with_its_record(runs):
    import torch
    import transformers

    run = runs / "prebuilt"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "model.safetensors",
        "run.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]  # the training state is gone once the run is complete
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "complete" and record["settings"]["precision"] == "float32"
    assert record["result"]["steps"] == 2 * (38 // 8)  # 48 reviews: 38 train, 10 validation
    ours = load_bert(run)
    features = _features(TEXTS, run)
    logits = np.asarray(ours.model({k: v.astype(np.int32) for k, v in features.items()}))
    reference = transformers.BertForSequenceClassification.from_pretrained(run).eval()
    assert reference.config.id2label == {0: "negative", 1: "positive"}
    with torch.no_grad():
        theirs = reference(**{k: torch.tensor(v) for k, v in features.items()}).logits.numpy()
    assert np.abs(logits - theirs).max() <= 1e-4


def test_a_custom_head_run_loads_its_encoder_in_transformers(runs):
    import torch
    import transformers

    run = runs / "custom"
    ours = load_bert(run)
    assert ours.head == "custom" and ours.model.head_units == 200
    features = _features(TEXTS, run)
    pooled = ours.encoder({k: v.astype(np.int32) for k, v in features.items()})["pooled_output"]
    reference = transformers.BertModel.from_pretrained(run).eval()
    with torch.no_grad():
        theirs = reference(**{k: torch.tensor(v) for k, v in features.items()}).pooler_output
    assert np.abs(np.asarray(pooled) - theirs.numpy()).max() <= 1e-4


@pytest.mark.parametrize("head", ["prebuilt", "custom"])
def test_parity_compares_the_encoder_of_either_head_and_the_logits_hugging_face_has(runs, head):
    status, out, err = run_cli("parity", runs / head, "--json")
    assert status == 0, err
    summary = json.loads(out)
    assert summary["passed"] and len(summary["max_abs_diff"]["hidden_states"]) == 2
    # transformers has the pre-built head (BertForSequenceClassification), not the custom one
    assert ("logits" in summary["max_abs_diff"]) == (head == "prebuilt")


def test_evaluate_predict_and_export(runs, inputs, tmp_path):
    run = runs / "prebuilt"
    status, out, err = run_cli("evaluate", "--checkpoint", run, "--data", inputs["data"],
                               "--no-progress")  # fmt: skip
    assert status == 0, err
    metrics = json.loads((run / "evaluation-test.json").read_text())
    assert metrics["examples"] == 48 and 0.0 <= metrics["accuracy"] <= 1.0
    assert (run / "confusion-test.png").stat().st_size > 1000
    status, out, err = run_cli("predict", "--checkpoint", run, "--json", *TEXTS[:2])
    assert status == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["text"] for r in rows] == TEXTS[:2] and rows[0]["label"] in ("negative", "positive")
    assert abs(sum(rows[0]["probabilities"]) - 1) < 1e-6

    exported = tmp_path / "hf"
    status, out, err = run_cli("export", "--checkpoint", run, "--out", exported)
    assert status == 0, err
    assert "run.json" not in {p.name for p in exported.iterdir()}
    again = load_bert(exported)
    for a, b in zip(again.model.weights, load_bert(run).model.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_same_seed_runs_are_identical(runs, inputs, tmp_path):
    status, _, err = run_cli(*finetune_args(inputs, tmp_path / "again", "--head", "custom"))
    assert status == 0, err
    histories = [
        [(h["loss"], h["val_loss"]) for h in json.loads(p.read_text())["result"]["history"]]
        for p in (runs / "custom" / "run.json", tmp_path / "again" / "run.json")
    ]
    assert histories[0] == histories[1]


def test_a_killed_finetune_resumes_to_the_weights_of_an_uninterrupted_run(runs, inputs, tmp_path):
    args = [str(a) for a in finetune_args(inputs, tmp_path / "killed", "--head", "prebuilt",
                                          "--checkpoint-every", "1")]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "attention_lab", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    state = tmp_path / "killed" / "checkpoints" / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if state.is_file() and json.loads(state.read_text())["step"] >= 6:  # in epoch 2
            break
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    record = json.loads((tmp_path / "killed" / "run.json").read_text())
    assert record["status"] == "training"

    changed = run_cli(*["5e-4" if a == "1e-3" else a for a in args])  # another learning rate
    assert_refused(changed, "unfinished run with other settings", "learning_rate")
    assert json.loads((tmp_path / "killed" / "run.json").read_text()) == record
    attention = ["attention", "--out", tmp_path / "a.png", "--model"]
    for command in (["predict", "--checkpoint"], attention):  # no model yet
        assert_refused(run_cli(*command, tmp_path / "killed", "good"), "has not finished")

    status, out, err = run_cli(*args)
    assert status == 0, err
    assert "resuming from step" in out
    resumed, whole = load_bert(tmp_path / "killed").model, load_bert(runs / "prebuilt").model
    for a, b in zip(resumed.weights, whole.weights, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_a_model_path_under_home_is_recorded_resolved(inputs, tmp_path):
    model = inputs["model"]
    at_home = {**inputs, "model": f"~/{model.name}"}
    args = finetune_args(at_home, tmp_path / "run", "--head", "prebuilt", "--epochs", "1")
    status, _, err = run_cli(*args, env={"HOME": str(model.parent)})
    assert status == 0, err
    settings = json.loads((tmp_path / "run" / "run.json").read_text())["settings"]
    assert settings["model"] == str(model.resolve())


def test_refused_commands_leave_no_folder_and_no_change(runs, inputs, tmp_path):
    before = snapshot(runs / "prebuilt")
    assert_refused(
        run_cli(*finetune_args(inputs, runs / "prebuilt", "--head", "prebuilt")),
        "holds a finished run",
    )
    assert_refused(
        run_cli("export", "--checkpoint", runs / "prebuilt", "--out", runs / "prebuilt",
                "--overwrite"),
        "overlaps the input",
    )  # fmt: skip
    assert_refused(run_cli("predict", "--checkpoint", runs / "prebuilt", "   "), "empty or blank")
    assert snapshot(runs / "prebuilt") == before

    new = tmp_path / "new"
    cases = [
        (("--limit", "0"), "--limit must be at least 1"),
        (("--batch-size", "64"), "no full batch of 64"),
        (("--max-len", "999"), "--max-len 999 is outside 2 … 64"),
    ]
    for extra, words in cases:
        assert_refused(run_cli(*finetune_args(inputs, new, "--head", "prebuilt", *extra)), words)
        assert not new.exists()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(inputs["data"].read_bytes()[:200])
    args = finetune_args(inputs, new, "--head", "prebuilt")
    assert_refused(run_cli(*[broken if a == inputs["data"] else a for a in args]), "IMDb")
    assert not new.exists()

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    assert_refused(
        run_cli(*finetune_args(inputs, theirs, "--head", "prebuilt")), "not a fine-tuning run"
    )
    assert (theirs / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (random.Random(0).randbytes(64), "damaged"),  # the same bytes in every process
        (b"[1, 2, 3]", "JSON list"),
        (b'{"format": "attention_lab.run/2"}', "lacks 'status'"),
    ],
    ids=["random-bytes", "a-list", "no-status"],
)
def test_a_damaged_run_record_is_one_line_not_a_traceback(runs, tmp_path, content, words):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs / "prebuilt", run)
    (run / "run.json").write_bytes(content)
    for command in (["predict", "--checkpoint", run, "good"],
                    ["export", "--checkpoint", run, "--out", tmp_path / "hf"]):  # fmt: skip
        assert_refused(run_cli(*command), words)
    assert not (tmp_path / "hf").exists()


def test_the_last_line_names_the_kept_epoch_and_its_own_validation_figures():
    from attention_lab.cli.finetune import kept_epoch

    history = [
        {"epoch": 1, "val_loss": 0.2794, "val_accuracy": 0.888},
        {"epoch": 2, "val_loss": 0.2819, "val_accuracy": 0.9026},
    ]
    line = kept_epoch({"history": history, "best_epoch": 1}, "loss")
    assert line == (
        ", kept epoch 1 of 2 (lowest validation loss 0.2794; its validation accuracy 0.8880)"
    )
    line = kept_epoch({"history": history, "best_epoch": 2}, "accuracy")
    assert line == (
        ", kept epoch 2 of 2 (highest validation accuracy 0.9026; its validation loss 0.2819)"
    )
    assert kept_epoch({"history": [], "best_epoch": None}, "accuracy") == ""
