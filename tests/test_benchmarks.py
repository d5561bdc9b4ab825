"""The benchmark pipeline end to end in quick mode, its FLOP count, the shared-doc handling
and the bfloat16 path's drift from float32 on real weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from attention_lab.models.bert import BertConfig

# benchmarks/ is a top-level folder of the repository, not part of the installed package.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.flops import bert_forward_flops, bert_train_step_flops  # noqa: E402
from benchmarks.report import kept_sections  # noqa: E402
from benchmarks.timing import Timing, alternate  # noqa: E402


def test_bert_base_forward_flops_by_hand():
    # Per token and block: 4·768² + 2·768·3072 multiply-adds; attention 2·128·768 per token.
    per_token = 12 * (4 * 768 * 768 + 2 * 768 * 3072 + 2 * 128 * 768)
    expected = 2 * (8 * 128 * per_token + 8 * 768 * 768)
    assert bert_forward_flops(BertConfig(), 8, 128) == expected
    assert expected / 8 == pytest.approx(22.4e9, rel=0.01)  # about 22 GFLOP per sequence
    assert bert_train_step_flops(BertConfig(), 8, 128) == 3 * expected


def test_alternate_runs_every_contender_in_rotating_order():
    calls = []
    contenders = {name: (lambda n=name: calls.append(n)) for name in "abc"}
    timings = alternate(contenders, items=4, warmup=1, repeats=3, log=lambda _: None)
    assert calls[:3] == ["a", "b", "c"]  # warm-up
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert all(len(t.seconds) == 3 for t in timings.values())


def test_timing_throughput_and_interquartile_range():
    timing = Timing("x", items=8, seconds=[1.0, 2.0, 4.0, 2.0, 2.0])
    assert timing.throughput == 4.0
    low, high = timing.throughput_range
    assert (low, high) == (4.0, 4.0)
    assert timing.to_dict()["min_s"] == 1.0


def test_markdown_keeps_the_tokenizer_section_only():
    text = "# Benchmarks\n\n## Old\nold\n## Tokenizer speed\nfast\n| a |\n## GPU\nnone\n"
    assert kept_sections(text) == "## Tokenizer speed\nfast\n| a |\n"


@pytest.mark.slow
def test_quick_run_writes_json_markdown_and_chart(tmp_path):
    # A fresh process: the run pins TensorFlow's thread pools, which only works before
    # TensorFlow has started (other tests in this process have started it).
    (tmp_path / "benchmarks.md").write_text("# x\n## Tokenizer speed\nkept line\n")
    command = [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "benchmarks.json").read_text())
    assert results["quick"] is True and results["complete"] is True
    measurements = results["measurements"]
    assert list(measurements) == ["forward 2x16", "forward 2x24", "train step 2x24"]
    for m in measurements.values():
        assert len(m["contenders"]) == (12 if m["kind"] == "forward" else 11)
        for row in m["contenders"].values():
            assert len(row["samples_s"]) == 2
            assert row["throughput_median"] > 0
            assert row["gflops"] == pytest.approx(m["flops_per_call"] / row["median_s"] / 1e9)
    assert set(results["ceiling"]["gflops"]) == {"float32", "bfloat16"}
    assert results["machine"]["flags"]["avx2"] in (True, False)
    markdown = (tmp_path / "benchmarks.md").read_text()
    assert "| ours XLA |" in markdown and "## Goals of issue 7" in markdown
    assert markdown.rstrip().endswith("## Tokenizer speed\nkept line")
    assert (tmp_path / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_bf16_path_stays_close_to_float32_on_real_weights(minilm_dir):
    from benchmarks.numerics import bf16_against_fp32

    numerics = bf16_against_fp32(minilm_dir)
    for name, row in numerics["tensors"].items():
        assert row["min_cosine"] > 0.999, name
        assert row["max_abs_diff"] < 0.15, name
        assert row["max_abs_diff"] > 0, name  # it really ran in a lower precision


def test_merge_runs_adds_the_other_process_stages_and_lists_it():
    from benchmarks.report import merge_runs

    def run(command, measurement, complete=True):
        return {
            "command": command,
            "date": "d",
            "complete": complete,
            "stages": [measurement],
            "machine": {"load_average_start": [1.0], "load_average_end": [2.0]},
            "ceiling": {"gflops": {"float32": 1.0, "bfloat16": 2.0}},
            "measurements": {measurement: {"kind": measurement, "contenders": {command: {}}}},
        }

    merged = merge_runs([run("a", "forward"), run("b", "train", complete=False), run("c", "train")])
    assert list(merged["measurements"]) == ["forward", "train"]
    assert merged["measurements"]["train"]["contenders"] == {"b": {"run": 2}, "c": {"run": 3}}
    assert merged["command"] == "a" and merged["complete"] is False
    assert [other["command"] for other in merged["other_runs"]] == ["b", "c"]
    assert merged["other_runs"][0]["measurements"] == ["train"]


def test_compare_runs_sets_the_change_against_the_noise_of_two_runs():
    from benchmarks.compare_runs import markdown, ratio_rows

    def run(ours, torch, plain=None):
        rates = {"ours tf.function": ours, "PyTorch fp32": torch, "PyTorch bf16 autocast": 1.0}
        rates["KerasHub XLA"] = 1.0
        if plain is not None:
            rates["ours tf.function plain"] = plain
        contenders = {name: {"throughput_median": rate} for name, rate in rates.items()}
        machine = {"load_average_start": [1, 1, 1], "load_average_end": [1, 1, 1]}
        return {
            "measurements": {"forward 8x128": {"contenders": contenders}},
            "date": "d",
            "command": "c",
            "machine": machine,
            "ceiling": {"gflops": {"float32": 1.0, "bfloat16": 2.0}},
        }

    first, second, after = run(2.0, 1.0), run(2.2, 1.0), run(2.1, 1.0, plain=1.5)
    row = ratio_rows(first, second, after)[0]
    assert row[:3] == ("forward 8x128", "ours tf.function", "PyTorch fp32")
    assert row[3:6] == (2.0, 2.2, 2.1) and row[6] == pytest.approx(1.0)
    text = markdown(first, second, after)
    assert "run 2 / run 1: 1.100 to 1.100" in text  # the noise: the same code, two runs
    assert "| ours tf.function: 2.1 | ours tf.function plain: 1.5 | 1.400 |" in text
