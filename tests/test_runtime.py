"""The one precision and compile plan: what --precision auto and --xla auto choose, and why."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import BertConfig, BertModel
from attention_lab.runtime import choose_plan, native_bfloat16_cpu, this_cpu

TINY = BertConfig(
    vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24
)
EPYC = (
    "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
    "processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
)
SAPPHIRE_RAPIDS = "flags\t\t: avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
OLDER = "flags\t\t: sse4_2 avx avx2 fma\n"


def test_native_bfloat16_is_read_off_the_cpu_flags():
    assert native_bfloat16_cpu(SAPPHIRE_RAPIDS) == "AMX"
    assert native_bfloat16_cpu(EPYC) == "AVX-512 BF16"
    assert native_bfloat16_cpu(OLDER) is None
    assert native_bfloat16_cpu("") is None


def test_the_cpu_is_named_once_with_its_flags():
    cpu = this_cpu(EPYC)
    assert cpu.model == "AMD EPYC" and {"avx512_bf16", "avx2"} <= cpu.flags
    assert this_cpu(OLDER).model  # no model name line: the platform's name, never empty


@pytest.mark.parametrize(
    ("cpuinfo", "precision"),
    [(EPYC, "bfloat16"), (SAPPHIRE_RAPIDS, "bfloat16"), (OLDER, "float32")],
)
def test_auto_picks_bfloat16_only_where_the_cpu_computes_it(monkeypatch, cpuinfo, precision):
    monkeypatch.setattr(
        "attention_lab.runtime.native_bfloat16_cpu", lambda: native_bfloat16_cpu(cpuinfo)
    )
    plan = choose_plan(device="cpu")
    assert plan.precision == precision and not plan.jit_compile
    assert ("natively" in plan.reason) == (precision == "bfloat16")
    assert "no XLA on a CPU" in plan.describe()


def test_gpu_explicit_choices_and_bad_values():
    gpu = choose_plan(device="gpu")
    assert (gpu.precision, gpu.dtype_policy, gpu.jit_compile) == (
        "bfloat16",
        "mixed_bfloat16",
        True,
    )
    plan = choose_plan("float16", "on", device="cpu")
    assert (plan.dtype_policy, plan.jit_compile) == ("mixed_float16", True)
    assert plan.reason.startswith("float16 as asked; XLA on as asked; eager block")
    with pytest.raises(AttentionLabError, match="unknown precision 'int8'"):
        choose_plan("int8")
    with pytest.raises(AttentionLabError, match="unknown --xla 'maybe'"):
        choose_plan(xla="maybe")


def test_the_fused_block_runs_where_tensorflow_fuses_it_and_nowhere_else():
    assert choose_plan("float32", "off", device="cpu").implementation == "fused"
    assert choose_plan("bfloat16", "off", device="cpu").implementation == "fused"
    assert choose_plan("float32", "on", device="cpu").implementation == "eager"
    assert choose_plan(device="gpu").implementation == "eager"  # XLA on a GPU
    assert "fused block" in choose_plan("float32", "off", device="cpu").describe()


def test_bf16_plan_runs_the_model_in_bfloat16_close_to_float32():
    ids = np.random.default_rng(0).integers(1, 50, (2, 8)).astype(np.int32)
    mask = np.ones((2, 8), np.int32)
    mask[1, 5:] = 0
    inputs = {"input_ids": ids, "attention_mask": mask}
    outputs = {}
    for precision in ("float32", "bfloat16"):
        plan = choose_plan(precision, device="cpu")
        model = BertModel(TINY, implementation=plan.implementation, dtype=plan.dtype_policy)
        model.build()
        if precision == "float32":
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        outputs[precision] = plan.compile(lambda x, m=model: m(x))(inputs)
    low, ref = outputs["bfloat16"], outputs["float32"]
    assert keras.backend.standardize_dtype(low["sequence_output"].dtype) == "bfloat16"
    diff = np.abs(np.asarray(low["sequence_output"], np.float32) - ref["sequence_output"])
    assert 0 < diff.max() < 0.1


@pytest.mark.slow
def test_the_float32_cpu_path_keeps_parity_with_hugging_face(minilm_dir):
    from attention_lab.parity import run_parity

    plan = choose_plan("float32", device="cpu")
    report = run_parity(minilm_dir, xla=plan.jit_compile, implementation=plan.implementation)
    assert report.passed, report.format_table()
