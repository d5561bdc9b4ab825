"""BERT (``bert.py``, with the faster block of ``bert_fused.py`` and the heads over every token
of ``bert_token_heads.py`` registered), the GloVe BiLSTM, the attention BiLSTM and the seq2seq
encoder-decoder."""

from attention_lab.models import (
    bert_fused,  # noqa: F401  (registers implementation="fused")
    bert_token_heads,  # noqa: F401  (registers --head lstm, concat)
)
