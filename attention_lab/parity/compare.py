"""Differences between three runs of one tensor (ours, the reference, float64), by position.

Only positions that hold a real token (``attention_mask == 1``) carry meaning. A padded
position's hidden state is computed from a query that attends to the real tokens but is
never attended to, so nothing downstream reads it; it is also ill-conditioned (rounding
differences there are several times larger than at real tokens, in Hugging Face's own
float32 as in ours), which is why suites such as transformers' eager-vs-SDPA tests zero
padded positions before comparing. Here:

* hidden states ``(batch, len, H)`` are compared at real tokens; padded positions are kept
  apart, for information;
* attention probabilities ``(batch, heads, len, len)`` are compared on real query rows (over
  every key); padded query rows are kept apart; and the weight that any query gives a
  padded key is tracked separately, because it must be zero;
* pooled outputs and logits ``(batch, n)`` have one row per sequence, all real; so does
  the next-sentence head's ``seq_relationship_logits``, while the masked-LM head's
  ``prediction_logits`` ``(batch, len, vocab)`` is a sequence, compared at real tokens;
* a weight's gradient (:mod:`attention_lab.parity.gradients`) is compared whole.

:class:`TensorStats` accumulates these maxima over any number of batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def named_outputs(hidden_states, attentions, last, pooled, logits) -> dict:
    """The tensors of one forward pass under their report names, in the order computed.

    ``logits`` is a classifier's ``(batch, num_labels)`` array, named ``logits``, or a
    pre-training model's dict of head outputs under Hugging Face's names:
    ``prediction_logits`` ``(batch, len, vocab_size)`` and ``seq_relationship_logits``
    ``(batch, 2)`` (chapter section 3, pre-training).
    """
    names = {"embeddings": hidden_states[0]}
    for i, probs in enumerate(attentions):
        names[f"attentions[{i}]"] = probs  # (batch, heads, len, len)
        names[f"hidden_states[{i + 1}]"] = hidden_states[i + 1]  # (batch, len, H)
    names["last_hidden_state"] = last  # (batch, len, H)
    if pooled is not None:
        names["pooler_output"] = pooled  # (batch, H)
    if isinstance(logits, dict):
        names.update(logits)  # the pre-training heads' outputs
    elif logits is not None:
        names["logits"] = logits  # (batch, num_labels)
    return names


# The tensors with one row per sequence (every element compared).
POOLED = ("pooler_output", "logits", "seq_relationship_logits")


def _max(values: np.ndarray) -> float | None:
    return float(values.max()) if values.size else None


def _larger(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class TensorStats:
    """Running maxima of one tensor's differences; every field is a max over all batches."""

    name: str
    max_abs_diff: float = 0.0  # |ours - reference| at real positions
    sum_abs_diff: float = 0.0
    count: int = 0
    max_abs_diff_padded: float | None = None  # |ours - reference| at padded positions
    ours_vs_float64: float = 0.0  # |ours - float64| at real positions
    reference_vs_float64: float = 0.0  # |reference - float64| at real positions
    max_abs: float = 0.0  # max |float64| at real positions: the tensor's scale
    padded_key_weight: float | None = None  # attention only: largest weight on a padded key

    @property
    def kind(self) -> str:
        """``"attention"``, ``"sequence"`` (one vector per position) or ``"pooled"``."""
        if self.name.startswith("attentions["):
            return "attention"
        if self.name in POOLED:
            return "pooled"
        return "sequence"

    @property
    def mean_abs_diff(self) -> float:
        return self.sum_abs_diff / max(self.count, 1)

    def update(self, ours, reference, float64, attention_mask: np.ndarray) -> None:
        """Add one batch: three arrays of the same shape and its ``(batch, len)`` mask (None
        for a tensor compared whole)."""
        ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
        real = None if attention_mask is None else attention_mask.astype(bool)
        if self.kind == "attention":
            rows = np.broadcast_to(real[:, None, :, None], ours.shape)  # real query rows
            padded_keys = np.broadcast_to(~real[:, None, None, :], ours.shape)
            self.padded_key_weight = _larger(self.padded_key_weight, _max(ours[padded_keys]))
        elif self.kind == "sequence":
            rows = np.broadcast_to(real[:, :, None], ours.shape)
        else:
            rows = np.ones(ours.shape, bool)
        delta = np.abs(ours - reference)
        self.max_abs_diff = max(self.max_abs_diff, float(delta[rows].max()))
        self.sum_abs_diff += float(delta[rows].sum())
        self.count += int(rows.sum())
        self.max_abs_diff_padded = _larger(self.max_abs_diff_padded, _max(delta[~rows]))
        self.ours_vs_float64 = max(self.ours_vs_float64, float(np.abs(ours - float64)[rows].max()))
        self.reference_vs_float64 = max(
            self.reference_vs_float64, float(np.abs(reference - float64)[rows].max())
        )
        self.max_abs = max(self.max_abs, float(np.abs(float64[rows]).max()))
