"""Hugging Face's ``BertModel`` (PyTorch) as the reference, and again in float64 as ground truth.

The class is the one of ours: ``BertModel``, ``BertForSequenceClassification``,
``BertForPreTraining`` or ``BertForMaskedLM`` (:func:`attention_lab.parity.ours.architecture`).
The reference runs in eval mode with eager attention (``attn_implementation="eager"``), which
returns the attention probabilities. Three runs of the same checkpoint on the same batch:

* ``"float32"``: the reference as users run it;
* ``"bfloat16"``: the same float32 weights under ``torch.autocast("cpu", dtype=torch.bfloat16)``
  (matmuls in bfloat16, LayerNorm and softmax in float32), PyTorch's mixed precision;
* ``"float64"``: a copy converted with ``.double()``. Its rounding errors (about 1e-16
  relative) are ten orders of magnitude below float32's, so it stands in for the exact result
  against which both float32 implementations are measured.

Every tensor comes back as a numpy array (float64 from the float64 run), named by
:func:`attention_lab.parity.compare.named_outputs`.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.parity.compare import named_outputs

PRECISIONS = ("float32", "bfloat16", "float64")


class Reference:
    """One Hugging Face checkpoint, loaded once, run in float32, bfloat16 autocast or float64."""

    def __init__(self, model_dir: Path, with_head: bool = False, architecture: str | None = None):
        """``architecture`` names the transformers class; without it, ``with_head`` picks
        ``BertForSequenceClassification`` (True) or ``BertModel``."""
        try:
            import torch
            import transformers
        except ImportError as err:
            raise AttentionLabError(
                "the parity report needs the Hugging Face reference: pip install "
                "'attention_lab[reference]' (torch and transformers)"
            ) from err
        self._torch = torch
        if architecture is None:
            architecture = "BertForSequenceClassification" if with_head else "BertModel"
        cls = getattr(transformers, architecture)
        self.architecture = architecture
        self.with_head = architecture != "BertModel"
        self.model = cls.from_pretrained(str(model_dir), attn_implementation="eager").eval()
        self.model64 = copy.deepcopy(self.model).double()

    def __call__(self, batch: dict[str, np.ndarray], precision: str) -> dict[str, np.ndarray]:
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} is not one of {PRECISIONS}")
        torch = self._torch
        model = self.model64 if precision == "float64" else self.model
        autocast = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if precision == "bfloat16"
            else contextlib.nullcontext()
        )
        inputs = {k: torch.as_tensor(v, dtype=torch.long) for k, v in batch.items()}
        with torch.no_grad(), autocast:
            bert = model.bert if self.with_head else model
            base = bert(**inputs, output_hidden_states=True, output_attentions=True)
            logits = self._head_outputs(model(**inputs)) if self.with_head else None
        # float64 from the float64 run, float32 (bfloat16 exactly) otherwise
        dtype = torch.float64 if precision == "float64" else torch.float32

        def numpy(t):
            if isinstance(t, dict):
                return {name: numpy(value) for name, value in t.items()}
            return None if t is None else t.detach().to(dtype).numpy()

        return named_outputs(
            [numpy(h) for h in base.hidden_states],
            [numpy(a) for a in base.attentions],
            numpy(base.last_hidden_state),
            numpy(base.pooler_output),
            numpy(logits),
        )

    def _head_outputs(self, out):
        """The head's outputs under our names: a classifier's logits, or the pre-training
        heads' dict."""
        if self.architecture == "BertForPreTraining":
            return {
                "prediction_logits": out.prediction_logits,  # (batch, len, vocab)
                "seq_relationship_logits": out.seq_relationship_logits,  # (batch, 2)
            }
        if self.architecture == "BertForMaskedLM":
            return {"prediction_logits": out.logits}  # (batch, len, vocab)
        return out.logits  # (batch, num_labels)

    def _loss(self, model, batch: dict[str, np.ndarray], labels: dict[str, np.ndarray]):
        """Hugging Face's own loss of the head on ``batch`` (``labels`` under its keywords:
        ``labels``, ``next_sentence_label``)."""
        torch = self._torch
        inputs = {k: torch.as_tensor(v, dtype=torch.long) for k, v in {**batch, **labels}.items()}
        return model(**inputs).loss

    def gradients(self, batch, labels, precision: str) -> tuple[float, dict[str, np.ndarray]]:
        """The loss and every parameter's gradient after one backward pass (eval mode: no
        dropout), by parameter name; a tied parameter (the decoder and the word embeddings)
        appears once, under its first name, with the sum of its uses."""
        if precision not in ("float32", "float64"):
            raise ValueError(f"gradients in float32 or float64, not {precision!r}")
        model = self.model64 if precision == "float64" else self.model
        dtype = self._torch.float64 if precision == "float64" else self._torch.float32
        model.zero_grad(set_to_none=True)
        loss = self._loss(model, batch, labels)
        loss.backward()
        grads = {
            name: np.zeros(tuple(p.shape))
            if p.grad is None
            else p.grad.detach().to(dtype).numpy().copy()
            for name, p in model.named_parameters()
        }
        model.zero_grad(set_to_none=True)
        return float(loss.detach()), grads

    def adamw_step(
        self,
        batch,
        labels,
        precision: str,
        lr: float,
        weight_decay: float,
        eps: float,
        betas: tuple[float, float],
        no_decay: tuple[str, ...],
    ) -> dict[str, np.ndarray]:
        """Every parameter's change after one step of ``torch.optim.AdamW`` on a copy of the
        model; parameters whose name holds one of ``no_decay`` are not decayed.

        ``eps`` is Keras's: Keras adds it to √v before the bias correction, PyTorch after,
        so PyTorch gets ``eps / √(1 − β₂)`` for this first step (see
        :mod:`attention_lab.parity.gradients`).
        """
        torch = self._torch
        model = copy.deepcopy(self.model64 if precision == "float64" else self.model)
        named = dict(model.named_parameters())
        before = {name: p.detach().double().numpy().copy() for name, p in named.items()}
        groups = [
            {"params": [p for n, p in named.items() if not any(k in n for k in no_decay)]},
            {
                "params": [p for n, p in named.items() if any(k in n for k in no_decay)],
                "weight_decay": 0.0,
            },
        ]
        optimizer = torch.optim.AdamW(
            groups, lr=lr, betas=betas, eps=eps / np.sqrt(1 - betas[1]), weight_decay=weight_decay
        )
        self._loss(model, batch, labels).backward()
        optimizer.step()
        return {name: p.detach().double().numpy() - before[name] for name, p in named.items()}
