"""Layer-by-layer numerical comparison of our BERT with Hugging Face's reference model."""

from attention_lab.parity.report import ParityReport, run_parity

__all__ = ["ParityReport", "run_parity"]
