"""Layer-by-layer numerical comparison of our BERT with Hugging Face's reference model."""

from attention_lab.parity.inputs import read_texts
from attention_lab.parity.report import CRITERIA, ParityReport, run_parities, run_parity

__all__ = ["CRITERIA", "ParityReport", "read_texts", "run_parities", "run_parity"]
