"""Analytic FLOP counts: what "achieved GFLOP/s" means in the tables.

Only matrix multiplications are counted, at 2 FLOPs per multiply-add; they are over 98% of
BERT-Base's arithmetic at these lengths. Not counted: embedding gathers, GELU, softmax,
LayerNorm, dropout, bias adds and the optimizer's elementwise update.

Per encoder block, with T = batch × length tokens, hidden size H, intermediate size I, length L:

    Q, K, V projections     3 · 2·T·H·H
    attention output        2·T·H·H
    scores  Q Kᵀ            2·T·L·H        (all heads together: heads × d_k = H)
    context P V             2·T·L·H
    feed-forward            2 · 2·T·H·I

plus the pooler, 2·batch·H·H. A training step counts 3× the forward pass: the backward pass
of a matmul is two matmuls of the same size (gradients for the input and for the weight).
"""

from __future__ import annotations

from attention_lab.models.bert import BertConfig


def bert_forward_flops(config: BertConfig, batch: int, length: int) -> int:
    """Matmul FLOPs of one forward pass of the encoder and pooler."""
    tokens = batch * length
    hidden, inner = config.hidden_size, config.intermediate_size
    projections = 4 * 2 * tokens * hidden * hidden
    attention = 2 * (2 * tokens * length * hidden)
    feed_forward = 2 * (2 * tokens * hidden * inner)
    pooler = 2 * batch * hidden * hidden
    return config.num_hidden_layers * (projections + attention + feed_forward) + pooler


def bert_train_step_flops(config: BertConfig, batch: int, length: int) -> int:
    """Matmul FLOPs of forward + backward (3× forward); the classifier head is negligible."""
    return 3 * bert_forward_flops(config, batch, length)


def matmul_flops(m: int, k: int, n: int) -> int:
    return 2 * m * k * n
