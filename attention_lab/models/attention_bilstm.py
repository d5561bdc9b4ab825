"""A BiLSTM sentiment classifier that attends over its own states (Jain and Wallace, 2019,
"Attention is not Explanation", section 2; Wiegreffe and Pinter, 2019, "Attention is not not
Explanation", section 2): the model both papers measure on IMDb.

    eₜ = Embedding(xₜ)                                GloVe-initialised, fine-tuned
    hₜ = [LSTM→(e)ₜ ; LSTM←(e)ₜ]                      (batch, T, 2·rnn_units)
    αₜ = softmax over real tokens of vᵀ tanh(W₁hₜ + b) additive attention
    c  = Σₜ αₜ hₜ                                      (batch, 2·rnn_units)
    ŷ  = σ(wᵀc + b₀)                                   P(positive)

The attention is our :class:`~attention_lab.layers.BahdanauAttention` (chapter section 3,
"Attention"). A classifier has no decoder state ``sₜ₋₁`` to query with, so the query is the
constant 1: ``W₂ · 1`` is then a learned vector, the bias ``b`` of Jain and Wallace's
additive (``tanh``) attention.

``attention="uniform"`` replaces α by ``1/T`` over the real tokens, the baseline of Wiegreffe
and Pinter (section 3.1): if it classifies as well, the learned weights were not needed.

The steps are separate methods so that the experiments of :mod:`attention_lab.interpret` can
hold the states fixed and change only the weights (permuted, adversarial) or start from the
embeddings (gradients): :meth:`embed`, :meth:`encode`, :meth:`attend`, :meth:`classify`.
``call`` chains them and returns the logit ``(batch, 1)``; ``ŷ = sigmoid(logit)``.
"""

from __future__ import annotations

import keras
from keras import ops

from attention_lab.errors import AttentionLabError
from attention_lab.layers.bahdanau import BahdanauAttention

ATTENTIONS = ("learned", "uniform")


@keras.saving.register_keras_serializable(package="attention_lab")
class AttentionBiLSTMClassifier(keras.Model):
    """Embedding → BiLSTM → additive attention (or uniform weights) → ``Dense(1)`` logit.

    Args:
        vocab_size: rows of the embedding table (id 0 is padding).
        embedding_dim: GloVe's dimension (50 here; Jain and Wallace: 300).
        rnn_units: LSTM units per direction (Jain and Wallace: 128).
        attention_units: hidden size of the scoring network (the length of ``v``).
        attention: ``"learned"`` or ``"uniform"``.

    Call arguments:
        token_ids: int ``(batch, T)``, 0 for padding.

    Returns:
        the logit of the positive class ``(batch, 1)``.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 50,
        rnn_units: int = 64,
        attention_units: int = 64,
        attention: str = "learned",
        **kwargs,
    ):
        kwargs.setdefault("name", f"attention_bilstm_{attention}")
        super().__init__(**kwargs)
        if attention not in ATTENTIONS:
            raise AttentionLabError(
                f"unknown attention {attention!r}; choose one of {', '.join(ATTENTIONS)}"
            )
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.rnn_units = rnn_units
        self.attention_units = attention_units
        self.attention = attention

    def build(self, input_shape=None):
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, mask_zero=True, name="embedding"
        )
        self.bilstm = keras.layers.Bidirectional(
            keras.layers.LSTM(self.rnn_units, return_sequences=True), name="bilstm"
        )
        self.additive = None
        if self.attention == "learned":
            self.additive = BahdanauAttention(self.attention_units, name="additive_attention")
        self.output_layer = keras.layers.Dense(1, name="sentiment")
        self.embedding.build((None, None))
        self.bilstm.build((None, None, self.embedding_dim))
        if self.additive is not None:
            self.additive.build((None, 1), (None, None, 2 * self.rnn_units))
        self.output_layer.build((None, 2 * self.rnn_units))
        self.built = True

    def embed(self, token_ids):
        """``(embeddings (batch, T, E), mask (batch, T))``; the mask is 1.0 for real tokens."""
        token_ids = ops.cast(token_ids, "int32")
        return self.embedding(token_ids), ops.cast(ops.not_equal(token_ids, 0), "float32")

    def encode(self, embeddings, mask, training=None):
        """The BiLSTM states ``(batch, T, 2·rnn_units)``; padding is skipped."""
        return self.bilstm(embeddings, mask=ops.cast(mask, "bool"), training=training)

    def attend(self, states, mask):
        """The attention weights ``(batch, T)``: 0 on padding, summing to 1 over real tokens."""
        if self.attention == "uniform":
            return mask / ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
        query = ops.ones((ops.shape(states)[0], 1), states.dtype)  # W₂·1 = the bias b
        _, weights = self.additive(query, states, mask=mask)
        return weights

    def classify(self, states, weights):
        """The logit ``(batch,)`` of ``c = Σₜ αₜ hₜ`` for any weights ``α`` ``(batch, T)``."""
        context = ops.einsum("bt,btd->bd", weights, states)  # (batch, 2·rnn_units)
        return self.output_layer(context)[:, 0]

    def call(self, token_ids, training=None):
        embeddings, mask = self.embed(token_ids)
        states = self.encode(embeddings, mask, training=training)
        return self.classify(states, self.attend(states, mask))[:, None]  # (batch, 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_dim=self.embedding_dim,
            rnn_units=self.rnn_units,
            attention_units=self.attention_units,
            attention=self.attention,
        )
        return config
