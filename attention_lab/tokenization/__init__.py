"""WordPiece tokenization and BERT input encoding, from scratch (chapter sections 3 and 4).

- :mod:`.basic`: cleaning, accent stripping, lower-casing, punctuation and CJK splitting;
- :mod:`.wordpiece`: greedy longest-match-first WordPiece;
- :mod:`.vocab`: reading ``vocab.txt`` and a model directory's tokenizer settings;
- :mod:`.bert_tokenizer`: :class:`BertTokenizer` (``encode`` as ``encode_plus``, batches,
  truncation strategies, ``tf.data``);
- :mod:`.trainer`: WordPiece and BPE vocabulary training.
"""

from attention_lab.tokenization.basic import BasicTokenizer
from attention_lab.tokenization.bert_tokenizer import BertTokenizer
from attention_lab.tokenization.wordpiece import WordPiece

__all__ = ["BasicTokenizer", "BertTokenizer", "WordPiece"]
