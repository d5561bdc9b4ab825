"""The chapter's own imports, on attention_lab (the chapter's code with only its imports changed).

The chapter was written for TensorFlow 2.1, tensorflow-datasets 2.x and transformers 2.4/3.0.
Its code runs here with two lines changed::

    import attention_lab.compat.tfds as tfds
    from attention_lab.compat.transformers import (
        BertTokenizer, TFBertModel, TFBertForSequenceClassification)

- :mod:`.transformers`: the tokenizer and the two TF models of sections 4-6, as thin adapters
  of :class:`attention_lab.tokenization.BertTokenizer` and :mod:`attention_lab.models.bert`,
  loaded and saved through :mod:`attention_lab.convert`;
- :mod:`.tfds`: ``tfds.load("imdb_reviews")`` (tensorflow-datasets itself, built from a local
  archive when offline) and ``tfds.features.text`` of section 2 on
  :mod:`attention_lab.data.text_encoder`.

Behaviour lives in those classes; these modules only carry the chapter's names and keywords.
"""
