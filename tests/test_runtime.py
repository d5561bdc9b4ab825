"""The one precision and compile plan: what --precision auto and --xla auto choose, and why."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import BertConfig, BertModel
from attention_lab.runtime import (
    PROBE_MARGIN,
    Probe,
    cached_probe,
    choose_plan,
    encoder_block,
    measure_probe,
    native_bfloat16_cpu,
    this_cpu,
)

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


# Matmul rates (GFLOP/s) of python -m benchmarks on the CPU kinds these machines have.
XEON_WITHOUT_AMX = Probe(float32=228.0, bfloat16=167.0)  # AVX-512 BF16 flag, bfloat16 slower
EPYC_PROBE = Probe(float32=161.0, bfloat16=364.0)  # AVX-512 BF16, bfloat16 2.3× faster


@pytest.mark.parametrize(
    ("probe", "precision"),
    [
        (XEON_WITHOUT_AMX, "float32"),
        (EPYC_PROBE, "bfloat16"),
        (Probe(float32=100.0, bfloat16=105.0), "float32"),  # faster, not by PROBE_MARGIN
        (Probe(float32=100.0, bfloat16=100.0 * PROBE_MARGIN), "bfloat16"),
    ],
)
def test_auto_picks_the_precision_measured_faster_not_the_one_a_flag_promises(probe, precision):
    plan = choose_plan(device="cpu", probe=probe)
    assert plan.precision == precision and not plan.jit_compile
    assert "measured" in plan.reason and "GFLOP/s" in plan.reason  # run.json states the figures
    assert "no XLA on a CPU" in plan.describe()


def test_the_probe_is_measured_once_per_machine_and_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("ATTENTION_LAB_CACHE", str(tmp_path))
    measured = []

    def measure():
        measured.append(1)
        return XEON_WITHOUT_AMX

    monkeypatch.setattr("attention_lab.runtime.measure_probe", measure)
    assert cached_probe() == XEON_WITHOUT_AMX and cached_probe() == XEON_WITHOUT_AMX
    assert len(measured) == 1 and (tmp_path / "precision_probe.json").is_file()
    assert choose_plan(device="cpu").precision == "float32"
    (tmp_path / "precision_probe.json").write_text("{not json")  # damaged: measured again
    assert cached_probe() == XEON_WITHOUT_AMX and len(measured) == 2


def test_the_probe_times_both_precisions():
    probe = measure_probe(shape=(64, 32, 48), rounds=2)
    assert probe.float32 > 0 and probe.bfloat16 > 0


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
    assert encoder_block(jit_compile=False) == "fused" and encoder_block(True) == "eager"
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
