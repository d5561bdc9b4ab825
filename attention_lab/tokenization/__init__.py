"""WordPiece tokenization and BERT input encoding, from scratch (chapter sections 3 and 4).

- :mod:`.basic`: cleaning, accent stripping, lower-casing, punctuation and CJK splitting, and
  where each normalised character came from;
- :mod:`.wordpiece`: greedy longest-match-first WordPiece;
- :mod:`.vocab`: reading ``vocab.txt`` and a model directory's tokenizer settings; the special
  tokens and the files of a tokenizer folder;
- :mod:`.truncation`: the truncation strategies and the overflow windows of a long text;
- :mod:`.encoding`: pieces, rows and padded batches (``BatchEncoding``);
- :mod:`.bert_tokenizer`: :class:`BertTokenizer`, with Hugging Face's interface (the call,
  ``encode_plus``, ``pad``, added tokens, ``decode``) and the library's ``encode_batch`` and
  ``tf.data``;
- :mod:`.reference`: checking all of it against transformers' ``BertTokenizerFast``;
- :mod:`.trainer`: WordPiece and BPE vocabulary training.
"""

from attention_lab.tokenization.basic import BasicTokenizer
from attention_lab.tokenization.bert_tokenizer import BertTokenizer
from attention_lab.tokenization.wordpiece import WordPiece

__all__ = ["BasicTokenizer", "BertTokenizer", "WordPiece"]
