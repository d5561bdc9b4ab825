"""BERT's pre-training heads (Devlin et al., 2019, section 3.1; chapter section 3, "BERT").

BERT is pre-trained on two tasks before any fine-tuning:

- **Masked language model**: 15% of the tokens are chosen; of those, 80% become ``[MASK]``,
  10% a random token and 10% stay as they are, and the model predicts the original token at
  each chosen position from the final hidden states:

      h      = LayerNorm(GELU(W · H_L + b))                    # the transform
      logits = h · Eᵀ + b_vocab                                # (batch, len, vocab_size)

  where E is the word-embedding table itself (the decoder is *tied* to it, so its gradient is
  the sum of both uses) and ``b_vocab`` is the head's own bias.
- **Next-sentence prediction**: is sentence B the sentence that followed A (``IsNext``, 0) or
  a random one (``NotNext``, 1)? One dense layer on the pooled ``[CLS]`` output:

      seq_relationship_logits = W_nsp · pooled_output + b_nsp  # (batch, 2)

The modules are named after Hugging Face's (``cls.predictions.transform.dense``,
``cls.predictions.transform.LayerNorm``, ``cls.predictions.bias``, ``cls.seq_relationship``),
and built from the one :class:`~attention_lab.models.bert.BertConfig`. The masking and the
sentence pairs are the data's side: :mod:`attention_lab.training.pretraining`.
"""

from __future__ import annotations

import keras
from keras import ops

from attention_lab.models.bert import (
    BertConfig,
    BertModel,
    ConfiguredLayer,
    activation,
    as_config,
    bert_dense,
)


@keras.saving.register_keras_serializable(package="attention_lab")
class BertLMPredictionHead(ConfiguredLayer):
    """The masked-LM head (Hugging Face's ``cls.predictions``): transform, then the decoder
    tied to the word embeddings, plus a bias of its own.

    Sublayers: ``transform_dense``, ``transform_LayerNorm``; weight ``bias`` ``(vocab_size,)``.
    Call: ``sequence_output`` ``(batch, len, H)`` and the word-embedding table
    ``(vocab_size, H)``. Returns logits ``(batch, len, vocab_size)``.
    """

    def build(self, input_shape):
        c, dtype = self.config, self.dtype_policy
        self.transform_dense = bert_dense(c.hidden_size, c, dtype, "transform_dense")
        self.transform_LayerNorm = keras.layers.LayerNormalization(
            epsilon=c.layer_norm_eps, dtype=dtype, name="transform_LayerNorm"
        )
        self.transform_dense.build(input_shape)
        self.transform_LayerNorm.build(input_shape)
        self.bias = self.add_weight(shape=(c.vocab_size,), initializer="zeros", name="bias")

    def call(self, sequence_output, word_embeddings):
        h = activation(self.config, self.transform_dense(sequence_output))  # (batch, len, H)
        h = self.transform_LayerNorm(h)
        table = ops.cast(word_embeddings, h.dtype)  # E: (vocab_size, H)
        return ops.matmul(h, ops.transpose(table)) + ops.cast(self.bias, h.dtype)  # (b, len, V)


class _WithPreTrainingHeads(keras.Model):
    """The config, the encoder ``bert`` and the MLM head ``predictions``, shared by both models."""

    pooled = True  # BertForPreTraining's NSP head reads the pooled output

    def __init__(
        self, config: BertConfig | dict | None = None, implementation: str = "eager", **kwargs
    ):
        super().__init__(**kwargs)
        self.config = as_config(config)
        self.implementation = implementation

    def build(self, input_shape=None):
        c, dtype = self.config, self.dtype_policy
        self.bert = BertModel(
            c, self.pooled, implementation=self.implementation, dtype=dtype, name="bert"
        )
        self.predictions = BertLMPredictionHead(c, dtype=dtype, name="predictions")
        self.bert.build()
        self.predictions.build((None, None, c.hidden_size))
        if self.pooled:
            self.seq_relationship = bert_dense(2, c, dtype, "seq_relationship")
            self.seq_relationship.build((None, c.hidden_size))
        self.built = True

    def call(self, inputs, training=None):
        outputs = self.bert(inputs, training=training)
        table = self.bert.embeddings.word_embeddings.embeddings  # the tied decoder
        logits = {"prediction_logits": self.predictions(outputs["sequence_output"], table)}
        if self.pooled:
            logits["seq_relationship_logits"] = self.seq_relationship(outputs["pooled_output"])
        return logits

    def get_config(self):
        config = {"config": self.config.to_dict(), "implementation": self.implementation}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="attention_lab")
class BertForPreTraining(_WithPreTrainingHeads):
    """BERT with both pre-training heads, as Hugging Face's ``BertForPreTraining``.

    Returns ``prediction_logits`` ``(batch, len, vocab_size)`` and
    ``seq_relationship_logits`` ``(batch, 2)``.
    """


@keras.saving.register_keras_serializable(package="attention_lab")
class BertForMaskedLM(_WithPreTrainingHeads):
    """BERT with the masked-LM head alone and no pooler, as Hugging Face's
    ``BertForMaskedLM``. Returns ``prediction_logits`` ``(batch, len, vocab_size)``."""

    pooled = False


# The two pre-training models by name, beside the classifiers' HEADS of models/bert.py.
PRETRAINING_HEADS = {"pretraining": BertForPreTraining, "masked-lm": BertForMaskedLM}
