"""Training the attention BiLSTM on IMDb (the setting of Jain and Wallace, 2019, section 3).

The data are the chapter's (section 2): the tfds-style vocabulary over the training reviews,
reviews padded or cut to ``max_len`` tokens, GloVe-initialised embeddings
(:func:`~attention_lab.training.bilstm.prepare_imdb_glove`). The model is
:class:`~attention_lab.models.attention_bilstm.AttentionBiLSTMClassifier`, trained with
binary cross-entropy on its logit and Adam, embeddings fine-tuned, as both papers do.
"""

from __future__ import annotations

import numpy as np

from attention_lab.errors import AttentionLabError, check_at_least_one
from attention_lab.training.bilstm import PreparedData


def build_attention_bilstm(
    prepared: PreparedData,
    attention: str = "learned",
    rnn_units: int = 64,
    attention_units: int = 64,
    seed: int = 42,
):
    """A built classifier for ``prepared``'s vocabulary, its embeddings set to GloVe's."""
    import keras

    from attention_lab.models.attention_bilstm import AttentionBiLSTMClassifier

    if prepared.embedding is None:
        raise AttentionLabError("the attention BiLSTM starts from GloVe: prepare with glove_path")
    keras.utils.set_random_seed(seed)
    matrix = prepared.embedding.matrix
    model = AttentionBiLSTMClassifier(
        prepared.encoder.vocab_size,
        embedding_dim=matrix.shape[1],
        rnn_units=rnn_units,
        attention_units=attention_units,
        attention=attention,
    )
    model.build()
    model.embedding.set_weights([matrix])
    return model


def train_attention_bilstm(
    model,
    prepared: PreparedData,
    epochs: int = 4,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 42,
    verbose: int = 2,
) -> list[dict]:
    """Fit ``model`` on ``prepared``'s training reviews; the per-epoch loss and accuracy."""
    import keras

    check_at_least_one("epochs", epochs)
    keras.utils.set_random_seed(seed)
    model.compile(
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(learning_rate),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
        jit_compile=False,  # XLA is slower for this LSTM on a CPU (docs/results.md)
    )
    history = model.fit(
        prepared.x_train,
        prepared.y_train.astype("float32"),
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=verbose,
    )
    return [
        {"epoch": epoch + 1, **{k: float(v[epoch]) for k, v in history.history.items()}}
        for epoch in range(epochs)
    ]


def predict_probabilities(model, token_ids: np.ndarray, batch_size: int = 250) -> np.ndarray:
    """``P(positive)`` ``(n,)`` for padded token ids ``(n, T)``."""
    logits = model.predict(token_ids, batch_size=batch_size, verbose=0)[:, 0]
    return 1.0 / (1.0 + np.exp(-logits))
