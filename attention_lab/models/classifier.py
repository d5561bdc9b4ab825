"""Sequence classification on BERT (chapter section 5, "Pre-built BERT classification model").

    logits = W · Dropout(pooled_output) + b

the architecture of Hugging Face's ``BertForSequenceClassification`` (and of the chapter's
``TFBertForSequenceClassification``): the pooled ``[CLS]`` state, dropout, then one dense
layer named ``classifier`` with ``num_labels`` outputs. The outputs are *logits*: train them
with a loss that takes logits (``from_logits=True``), never after a sigmoid or softmax.
"""

from __future__ import annotations

import keras

from attention_lab.config import BertConfig
from attention_lab.models.bert import BertModel


@keras.saving.register_keras_serializable(package="attention_lab")
class BertForSequenceClassification(keras.Model):
    """BERT + dropout + ``Dense(num_labels)`` on the pooled output.

    Call arguments:
        inputs: the dict of :class:`~attention_lab.models.bert.BertModel`.

    Returns:
        logits ``(batch, num_labels)``.
    """

    def __init__(self, config: BertConfig | None = None, **kwargs):
        kwargs.setdefault("name", "bert_classifier")
        super().__init__(**kwargs)
        self.config = config or BertConfig()

    def build(self, input_shape=None):
        c = self.config
        self.bert = BertModel(c, dtype=self.dtype_policy, name="bert")
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob, dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(
            c.num_labels,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=c.initializer_range),
            dtype=self.dtype_policy,
            name="classifier",
        )
        self.bert.build()
        self.classifier.build((None, c.hidden_size))
        self.built = True

    def call(self, inputs, training=None):
        pooled = self.bert(inputs, training=training)["pooled_output"]  # (batch, H)
        return self.classifier(self.dropout(pooled, training=training))  # (batch, num_labels)

    def get_config(self):
        base = super().get_config()
        base.update(config=self.config.to_dict())
        return base

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(BertConfig.from_dict(config.pop("config")), **config)
