"""The chapter's BiLSTM sentiment classifier over GloVe embeddings (section 2).

Embedding(vocab_size, 50, mask_zero=True) -> Bidirectional(LSTM(64, return_sequences=True,
dropout=0.5)) -> Bidirectional(LSTM(64, dropout=0.25)) -> Dense(1, sigmoid), trained with binary
cross-entropy and Adam, reporting accuracy, precision and recall. Three modes:

- ``frozen``: GloVe weights, ``trainable=False`` (feature extraction; the chapter: 82.82%);
- ``finetune``: GloVe weights, ``trainable=True`` (fine-tuning; the chapter: 87.1%);
- ``scratch``: random embeddings learned from the task (the previous chapter's baseline).

``embedding_dropout`` > 0 puts a ``Dropout`` between the ``Embedding`` and the first LSTM (the
chapter's suggestion against the fine-tuned model's over-fitting; issue 33): whole embedding
values are dropped during training, the mask of padding passes through it.
"""

from __future__ import annotations

import keras
import numpy as np

from attention_lab.errors import AttentionLabError

MODES = ("frozen", "finetune", "scratch")


def build_bilstm_classifier(
    vocab_size: int,
    mode: str = "frozen",
    embedding_matrix: np.ndarray | None = None,
    embedding_dim: int = 50,
    rnn_units: int = 64,
    max_len: int | None = 150,
    embedding_dropout: float = 0.0,
) -> keras.Model:
    """The chapter's ``build_model_bilstm``; ``embedding_matrix`` is required unless scratch."""
    if mode not in MODES:
        raise AttentionLabError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if not 0.0 <= embedding_dropout < 1.0:
        raise AttentionLabError(f"the embedding dropout must be in [0, 1), got {embedding_dropout}")
    if mode != "scratch":
        if embedding_matrix is None:
            raise AttentionLabError(f"mode {mode!r} needs the GloVe embedding matrix")
        if embedding_matrix.shape != (vocab_size, embedding_dim):
            raise AttentionLabError(
                f"embedding matrix has shape {embedding_matrix.shape}, expected "
                f"({vocab_size}, {embedding_dim}): build it for this encoder and GloVe dimension"
            )
    token_ids = keras.Input(shape=(max_len,), dtype="int32", name="token_ids")
    embedding = keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, trainable=mode != "frozen", name="embedding"
    )
    x = embedding(token_ids)  # (batch, max_len, embedding_dim), mask where id == 0
    if mode != "scratch":
        embedding.set_weights([embedding_matrix.astype("float32")])
    if embedding_dropout > 0:
        x = keras.layers.Dropout(embedding_dropout, name="embedding_dropout")(x)
    x = keras.layers.Bidirectional(
        keras.layers.LSTM(rnn_units, return_sequences=True, dropout=0.5), name="bilstm_1"
    )(x)  # (batch, max_len, 2 * rnn_units)
    x = keras.layers.Bidirectional(keras.layers.LSTM(rnn_units, dropout=0.25), name="bilstm_2")(
        x
    )  # (batch, 2 * rnn_units)
    probability = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(x)  # (batch, 1)
    return keras.Model(token_ids, probability, name=f"bilstm_glove_{mode}")


def compile_bilstm(model: keras.Model, learning_rate: float = 1e-3) -> None:
    """Binary cross-entropy, Adam, accuracy + precision + recall, as in the chapter."""
    model.compile(
        loss="binary_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate),
        metrics=[
            "accuracy",
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
        ],
    )
