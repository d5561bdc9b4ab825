"""Heads over every token's output: the chapter's closing suggestion (section 6; issue 33).

The chapter's classifiers read the pooled ``[CLS]`` vector. It suggests two next steps, both
here, selectable as ``attention-lab finetune --head lstm|concat``:

``lstm`` (:class:`BertTokenLSTMClassifier`): an LSTM reads the encoder's output at every real
token, padding masked out, and its last state gives the logits::

    h      = LSTM₁₂₈(Dropout₀.₂(sequence_output), mask = attention_mask)   # ``head_lstm``
    logits = W · Dropout₀.₂(h) + b                                        # ``logits``

``concat`` (:class:`BertTokenConcatClassifier`): the token outputs (zeros at padding) placed
side by side in ``head_length`` slots, one long vector, into the custom head's dense layers::

    v      = [H₁ ⊙ m₁; H₂ ⊙ m₂; … ; H_T ⊙ m_T; 0 …]    # (head_length · hidden,)
    h      = ReLU(W₁ · Dropout₀.₂(v) + b₁)             # 200 units, ``head_dense``
    logits = W₂ · Dropout₀.₂(h) + b₂                   # ``logits``

Its first kernel has one row per slot and hidden unit, so the head is made for sequences of at
most ``head_length`` tokens (150 by default, the chapter's length); longer inputs are refused.

Neither head reads the pooler. Its weights stay as loaded and are saved with the encoder (the
folder still loads as a ``BertModel`` with its pooler), and the encoder keeps them frozen
(:class:`TokenHeadEncoder`), since they would get no gradient. Both register under their
``--head`` names in :data:`attention_lab.models.bert.HEADS` (imported by
``attention_lab.models``), and their tensors, named after their Keras layers, are rows of the
converter's weight map, so a fine-tuning run folder holds and reloads them.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import (
    HEADS,
    BertConfig,
    BertCustomClassifier,
    BertModel,
    PooledOutputClassifier,
)

CONCAT_SLOTS = 150  # the concat head's default length: the chapter's 150 tokens


class TokenHeadEncoder(BertModel):
    """:class:`~attention_lab.models.bert.BertModel` whose pooler stays frozen whatever
    ``trainable`` is set to (``set_encoder_trainable``): the token heads never read it."""

    @property
    def trainable(self):
        return BertModel.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        BertModel.trainable.fset(self, value)
        if getattr(self, "pooler", None) is not None:
            self.pooler.trainable = False


class TokenOutputClassifier(PooledOutputClassifier):
    """A classifier whose head reads ``sequence_output`` and ``attention_mask``."""

    def build(self, input_shape=None):
        c, dtype = self.config, self.dtype_policy
        implementation = self.implementation
        self.bert = TokenHeadEncoder(c, implementation=implementation, dtype=dtype, name="bert")
        self.build_head(c, dtype)
        self.bert.build()
        self.bert.pooler.trainable = False  # unread; TokenHeadEncoder keeps it so
        self.built = True

    def call(self, inputs, training=None):
        sequence = self.bert(inputs, training=training)["sequence_output"]  # (batch, len, H)
        mask = inputs.get("attention_mask")
        mask = ops.ones(ops.shape(sequence)[:2], "int32") if mask is None else mask
        return self.token_head(sequence, mask, training)  # (batch, num_labels)


@keras.saving.register_keras_serializable(package="attention_lab")
class BertTokenLSTMClassifier(TokenOutputClassifier):
    """An LSTM over every real token's output, then logits (see the module docstring)."""

    default_name = "bert_token_lstm_classifier"

    def __init__(
        self,
        config: BertConfig | dict | None = None,
        lstm_units: int = 128,
        head_dropout: float = 0.2,
        implementation: str = "eager",
        **kwargs,
    ):
        super().__init__(config, implementation, **kwargs)
        self.lstm_units = lstm_units
        self.head_dropout = head_dropout

    def build_head(self, c: BertConfig, dtype):
        rate = self.head_dropout
        self.head_dropout_1 = keras.layers.Dropout(rate, dtype=dtype, name="head_dropout_1")
        self.head_lstm = keras.layers.LSTM(self.lstm_units, dtype=dtype, name="head_lstm")
        self.head_dropout_2 = keras.layers.Dropout(rate, dtype=dtype, name="head_dropout_2")
        self.logits = keras.layers.Dense(c.num_labels, dtype=dtype, name="logits")
        self.head_lstm.build((None, None, c.hidden_size))
        self.logits.build((None, self.lstm_units))

    def token_head(self, sequence, mask, training=None):
        x = self.head_dropout_1(sequence, training=training)
        hidden = self.head_lstm(x, mask=ops.cast(mask, "bool"), training=training)  # (batch, U)
        return self.logits(self.head_dropout_2(hidden, training=training))

    def get_config(self):
        head = {"lstm_units": self.lstm_units, "head_dropout": self.head_dropout}
        return {**super().get_config(), **head}


@keras.saving.register_keras_serializable(package="attention_lab")
class BertTokenConcatClassifier(TokenOutputClassifier, BertCustomClassifier):
    """Every token's output concatenated into the custom head's layers (see the module
    docstring); sequences of at most ``head_length`` tokens."""

    default_name = "bert_token_concat_classifier"

    def __init__(
        self,
        config: BertConfig | dict | None = None,
        head_length: int = CONCAT_SLOTS,
        head_units: int = 200,
        head_dropout: float = 0.2,
        implementation: str = "eager",
        **kwargs,
    ):
        super().__init__(config, head_units, head_dropout, implementation, **kwargs)
        self.head_length = head_length

    def build_head(self, c: BertConfig, dtype):
        # the custom head's layers, on an input head_length times as wide as one token's
        wide = dataclasses.replace(c, hidden_size=self.head_length * c.hidden_size)
        super().build_head(wide, dtype)

    def token_head(self, sequence, mask, training=None):
        length = sequence.shape[1]
        if length is not None and length > self.head_length:
            raise AttentionLabError(
                f"the concat head holds {self.head_length} token slots, got {length} tokens: "
                f"pass --max-len {self.head_length} or less"
            )
        kept = sequence * ops.expand_dims(ops.cast(mask, sequence.dtype), -1)  # padding: 0
        missing = self.head_length - ops.shape(sequence)[1]
        kept = ops.pad(kept, [[0, 0], [0, missing], [0, 0]])  # (batch, head_length, H)
        flat = ops.reshape(kept, (-1, self.head_length * self.config.hidden_size))
        return self.head(flat, training)  # the custom head's dropout, dense, dropout, logits

    def get_config(self):
        return {**super().get_config(), "head_length": self.head_length}


TOKEN_HEADS = {"lstm": BertTokenLSTMClassifier, "concat": BertTokenConcatClassifier}
HEADS.update(TOKEN_HEADS)  # build_classifier, head_name and the converter find them by name
