"""Execution plans: which dtype policy and compile path the library picks, and that a model
built and compiled with a plan runs in that precision."""

from __future__ import annotations

import numpy as np

from attention_lab import BertConfig
from attention_lab.models.bert import BertModel
from attention_lab.runtime import ExecutionPlan, cpu_plan, default_plan, gpu_plan

TINY = BertConfig(
    vocab_size=50,
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=16,
)


def test_plans_per_device():
    assert cpu_plan() == ExecutionPlan("float32", jit_compile=False)
    assert cpu_plan(mixed_precision=True) == ExecutionPlan("mixed_bfloat16", jit_compile=False)
    assert gpu_plan() == ExecutionPlan("mixed_bfloat16", jit_compile=True)
    assert gpu_plan(mixed_precision=False).dtype_policy == "float32"
    assert default_plan() == cpu_plan()  # the test machines have no GPU


def test_bf16_plan_runs_the_model_in_bfloat16_close_to_float32():
    ids = np.random.default_rng(0).integers(1, 50, (2, 8)).astype(np.int32)
    mask = np.ones((2, 8), np.int32)
    mask[1, 5:] = 0
    inputs = {"input_ids": ids, "attention_mask": mask}
    outputs = {}
    for plan in (cpu_plan(), cpu_plan(mixed_precision=True)):
        model = BertModel(TINY, dtype=plan.dtype_policy)
        model.build()
        if plan.dtype_policy == "float32":
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        outputs[plan.dtype_policy] = plan.compile(lambda x, m=model: m(x))(inputs)
    low, ref = outputs["mixed_bfloat16"], outputs["float32"]
    assert low["sequence_output"].dtype.name == "bfloat16"
    diff = np.abs(np.asarray(low["sequence_output"], np.float32) - ref["sequence_output"])
    assert 0 < diff.max() < 0.1
