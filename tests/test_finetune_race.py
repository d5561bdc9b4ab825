"""The race against transformers' Trainer (benchmarks/finetune_race.py) in its --quick mode.

A tiny ``transformers``-made BERT fine-tuned on a tiny IMDb look-alike by both contenders, each
in its own process: the figures mean nothing, the test checks that both did the same work and
that the JSON and the table say so.
"""

from __future__ import annotations

import json

import pytest
from glove_imdb_data import write_tiny_imdb_archive
from tiny_runs import write_tiny_checkpoint

from attention_lab.runtime import choose_plan
from benchmarks import finetune_race

pytest.importorskip("torch")
pytest.importorskip("accelerate")  # transformers' Trainer needs it


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("race-inputs")
    return [
        "--model",
        str(write_tiny_checkpoint(root / "bert")),
        "--data",
        str(write_tiny_imdb_archive(root / "aclImdb_v1.tar.gz", per_folder=20)),
    ]


def test_quick_race_runs_both_contenders_on_the_same_work(inputs, tmp_path, capsys):
    out = tmp_path / "race"
    argv = ["--quick", *inputs, "--out", str(out), "--threads", "1"]
    assert finetune_race.main(argv) == 0
    report = json.loads((out / "finetune_race.json").read_text())
    (entry,) = report["rounds"]
    assert entry["order"] == ["ours", "trainer"]
    precision = choose_plan("auto", "off", device="cpu").precision
    for name in ("ours", "trainer"):
        c = entry[name]
        assert (c["train_reviews"], c["validation_reviews"], c["steps"]) == (32, 8, 4)
        assert c["timed_examples"] == 3 * 8  # steps 2 … 4 of batch 8
        assert c["examples_per_second"] == pytest.approx(c["timed_examples"] / c["timed_seconds"])
        assert c["first_step_seconds"] > 0
        assert c["test"]["examples"] == 16
        assert 0 <= c["test"]["accuracy"] <= 1
        assert c["precision"] == precision
        assert c["threads"]["intra_op"] == 1
        assert (out / "logs" / f"{name}-1.log").is_file()
    assert entry["ours"]["commands"][0].startswith("attention-lab finetune --model")
    summary = report["summary"]
    assert summary["throughput_ratio"] == pytest.approx(
        entry["ours"]["examples_per_second"] / entry["trainer"]["examples_per_second"]
    )
    table = (out / "finetune_race.md").read_text()
    assert table in capsys.readouterr().out
    assert f"{entry['trainer']['examples_per_second']:.2f}" in table
    assert report["cpu"]["model"] in table and "--quick" in table
    assert ("The machine was busy" in table) == report["busy"]


def test_rounds_alternate_who_goes_first():
    assert [finetune_race.order(i) for i in range(3)] == [
        ("ours", "trainer"),
        ("trainer", "ours"),
        ("ours", "trainer"),
    ]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--train-reviews", "45"], "--train-reviews 50"),  # 36 training reviews: 4.5 batches
        (["--train-reviews", "10"], "--train-reviews 20"),  # fewer than two batches
        (["--test-reviews", "0"], "--test-reviews must be at least 1"),
        (["--model", "/nonexistent"], "no config.json"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(inputs, tmp_path, capsys, extra, words):
    out = tmp_path / "race"
    assert finetune_race.main(["--quick", *inputs, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
