"""Attention rollout (Abnar and Zuidema, 2020, "Quantifying Attention Flow in Transformers",
section 3).

One layer's attention says which positions a token reads *in that layer*; the token it reads
is itself already a mixture of the layer below. Rollout follows the mixing down to the input.
Each encoder block adds its attention output to a residual connection (chapter section 3,
"Transformer encoder block"), so half of what position *i* carries on is itself. Per layer
*l*, with the heads averaged:

    Ãₗ = 0.5 · mean_heads(Aₗ) + 0.5 · I,   rows renormalised to sum to 1
    R₁ = Ã₁,   Rₗ = Ãₗ · Rₗ₋₁

Row *i* of ``R_L`` is how much of the input token *j* flows into position *i* after the last
layer; row 0 (``[CLS]``, what the pooled output and both classifier heads read) is the
relevance of each input token to the prediction, as far as attention alone can say (the
feed-forward sub-layers and the values' norms are left out, as in the paper).

Padding is excluded: its rows and columns are removed before the average (a padded key gets
no weight from a real query anyway, and a padded query is not text), and come back as zeros.
"""

from __future__ import annotations

import numpy as np

from attention_lab.errors import AttentionLabError


def attention_rollout(attentions, mask=None, residual: float = 0.5) -> np.ndarray:
    """The rollout after every layer, ``(layers, n, n)``; row *i* sums to 1 for a real token.

    Args:
        attentions: one example's attention probabilities ``(layers, heads, n, n)``, as
            :class:`~attention_lab.models.bert.BertModel` returns them per layer (stacked).
        mask: ``(n,)`` 1/true for real tokens, 0/false for padding; all real when None.
        residual: the share of the identity, 0.5 in the paper (0 gives the plain product of
            the head-averaged attention matrices).

    Returns:
        ``R`` with ``R[l]`` the rollout through layers ``0 … l``; padded rows and columns
        are 0.
    """
    attentions = np.asarray(attentions, dtype=np.float64)
    if attentions.ndim != 4 or attentions.shape[-1] != attentions.shape[-2]:
        raise AttentionLabError(
            f"attention rollout needs one example's attentions (layers, heads, n, n), got "
            f"shape {attentions.shape}; stack the per-layer outputs of one row of the batch"
        )
    if not 0.0 <= residual <= 1.0:
        raise AttentionLabError(f"residual must lie in [0, 1], got {residual}")
    n = attentions.shape[-1]
    real = np.ones(n, bool) if mask is None else np.asarray(mask).astype(bool)
    if real.shape != (n,):
        raise AttentionLabError(f"mask has shape {real.shape}; expected ({n},), one per token")
    if not real.any():
        raise AttentionLabError("the mask marks no real token; there is nothing to roll out")
    kept = np.ix_(real, real)
    rollout = np.eye(int(real.sum()))
    steps = np.zeros((attentions.shape[0], n, n))
    for layer, heads in enumerate(attentions):
        mixed = (1.0 - residual) * heads.mean(axis=0)[kept] + residual * np.eye(len(rollout))
        mixed /= mixed.sum(axis=-1, keepdims=True)  # (n_real, n_real), rows sum to 1
        rollout = mixed @ rollout  # R_l = Ã_l · R_{l-1}
        steps[layer][kept] = rollout
    return steps


def cls_relevance(attentions, mask=None, residual: float = 0.5) -> np.ndarray:
    """``(layers, n)``: the ``[CLS]`` row of the rollout after each layer (0 for padding)."""
    return attention_rollout(attentions, mask, residual)[:, 0, :]
