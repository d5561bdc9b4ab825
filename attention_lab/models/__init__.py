"""BERT (``bert.py``, with the faster block of ``bert_fused.py`` registered), the GloVe BiLSTM,
the attention BiLSTM and the seq2seq encoder-decoder."""

from attention_lab.models import bert_fused  # noqa: F401  (registers implementation="fused")
