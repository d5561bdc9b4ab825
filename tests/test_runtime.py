"""Execution plans: which dtype policy and compile path the library picks, and that a model
built and compiled with a plan runs in that precision."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.slow
def test_default_cpu_path_keeps_float32_parity_with_hugging_face(minilm_dir):
    import tensorflow as tf
    import torch
    import transformers

    from attention_lab.convert import load_hf_checkpoint
    from attention_lab.parity.report import ATTENTION_TOLERANCE, HIDDEN_TOLERANCE, parity_batch

    model, config, _ = load_hf_checkpoint(minilm_dir)
    batch = parity_batch(minilm_dir, config.vocab_size)
    forward = cpu_plan().compile(
        lambda x: model(x, output_hidden_states=True, output_attentions=True)
    )
    ours = forward({k: tf.constant(v) for k, v in batch.items()})
    reference = transformers.BertModel.from_pretrained(str(minilm_dir), attn_implementation="eager")
    with torch.no_grad():
        theirs = reference.eval()(
            **{k: torch.as_tensor(v, dtype=torch.long) for k, v in batch.items()},
            output_hidden_states=True,
            output_attentions=True,
        )
    for a, b in zip(ours["hidden_states"], theirs.hidden_states, strict=True):
        assert np.abs(np.asarray(a) - b.numpy()).max() <= HIDDEN_TOLERANCE
    for a, b in zip(ours["attentions"], theirs.attentions, strict=True):
        assert np.abs(np.asarray(a) - b.numpy()).max() <= ATTENTION_TOLERANCE
