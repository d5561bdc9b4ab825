"""Hugging Face's ``BertModel`` (PyTorch) as the reference, and again in float64 as ground truth.

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

    def __init__(self, model_dir: Path, with_head: bool):
        try:
            import torch
            import transformers
        except ImportError as err:
            raise AttentionLabError(
                "the parity report needs the Hugging Face reference: pip install "
                "'attention_lab[reference]' (torch and transformers)"
            ) from err
        self._torch = torch
        cls = transformers.BertForSequenceClassification if with_head else transformers.BertModel
        self.with_head = with_head
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
            logits = model(**inputs).logits if self.with_head else None
        # float64 from the float64 run, float32 (bfloat16 exactly) otherwise
        dtype = torch.float64 if precision == "float64" else torch.float32

        def numpy(t):
            return None if t is None else t.detach().to(dtype).numpy()

        return named_outputs(
            [numpy(h) for h in base.hidden_states],
            [numpy(a) for a in base.attentions],
            numpy(base.last_hidden_state),
            numpy(base.pooler_output),
            numpy(logits),
        )
