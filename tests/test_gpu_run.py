"""The prepared GPU run (benchmarks/gpu_run.sh): its smoke mode end to end on this CPU, and
the payload it carries to the GPU machine, so that the run does not rot between GPU loans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

# benchmarks/ is a top-level folder of the repository, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import gpu_payload  # noqa: E402
from benchmarks.gpu_run import STAGE_SHARE, markdown, stage_seconds  # noqa: E402
from benchmarks.gpu_stages import (  # noqa: E402
    SMOKE_OURS,
    SMOKE_PARITY_MODES,
    SMOKE_TORCH,
    STAGES,
    WARMUP,
    Budget,
    Recorder,
    _speed_units,
)

pytest.importorskip("torch")
pytest.importorskip("jax")

SCRIPT = gpu_payload.ROOT / "benchmarks" / "gpu_run.sh"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_run") / "out"
    done = subprocess.run(
        ["bash", str(SCRIPT), "--smoke", "--out", str(out)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done, out


def test_smoke_runs_every_stage_without_tensorflow(smoke):
    done, out = smoke
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["gpu_run.json", "gpu_run.log", "gpu_run.md"]
    summary = json.loads((out / "gpu_run.json").read_text())
    assert summary["smoke"] and list(summary["stages"]) == list(STAGES)
    for name, stage in summary["stages"].items():
        assert stage["status"] == 0 and "error" not in stage, name
        assert stage["versions"]["tensorflow_imported"] is False, name
        assert stage["versions"]["keras_backend"] == ("torch" if name == "speed-torch" else "jax")


def test_smoke_parity_passes_in_both_precisions(smoke):
    parity = json.loads((smoke[1] / "gpu_run.json").read_text())["stages"]["parity"]
    assert parity["matmul_precision"] == "highest"  # TF32 off
    seen = {(run["precision"], run["xla"]) for run in parity["runs"]}
    assert seen == {(p, x) for p in ("float32", "bfloat16") for x in SMOKE_PARITY_MODES}
    for run in parity["runs"]:
        assert run["passed"] and run["report"]["backend"] == "jax", run["table"]
        assert run["report"]["truncated"] > 0  # reviews longer than the smoke's 32 tokens
    assert "tf32_information" in parity


def test_smoke_finetune_trains_and_tests_under_the_gpu_plan(smoke):
    finetune = json.loads((smoke[1] / "gpu_run.json").read_text())["stages"]["finetune"]
    assert finetune["plan"].startswith("bfloat16, XLA on")
    assert finetune["reviews"] == {"train": 76, "validation": 20, "test": 48}
    assert finetune["fit"]["steps"] == 76 // 8 and len(finetune["epochs"]) == 1
    assert 0 <= finetune["test"]["accuracy"] <= 1 and finetune["test"]["loss"] > 0


def test_smoke_speed_times_every_contender_and_the_tables_show_them(smoke):
    summary = json.loads((smoke[1] / "gpu_run.json").read_text())
    ours, torch = summary["stages"]["speed-ours"], summary["stages"]["speed-torch"]
    assert ours["matmul_precision"] == "tensorfloat32"
    assert torch["attention"] and torch["torch_compile_backend"] == "eager"
    for stage, names in (
        (ours, {f"ours JAX XLA {precision}" for precision in SMOKE_OURS}),
        (torch, set(SMOKE_TORCH)),
    ):
        assert "skipped" not in stage
        for step in ("train", "forward"):
            assert {row["contender"] for row in stage[step]} == names
            for row in stage[step]:
                assert row["ms_median"] > 0 and len(row["samples_s"]) > 1
    table = (smoke[1] / "gpu_run.md").read_text()
    for title in ("## Parity", "## Fine-tuning", "## Speed"):
        assert title in table
    assert table == markdown(summary)


def test_usage_errors_exit_2():
    for args in ([], ["--smoke"], ["--fetch-wheels"], ["--bogus"]):
        done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True)
        assert done.returncode == 2 and "usage:" in done.stderr, args


def test_the_stages_share_the_budget():
    budget = 480.0
    assert stage_seconds("parity", 0, budget, budget) == STAGE_SHARE["parity"] * budget
    assert stage_seconds("finetune", 1, budget, 50.0) == 50.0  # never past the budget
    left = budget * (1 - sum(STAGE_SHARE.values()))
    assert stage_seconds("speed-ours", 2, budget, left) == left / 2
    assert stage_seconds("speed-torch", 3, budget, left / 2) == left / 2
    assert stage_seconds("speed-torch", 3, budget, -5.0) == 0.0


def test_a_unit_starts_only_with_the_time_its_longest_kind_took():
    budget = Budget(time.time() + 100, first={"train": 60.0, "forward": 120.0})
    assert budget.allows("bf16 train", "train") and not budget.allows("bf16 forward", "forward")
    budget.took("bf16 train", 120)
    assert not budget.allows("bf16 train", "train") and budget.allows("fp32 train", "train")
    budget.took("bf16 forward", 5)
    assert budget.allows("bf16 forward", "forward")


def test_a_failing_unit_is_recorded_and_the_others_still_run(tmp_path):
    def fails(config, batch, length):
        raise RuntimeError("no compiler")

    def runs(config, batch, length):
        return 1.0, [0.01] * (WARMUP + 2)

    record = Recorder(tmp_path / "stage.json")
    contenders = {"broken": ("k", fails, runs), "fine": ("k", runs, runs)}
    _speed_units(record, Budget(time.time() + 100, {}), True, contenders)
    saved = json.loads((tmp_path / "stage.json").read_text())
    assert [f["error"] for f in saved["failed"]] == ["RuntimeError: no compiler"]
    assert [r["contender"] for r in saved["forward"]] == ["broken", "fine"]
    assert [r["contender"] for r in saved["train"]] == ["fine"]
    assert saved["train"][0]["ms_median"] == pytest.approx(10.0)


def test_npz_members_are_lzma_and_read_back(tmp_path):
    arrays = {"scalar": np.asarray(512), "ids": np.arange(1000, dtype=np.uint16)}
    gpu_payload.write_npz(tmp_path / "a.npz", arrays)
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_LZMA}
    with np.load(tmp_path / "a.npz") as data:
        assert data["scalar"].shape == () and int(data["scalar"]) == 512
        np.testing.assert_array_equal(data["ids"], arrays["ids"])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tiny_runs import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "bert", seed=2)


def test_reviews_travel_ragged_and_come_back_as_encoded(tiny_model, tmp_path):
    from attention_lab.errors import AttentionLabError
    from attention_lab.models.bert import BertConfig
    from attention_lab.tokenization import BertTokenizer
    from attention_lab.training.data import encode_reviews

    tokenizer = BertTokenizer.from_pretrained(tiny_model)
    texts = ["the movie was good", "a very very boring plot " * 9, "fun"]
    labels = np.array([1, 0, 1])
    gpu_payload.write_imdb(tokenizer, {"train": (texts, labels)}, 16, tmp_path / "imdb.npz")
    back = gpu_payload.read_encoded(tmp_path / "imdb.npz", "train")
    expected = encode_reviews(tokenizer, texts, labels, 16, gpu_payload.TRUNCATION)
    for key, value in expected.features.items():
        np.testing.assert_array_equal(back.features[key], value, err_msg=key)
    np.testing.assert_array_equal(back.labels, labels)
    with pytest.raises(AttentionLabError, match="outside"):
        back.check(BertConfig(vocab_size=6, hidden_size=8, num_attention_heads=2), "reviews")


def test_the_model_travels_in_float16_and_arrives_as_float32(tiny_model, tmp_path):
    from attention_lab.convert import read_state_dict

    payload = tmp_path / "payload"
    gpu_payload.write_model(tiny_model, payload / gpu_payload.MODEL_DIR)
    arrived = gpu_payload.restore_model(payload, tmp_path / "arrived")
    assert (arrived / "vocab.txt").read_bytes() == (tiny_model / "vocab.txt").read_bytes()
    original, restored = read_state_dict(tiny_model), read_state_dict(arrived)
    assert original.keys() == restored.keys()
    for name, value in original.items():
        assert restored[name].dtype == value.dtype, name
        np.testing.assert_array_equal(restored[name], value.astype(np.float16).astype(value.dtype))


def test_the_manifest_catches_a_changed_file(tmp_path):
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "namex-0.1.0-py3-none-any.whl").write_bytes(b"wheel")
    (tmp_path / "reviews.txt").write_text("A masterpiece.\n")
    manifest = gpu_payload.write_manifest(tmp_path, {"about": "test"})
    assert gpu_payload.check_payload(tmp_path) == manifest
    assert gpu_payload.missing_wheels(tmp_path / "wheels") == []  # namex is installed here
    absent = tmp_path / "wheels" / "no_such_package_here-1.0-py3-none-any.whl"
    absent.write_bytes(b"wheel")
    assert gpu_payload.missing_wheels(tmp_path / "wheels") == [absent]
    absent.unlink()
    (tmp_path / "reviews.txt").write_text("A masterpiece!\n")
    with pytest.raises(SystemExit, match="differs"):
        gpu_payload.check_payload(tmp_path)
