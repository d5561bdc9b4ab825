"""Parity report: our BERT against Hugging Face's ``BertModel`` (PyTorch), layer by layer.

Both models see the same batch: real sentences of different lengths, padded to the longest
(so the attention mask matters), and a sentence pair (token types 0 and 1). The reference
runs in eval mode with eager attention (``attn_implementation="eager"``), which returns the
attention probabilities. Every intermediate tensor is compared: the embeddings, each block's
hidden state and attention probabilities, the last hidden state, the pooled output, and the
classifier logits when the checkpoint has a head.

Tolerances in float32: 1e-4 on hidden states, pooled output and logits; 1e-5 on attention
probabilities.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from attention_lab.convert import load_hf_checkpoint, load_model, resolve_model_dir
from attention_lab.errors import AttentionLabError
from attention_lab.models.classifier import BertForSequenceClassification

HIDDEN_TOLERANCE = 1e-4
ATTENTION_TOLERANCE = 1e-5

# Sentences of different lengths, starting with the chapter's example review.
SENTENCES = [
    "This was an absolutely terrible movie. Don't be lured in by Christopher Walken or "
    "Michael Ironside.",
    "A masterpiece.",
    "The plot meanders, the acting is wooden, and yet the final twenty minutes almost "
    "redeem it: a strange, uneven, oddly memorable film.",
]
PAIR = ("Don't be", "lured")
# Used when the checkpoint has no vocabulary: token ids drawn with this seed instead.
SEED = 1234


@dataclass
class Row:
    name: str
    max_abs_diff: float
    mean_abs_diff: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance


@dataclass
class ParityReport:
    model: str
    xla: bool
    batch_shape: tuple[int, int]
    rows: list[Row] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def first_failure(self) -> str | None:
        return next((row.name for row in self.rows if not row.passed), None)

    def _row(self, name: str) -> Row | None:
        return next((row for row in self.rows if row.name == name), None)

    def to_dict(self) -> dict:
        hidden = [row.max_abs_diff for row in self.rows if row.name.startswith("hidden_states[")]
        attentions = [row.max_abs_diff for row in self.rows if row.name.startswith("attentions[")]
        max_abs = {
            "last_hidden_state": self._row("last_hidden_state").max_abs_diff,
            "pooler_output": self._row("pooler_output").max_abs_diff
            if self._row("pooler_output")
            else None,
            "attentions": max(attentions),
            "hidden_states": hidden,
        }
        if self._row("logits"):
            max_abs["logits"] = self._row("logits").max_abs_diff
        return {
            "passed": self.passed,
            "model": self.model,
            "xla": self.xla,
            "batch_shape": list(self.batch_shape),
            "first_failure": self.first_failure,
            "max_abs_diff": max_abs,
            "rows": [
                {
                    "name": r.name,
                    "max_abs_diff": r.max_abs_diff,
                    "mean_abs_diff": r.mean_abs_diff,
                    "tolerance": r.tolerance,
                    "passed": r.passed,
                }
                for r in self.rows
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format_table(self) -> str:
        mode = "XLA (jit_compile=True)" if self.xla else "eager"
        lines = [
            f"Parity: attention_lab vs transformers.BertModel, {self.model}",
            f"batch {self.batch_shape[0]} x {self.batch_shape[1]} tokens, ours run {mode}, fp32",
            "",
            f"{'tensor':<22}{'max |diff|':>12}{'mean |diff|':>13}{'tolerance':>11}  ok",
        ]
        for r in self.rows:
            lines.append(
                f"{r.name:<22}{r.max_abs_diff:>12.2e}{r.mean_abs_diff:>13.2e}"
                f"{r.tolerance:>11.0e}  {'yes' if r.passed else 'NO'}"
            )
        lines.append("")
        if self.passed:
            lines.append("PASSED: every tensor within tolerance")
        else:
            lines.append(f"FAILED: first tensor over tolerance: {self.first_failure}")
        return "\n".join(lines)


def parity_batch(model_dir: Path, vocab_size: int) -> dict[str, np.ndarray]:
    """The comparison batch: tokenized with the checkpoint's own vocabulary when it has one."""
    if (model_dir / "vocab.txt").is_file():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        texts = [*SENTENCES, PAIR[0]]
        pairs = [None] * len(SENTENCES) + [PAIR[1]]
        encoded = [tokenizer(t, p) for t, p in zip(texts, pairs, strict=True)]
        length = max(len(e["input_ids"]) for e in encoded)
        batch = {}
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            rows = [e[key] + [0] * (length - len(e[key])) for e in encoded]
            batch[key] = np.asarray(rows, dtype=np.int32)
        return batch
    rng = np.random.default_rng(SEED)
    lengths, length = [24, 5, 17, 9], 24
    ids = rng.integers(1000 % vocab_size, vocab_size, size=(len(lengths), length))
    mask = (np.arange(length)[None, :] < np.asarray(lengths)[:, None]).astype(np.int32)
    types = np.zeros_like(mask)
    types[-1, 4:9] = 1  # the last row is a pair: segment B on its second part
    return {
        "input_ids": (ids * mask).astype(np.int32),
        "token_type_ids": types,
        "attention_mask": mask,
    }


