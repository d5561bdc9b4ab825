"""What one ``python -m benchmarks`` measures: the shapes, the tiny configuration of
``--quick``, the contenders with the precision of their matmuls, and the stages.

Both the runner (:mod:`benchmarks.run`) and the report (:mod:`benchmarks.report`, which lists
what a run left out) read these; neither imports the other for them.
"""

from __future__ import annotations

from attention_lab.models.bert import BertConfig

FORWARD_SHAPES = ((8, 128), (16, 150))
TRAIN_SHAPE = (16, 150)
CEILING_SHAPE = (1024, 768, 3072)  # BERT-Base feed-forward at 8 × 128 tokens

QUICK_CONFIG = BertConfig(
    vocab_size=1000,
    hidden_size=64,
    num_hidden_layers=1,
    num_attention_heads=4,
    intermediate_size=128,
    max_position_embeddings=64,
)
QUICK_SHAPES = ((2, 16), (2, 24))
QUICK_TRAIN_SHAPE = (2, 24)
QUICK_CEILING_SHAPE = (128, 64, 256)

# Precision of each contender's matmuls, to pick the ceiling it is compared with.
PRECISION = {
    "ours eager": "float32",
    "ours tf.function": "float32",
    "ours XLA": "float32",
    "ours bf16": "bfloat16",
    "ours bf16 XLA": "bfloat16",
    "ours tf.function plain": "float32",
    "ours bf16 plain": "bfloat16",
    "ours eager plain": "float32",
    "ours XLA fused": "float32",
    "PyTorch fp32": "float32",
    "PyTorch bf16 autocast": "bfloat16",
    "KerasHub XLA": "float32",
}


STAGES = ("forward", "train", "numerics", "bilstm", "tokenizer")
