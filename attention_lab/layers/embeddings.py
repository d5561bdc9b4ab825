"""BERT's input representation (Devlin et al., 2019, section 3, figure 2; chapter section 3).

    E = LayerNorm(WordEmbedding[input_ids] + PositionEmbedding[0..len) + TokenType[token_type_ids])

followed by dropout. Positions are absolute and learned (a table of
``max_position_embeddings`` rows); token types (segment ids) tell sentence A (0) from
sentence B (1).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from attention_lab import backend
from attention_lab.errors import AttentionLabError


def check_ids_in_range(ids, upper: int, tensor_name: str, fix: str) -> None:
    """Refuse ids outside ``[0, upper)`` instead of letting a gather clamp or zero them.

    An out-of-range gather does not fail reliably (TensorFlow on a GPU returns zeros, JAX
    returns NaN rows), so the check must come before it. Concrete ids (eager calls, on
    every backend) are checked here and raise :class:`AttentionLabError` naming the id, its
    position and the fix. Traced ids have no values yet: in a TensorFlow graph the check
    becomes a run-time assertion (:func:`attention_lab.backend.graph_assert_in_range`);
    XLA drops assertions and JAX and PyTorch graphs cannot raise from data, so compiled
    callers validate their inputs before the call, as ``attention_lab``'s pipelines do.
    """
    if backend.is_traced(ids):
        backend.graph_assert_in_range(ids, upper, f"{tensor_name} must lie in [0, {upper}); {fix}")
        return
    values = ops.convert_to_numpy(ids)
    bad = np.argwhere((values < 0) | (values >= upper))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise AttentionLabError(
            f"{tensor_name} contains id {int(values[where])} at index {where}, outside "
            f"[0, {upper}); {fix}"
        )


@keras.saving.register_keras_serializable(package="attention_lab")
class BertEmbeddings(keras.layers.Layer):
    """Word + position + token-type embeddings, then LayerNorm and dropout.

    Sublayer names follow Hugging Face's ``BertEmbeddings``: ``word_embeddings``,
    ``position_embeddings``, ``token_type_embeddings``, ``LayerNorm``.

    Call arguments:
        input_ids: int ``(batch, seq_len)``, each < ``vocab_size``.
        token_type_ids: int ``(batch, seq_len)``, each < ``type_vocab_size``.
        inputs_embeds: optional word embeddings ``(batch, seq_len, hidden_size)`` that stand
            in for the word lookup (``input_ids`` is then ignored).

    Returns:
        ``(batch, seq_len, hidden_size)``.
    """

    def __init__(
        self,
        vocab_size: int = 28996,
        hidden_size: int = 768,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        hidden_dropout: float = 0.1,
        layer_norm_eps: float = 1e-12,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.hidden_dropout = hidden_dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def build(self, input_shape):
        init = keras.initializers.TruncatedNormal(stddev=self.initializer_range)
        policy = self.dtype_policy
        self.word_embeddings = keras.layers.Embedding(
            self.vocab_size,
            self.hidden_size,
            embeddings_initializer=init,
            dtype=policy,
            name="word_embeddings",
        )
        self.position_embeddings = keras.layers.Embedding(
            self.max_position_embeddings,
            self.hidden_size,
            embeddings_initializer=init,
            dtype=policy,
            name="position_embeddings",
        )
        self.token_type_embeddings = keras.layers.Embedding(
            self.type_vocab_size,
            self.hidden_size,
            embeddings_initializer=init,
            dtype=policy,
            name="token_type_embeddings",
        )
        self.LayerNorm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=policy, name="LayerNorm"
        )
        self.dropout = keras.layers.Dropout(self.hidden_dropout, dtype=policy)
        for table in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
            table.build(input_shape)
        self.LayerNorm.build(tuple(input_shape) + (self.hidden_size,))

    def call(self, input_ids, token_type_ids, training=None, inputs_embeds=None):
        given = input_ids if inputs_embeds is None else inputs_embeds
        seq_len = given.shape[1]
        if seq_len is not None and seq_len > self.max_position_embeddings:
            raise AttentionLabError(
                f"the input has {seq_len} positions but the model has only "
                f"max_position_embeddings={self.max_position_embeddings}; truncate the text "
                f"(e.g. max_length={self.max_position_embeddings})"
            )
        if inputs_embeds is None:
            check_ids_in_range(
                input_ids,
                self.vocab_size,
                "input_ids",
                "encode with this model's own vocab.txt (ids must be < vocab_size)",
            )
        check_ids_in_range(
            token_type_ids,
            self.type_vocab_size,
            "token_type_ids",
            f"segment ids must be < type_vocab_size={self.type_vocab_size}",
        )
        seq_len = ops.shape(given)[1]
        # (batch, len, H); inputs_embeds stand in for the lookup (gradient attributions)
        words = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        positions = self.position_embeddings.embeddings[:seq_len]  # (len, H), rows 0..len-1
        types = self.token_type_embeddings(token_type_ids)  # (batch, len, H)
        embeddings = words + ops.cast(positions, words.dtype)[None] + types
        return self.dropout(self.LayerNorm(embeddings), training=training)  # (batch, len, H)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            hidden_dropout=self.hidden_dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
