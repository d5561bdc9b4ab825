"""BERT's pooler (Devlin et al., 2019, section 3; chapter section 6, "pooled output").

    pooled = tanh(W · h_[CLS] + b)

The hidden state of the first token, ``[CLS]``, passed through a dense layer with tanh. It is
the input of the sentence-classification heads of chapter sections 5 and 6.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="attention_lab")
class BertPooler(keras.layers.Layer):
    """Dense + tanh on the ``[CLS]`` position; the sublayer is ``dense`` as in Hugging Face.

    Call arguments:
        sequence_output: ``(batch, seq_len, hidden_size)``.

    Returns:
        ``(batch, hidden_size)``.
    """

    def __init__(self, hidden_size: int = 768, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.dense = keras.layers.Dense(
            self.hidden_size,
            activation="tanh",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.dense.build((input_shape[0], input_shape[-1]))

    def call(self, sequence_output):
        cls_state = sequence_output[:, 0]  # (batch, hidden_size): the [CLS] token
        return self.dense(cls_state)  # (batch, hidden_size)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.hidden_size)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, initializer_range=self.initializer_range)
        return config