def _reference_outputs(model_dir: Path, batch: dict[str, np.ndarray], with_head: bool):
    try:
        import torch
        import transformers
    except ImportError as err:
        raise AttentionLabError(
            "the parity report needs the Hugging Face reference: pip install "
            "'attention_lab[reference]' (torch and transformers)"
        ) from err
    cls = transformers.BertForSequenceClassification if with_head else transformers.BertModel
    reference = cls.from_pretrained(str(model_dir), attn_implementation="eager")
    reference.eval()
    inputs = {k: torch.as_tensor(v, dtype=torch.long) for k, v in batch.items()}
    with torch.no_grad():
        out = reference(**inputs, output_hidden_states=True, output_attentions=True)
        if with_head:
            base = reference.bert(**inputs, output_hidden_states=True, output_attentions=True)
            return base, out.logits.numpy()
    return out, None


def _diff(name: str, ours, theirs, tolerance: float) -> Row:
    delta = np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64))
    return Row(name, float(delta.max()), float(delta.mean()), tolerance)


def run_parity(model: str | os.PathLike, ours: str | os.PathLike | None = None, xla: bool = False):
    """Compare ``ours`` (default: ``model`` converted in memory) with the reference ``model``.

    ``model`` is a Hugging Face directory or hub id (the reference); ``ours`` may be a folder
    written by ``attention-lab convert`` from it.
    """
    model_dir = resolve_model_dir(model)
    if ours is None:
        keras_model, config, _ = load_hf_checkpoint(model_dir)
    else:
        keras_model, config = load_model(ours)
    with_head = isinstance(keras_model, BertForSequenceClassification)
    bert = keras_model.bert if with_head else keras_model
    batch = parity_batch(model_dir, config.vocab_size)

    def forward(inputs):
        outputs = bert(inputs, output_hidden_states=True, output_attentions=True)
        if with_head:
            outputs["logits"] = keras_model(inputs)
        return outputs

    if xla:
        forward = tf.function(forward, jit_compile=True)
    ours_out = forward({k: tf.constant(v) for k, v in batch.items()})
    ref, ref_logits = _reference_outputs(model_dir, batch, with_head)

    report = ParityReport(str(model), xla, tuple(batch["input_ids"].shape))
    ours_hidden, ref_hidden = ours_out["hidden_states"], ref.hidden_states
    report.rows.append(_diff("embeddings", ours_hidden[0], ref_hidden[0], HIDDEN_TOLERANCE))
    for i, (a, b) in enumerate(zip(ours_out["attentions"], ref.attentions, strict=True)):
        report.rows.append(_diff(f"attentions[{i}]", a, b, ATTENTION_TOLERANCE))
        report.rows.append(
            _diff(
                f"hidden_states[{i + 1}]", ours_hidden[i + 1], ref_hidden[i + 1], HIDDEN_TOLERANCE
            )
        )
    report.rows.append(
        _diff(
            "last_hidden_state",
            ours_out["sequence_output"],
            ref.last_hidden_state,
            HIDDEN_TOLERANCE,
        )
    )
    if "pooled_output" in ours_out and ref.pooler_output is not None:
        report.rows.append(
            _diff("pooler_output", ours_out["pooled_output"], ref.pooler_output, HIDDEN_TOLERANCE)
        )
    if with_head:
        report.rows.append(_diff("logits", ours_out["logits"], ref_logits, HIDDEN_TOLERANCE))
    return report
