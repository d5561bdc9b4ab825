"""How far the bfloat16 path drifts from float32, on real pretrained weights.

The converted checkpoint is run twice on the parity batch (real sentences of different
lengths, padded): once in float32 and once under the ``mixed_bfloat16`` policy with the same
weights, each on the library's CPU path for that precision. Differences are measured on real
(unpadded) tokens only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _stats(ours: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> dict:
    real = mask.astype(bool)
    a = np.asarray(ours, np.float64)[real]  # (real tokens, H)
    b = np.asarray(reference, np.float64)[real]
    cosine = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    delta = np.abs(a - b)
    return {
        "max_abs_diff": float(delta.max()),
        "mean_abs_diff": float(delta.mean()),
        "min_cosine": float(cosine.min()),
    }


def bf16_against_fp32(model_dir: str | Path) -> dict:
    """Per-tensor differences between the float32 and bfloat16 runs of one checkpoint."""
    import tensorflow as tf

    from attention_lab.convert import load_bert
    from attention_lab.models.bert import BertModel
    from attention_lab.parity.report import parity_batch
    from attention_lab.runtime import choose_plan

    model_dir = Path(model_dir)
    loaded = load_bert(model_dir)
    fp32, config = loaded.model, loaded.config
    bf16_plan = choose_plan("bfloat16", device="cpu")
    pooler = fp32.pooler is not None
    bf16 = BertModel(config, add_pooling_layer=pooler, dtype=bf16_plan.dtype_policy)
    bf16.build()
    bf16.set_weights(fp32.get_weights())
    batch = parity_batch(model_dir, config.vocab_size)
    inputs = {k: tf.constant(v) for k, v in batch.items()}

    def run(model, jit):
        call = tf.function(lambda x: model(x, output_hidden_states=True), jit_compile=jit)
        return call(inputs)

    ref = run(fp32, choose_plan("float32", device="cpu").jit_compile)
    low = run(bf16, bf16_plan.jit_compile)
    mask = batch["attention_mask"]
    tensors = {"embeddings": _stats(low["hidden_states"][0], ref["hidden_states"][0], mask)}
    last = len(ref["hidden_states"]) - 1
    tensors[f"hidden_states[{last}] (last)"] = _stats(
        low["sequence_output"], ref["sequence_output"], mask
    )
    worst = max(
        range(1, last + 1),
        key=lambda i: _stats(low["hidden_states"][i], ref["hidden_states"][i], mask)[
            "max_abs_diff"
        ],
    )
    tensors[f"hidden_states[{worst}] (worst block)"] = _stats(
        low["hidden_states"][worst], ref["hidden_states"][worst], mask
    )
    if "pooled_output" in ref:
        pooled_low = np.asarray(low["pooled_output"])[:, None]  # (batch, 1, H): one "token"
        pooled_ref = np.asarray(ref["pooled_output"])[:, None]
        ones = np.ones(pooled_ref.shape[:2], np.int32)
        tensors["pooled_output"] = _stats(pooled_low, pooled_ref, ones)
    return {
        "model": f"{model_dir.parent.name}/{model_dir.name}",
        "batch": int(mask.shape[0]),
        "length": int(mask.shape[1]),
        "tensors": tensors,
    }
