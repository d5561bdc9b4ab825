"""The bfloat16 study (benchmarks/bf16_profile.py): how ops are grouped, the padding count, and
the whole pipeline in quick mode, with the "before" code really imported from the old commit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bf16_profile import padding_summary, padding_widths  # noqa: E402
from benchmarks.op_profile import tf_group  # noqa: E402

LAYER = "bert_1/layer_3_1"
# names as TensorFlow's profiler reports them for our model (see a trace of one forward pass)
READS = {
    f"{LAYER}/intermediate_1/Cast/Cast",  # the kernel's cast reads the variable
    f"{LAYER}/intermediate_1/BiasAdd/Cast",
}


@pytest.mark.parametrize(
    ("name", "op_type", "group"),
    [
        (f"{LAYER}/intermediate_1/Gelu/mul_2", "_MklNativeFusedMatMul", "matmul"),
        (f"{LAYER}/intermediate_1/Cast/Cast", "Cast", "weight casts"),
        (f"gradient_tape/{LAYER}/intermediate_1/Cast/Cast/Cast", "Cast", "weight casts"),
        (f"{LAYER}/intermediate_1/Cast_1", "Cast", "activation casts"),
        (f"gradient_tape/{LAYER}/attention_LayerNorm_1/Cast/Cast", "Cast", "activation casts"),
        (f"{LAYER}/intermediate_1/Gelu/Erfc", "Erfc", "GELU"),
        (f"{LAYER}/attention_LayerNorm_1/moments/mean", "Mean", "LayerNorm"),
        (f"{LAYER}/attention_1/Softmax", "_MklSoftmax", "softmax"),
        (f"{LAYER}/attention_1/truediv", "Mul", "softmax"),
        (f"{LAYER}/attention_1/transpose", "_MklTranspose", "transpose/reshape"),
        (f"{LAYER}/attention_1/concat", "ConcatV2", "transpose/reshape"),
        (f"{LAYER}/output_1/BiasAdd", "BiasAdd", "bias add"),
        (f"{LAYER}/add_1", "AddV2", "residual add"),
        (f"{LAYER}/output_dropout_1/stateless_dropout/Mul", "Mul", "dropout"),
        ("adam_w/Sqrt", "Sqrt", "optimizer"),
        ("bert_1/embeddings_1/word_embeddings_1/GatherV2", "GatherV2", "embeddings"),
    ],
)
def test_tensorflow_ops_fall_in_the_documented_groups(name, op_type, group):
    assert tf_group(name, op_type, READS) == group


def test_padding_counts_tokens_both_ways():
    lengths = np.array([150] * 16 + [20] * 16 + [40] * 8)  # 40 reviews: two full batches
    used, widths = padding_widths(lengths, batch=16, max_len=150)
    assert len(used) == 32 and list(widths["random order, padded to 150"]) == [150, 150]
    summary = padding_summary(lengths, batch=16, max_len=150)
    fixed = summary["random order, padded to 150"]
    assert fixed["tokens_computed"] == 2 * 16 * 150
    real = np.minimum(lengths[used], 150).sum()
    assert fixed["padded_fraction"] == pytest.approx(1 - real / (2 * 16 * 150))
    bucketed = summary["batched by length"]
    assert bucketed["tokens_computed"] <= fixed["tokens_computed"]
    assert bucketed["padded_fraction"] < fixed["padded_fraction"]


@pytest.mark.slow
def test_quick_profile_runs_before_and_after_in_their_own_processes(tmp_path):
    command = [
        sys.executable,
        "-m",
        "benchmarks.bf16_profile",
        "--quick",
        "--studies",
        "profile",
        "--out",
        str(tmp_path),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "bf16_profile.json").read_text())
    assert results["quick"] is True
    assert list(results["profile"]) == ["forward 2x16", "forward 2x24", "train 2x24"]
    forward = results["profile"]["forward 2x16"]
    assert set(forward) == {
        "ours mixed_bfloat16 [baseline]",
        "ours mixed_bfloat16",
        "ours bfloat16",
        "PyTorch bf16 autocast",
    }
    for profile in forward.values():
        assert profile["groups_ms"]["matmul"] > 0
        assert 0 < profile["ops_total_ms"] <= 1.5 * profile["wall_ms"]
    # the pure bfloat16 policy has no float32 variables to cast down: at most a LayerNorm's
    # bfloat16 γ and β cast up to float32, a few small casts where mixed casts every kernel
    pure, mixed = (
        forward[k]["groups_ms"]["weight casts"] for k in ("ours bfloat16", "ours mixed_bfloat16")
    )
    assert mixed > 0 and pure < 0.5 * mixed
    assert "## profile forward 2x16" in (tmp_path / "bf16_profile.md").read_text()
