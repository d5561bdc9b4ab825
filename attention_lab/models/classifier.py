"""Sequence classification on BERT (chapter section 5, "Pre-built BERT classification model").

    logits = W · Dropout(pooled_output) + b

the architecture of Hugging Face's ``BertForSequenceClassification`` (and of the chapter's
``TFBertForSequenceClassification``): the pooled ``[CLS]`` state, dropout, then one dense
layer named ``classifier`` with ``num_labels`` outputs. The outputs are *logits*: train them
with a loss that takes logits (``from_logits=True``), never after a sigmoid or softmax.

:class:`BertCustomClassifier` is the chapter's custom head (section 6) on the same pooled
output; :func:`build_classifier` picks either by name and :func:`set_encoder_trainable`
freezes the encoder as the chapter's ``bert.trainable = False`` does.
"""

from __future__ import annotations

import keras

from attention_lab.config import BertConfig
from attention_lab.errors import AttentionLabError
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


@keras.saving.register_keras_serializable(package="attention_lab")
class BertCustomClassifier(keras.Model):
    """The chapter's custom head on the pooled output (chapter section 6, "Custom BERT model").

        h      = ReLU(W₁ · Dropout₀.₂(pooled_output) + b₁)      # 200 units
        logits = W₂ · Dropout₀.₂(h) + b₂                        # num_labels units

    The chapter ends this head with ``Dense(2, activation='sigmoid')`` and trains it with
    ``BinaryCrossentropy(from_logits=True)``: the loss applies a second sigmoid to values that
    are already in (0, 1), so it can never fall below about 0.5 and its printed losses stall
    at 0.55-0.60. Here the last layer has no activation: it returns logits, to be trained with
    a loss that takes logits (sparse softmax cross-entropy on labels 0/1 in
    :mod:`attention_lab.training`); probabilities are ``softmax(logits)``.

    The head's two ``Dense`` layers keep Keras's default initialisation (Glorot-uniform
    kernels, zero biases), as the chapter's ``tf.keras.layers.Dense`` calls do. BERT's own
    ``initializer_range`` (a normal of standard deviation 0.02) would not be the chapter's
    model: through two stacked layers it makes the first logits, and the gradients that reach
    the encoder, ten to fifteen times smaller (Glorot's standard deviation is
    sqrt(2 / (fan_in + fan_out)): 0.045 for ``head_dense`` on BERT-Base's 768 inputs, 0.058 on
    MiniLM's 384, and 0.099 for ``logits``).

    Sublayers: ``bert``, ``head_dropout_1``, ``head_dense`` (200, ReLU), ``head_dropout_2``,
    ``logits``.

    Call arguments:
        inputs: the dict of :class:`~attention_lab.models.bert.BertModel`.

    Returns:
        logits ``(batch, num_labels)``.
    """

    def __init__(
        self,
        config: BertConfig | None = None,
        head_units: int = 200,
        head_dropout: float = 0.2,
        **kwargs,
    ):
        kwargs.setdefault("name", "bert_custom_classifier")
        super().__init__(**kwargs)
        self.config = config or BertConfig()
        self.head_units = head_units
        self.head_dropout = head_dropout

    def build(self, input_shape=None):
        c = self.config
        policy = self.dtype_policy
        self.bert = BertModel(c, dtype=policy, name="bert")
        self.head_dropout_1 = keras.layers.Dropout(
            self.head_dropout, dtype=policy, name="head_dropout_1"
        )
        self.head_dense = keras.layers.Dense(
            self.head_units, activation="relu", dtype=policy, name="head_dense"
        )
        self.head_dropout_2 = keras.layers.Dropout(
            self.head_dropout, dtype=policy, name="head_dropout_2"
        )
        self.logits = keras.layers.Dense(c.num_labels, dtype=policy, name="logits")
        self.bert.build()
        self.head_dense.build((None, c.hidden_size))
        self.logits.build((None, self.head_units))
        self.built = True

    def call(self, inputs, training=None):
        pooled = self.bert(inputs, training=training)["pooled_output"]  # (batch, H)
        hidden = self.head_dense(self.head_dropout_1(pooled, training=training))  # (batch, 200)
        return self.logits(self.head_dropout_2(hidden, training=training))  # (batch, num_labels)

    def get_config(self):
        base = super().get_config()
        base.update(
            config=self.config.to_dict(),
            head_units=self.head_units,
            head_dropout=self.head_dropout,
        )
        return base

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(BertConfig.from_dict(config.pop("config")), **config)


# The two classifiers of chapter sections 5 and 6, by the name the command line uses.
HEADS = {"prebuilt": BertForSequenceClassification, "custom": BertCustomClassifier}


def build_classifier(head: str, config: BertConfig, dtype=None, **options) -> keras.Model:
    """A built classifier: ``head`` is ``"prebuilt"`` (section 5) or ``"custom"`` (section 6).

    ``dtype`` is a Keras dtype policy (``"float32"``, ``"mixed_bfloat16"``,
    ``"mixed_float16"``); variables stay float32, matmuls run in the compute dtype.
    ``options`` go to the head's constructor (the custom head's ``head_units``, ...).
    """
    if head not in HEADS:
        raise AttentionLabError(f"unknown head {head!r}; choose one of {sorted(HEADS)}")
    model = HEADS[head](config, dtype=dtype, **options)
    model.build()
    return model


def head_name(model: keras.Model) -> str:
    """``"prebuilt"`` or ``"custom"``: the inverse of :func:`build_classifier`."""
    for name, cls in HEADS.items():
        if type(model) is cls:
            return name
    raise AttentionLabError(f"{type(model).__name__} is not one of the classifiers {HEADS}")


def set_encoder_trainable(model: keras.Model, trainable: bool) -> None:
    """Freeze (``False``) or unfreeze (``True``) the BERT encoder; the head stays trainable.

    The chapter's ``bert.trainable = False`` followed by ``model.compile(...)``: frozen, the
    encoder is a fixed feature extractor (chapter section 1, "feature extraction") and only
    the head's weights move. As in Keras, the change takes effect at the next
    ``model.compile``, which :func:`attention_lab.training.fit.fit_classifier` calls.
    """
    model.bert.trainable = trainable
