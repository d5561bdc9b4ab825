"""Encoder-decoder networks with and without Bahdanau attention (chapter section 3,
"Encoder-decoder networks" and "Attention"; Sutskever et al., 2014; Cho et al., 2014;
Bahdanau et al., 2015).

Encoder: character embedding → bidirectional LSTM. It returns every source position's state
``hᵢ = [→hᵢ; ←hᵢ]`` and the final states of both directions, whose concatenation is the
*summary* of the input and the decoder's initial state.

Decoder, one step ``t`` (``yₜ₋₁`` is the previous token, ``sₜ₋₁`` the previous state):

    cₜ = attention(sₜ₋₁, h)      with attention: Bahdanau's weighted sum of the hᵢ
    cₜ = summary                 without: the same fixed-size vector at every step
    sₜ = LSTM(sₜ₋₁, [embed(yₜ₋₁); cₜ])
    logitsₜ = W_o [sₜ; cₜ] + b_o

so the two models differ only in where the context comes from. Training feeds the true
previous token (teacher forcing) through ``model.fit``; :meth:`EncoderDecoder.translate`
decodes greedily, feeding back its own argmax until it emits the end token, and returns the
alignment matrix (target × source) of the attention model.

XLA and cuDNN: the training step is compiled with XLA (``jit_compile=True``). On a GPU,
``keras.layers.LSTM`` dispatches to the fused cuDNN kernel, which XLA cannot compile. Both
networks use ``keras.layers.LSTMCell`` instead, which never does: the encoder's driven by
``keras.layers.RNN``, the decoder's by :meth:`Seq2SeqDecoder.step` inside ``tf.scan``, two
``while`` loops that XLA compiles on CPU and GPU alike (a step loop is needed anyway: attention
needs ``sₜ₋₁`` to build the input of step ``t``). A Python loop unrolled at trace time compiles
too, but its graph, and XLA's compile time with it, grows with the number of steps, while the
scan's body is one step whatever the length.

The model holds no file I/O: its run folder (``model.keras`` + ``training.json``) is written
and read by :mod:`attention_lab.training.seq2seq`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from attention_lab.data.char_vocabulary import END, PAD, START, CharVocabulary
from attention_lab.errors import AttentionLabError
from attention_lab.layers.bahdanau import BahdanauAttention


@keras.saving.register_keras_serializable(package="attention_lab")
class Seq2SeqEncoder(keras.layers.Layer):
    """Embedding → bidirectional LSTM over the source characters.

    Args:
        vocab_size: source vocabulary size (id 0 is padding).
        embedding_dim: size of the character embeddings.
        units: LSTM units per direction.

    Call arguments:
        source: ``(batch, source_len)`` int ids, padded with 0 at the end.

    Returns:
        ``(states, final_h, final_c, mask)``: every position's ``[→hᵢ; ←hᵢ]``
        ``(batch, source_len, 2·units)``, the final hidden and cell states of both directions
        ``(batch, 2·units)`` each, and the padding mask ``(batch, source_len)``.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, units: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units

    def build(self, source_shape):
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embedding_dim, name="embed")
        self.bilstm = keras.layers.Bidirectional(
            keras.layers.RNN(
                keras.layers.LSTMCell(self.units), return_sequences=True, return_state=True
            ),
            name="bilstm",
        )
        self.embedding.build(source_shape)
        self.bilstm.build((*source_shape, self.embedding_dim))
        self.built = True

    def call(self, source):
        mask = ops.not_equal(source, PAD)  # (batch, S)
        embedded = self.embedding(source)  # (batch, S, E)
        states, fw_h, fw_c, bw_h, bw_c = self.bilstm(embedded, mask=mask)  # (batch, S, 2u)
        final_h = ops.concatenate([fw_h, bw_h], axis=-1)  # (batch, 2u)
        final_c = ops.concatenate([fw_c, bw_c], axis=-1)  # (batch, 2u)
        return states, final_h, final_c, mask

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size, embedding_dim=self.embedding_dim, units=self.units
        )
        return config


@keras.saving.register_keras_serializable(package="attention_lab")
class Seq2SeqDecoder(keras.layers.Layer):
    """LSTM decoder whose input each step is ``[embed(yₜ₋₁); cₜ]``, with or without attention.

    Args:
        vocab_size: target vocabulary size (ids 0, 1, 2 are padding, start, end).
        embedding_dim: size of the target token embeddings.
        units: LSTM units; equal to the encoder's ``2·units``, since the decoder starts from
            the encoder's final states.
        attention_units: hidden size of the Bahdanau scoring network, or None for the plain
            decoder whose context is always the encoder's summary.

    Call arguments (teacher forcing):
        decoder_input: ``(batch, target_len)``, ``<s>`` followed by the true target.
        encoded: the encoder's output tuple.

    Returns:
        ``(logits, alignment)``: ``(batch, target_len, vocab_size)`` and, with attention, the
        weights ``(batch, target_len, source_len)`` (None without attention).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        units: int,
        attention_units: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.attention_units = attention_units

    def build(self, decoder_input_shape, encoded_shape):
        states_shape = encoded_shape[0]  # (batch, S, 2u_enc)
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embedding_dim, name="embed")
        self.cell = keras.layers.LSTMCell(self.units, name="lstm_cell")
        self.output_projection = keras.layers.Dense(self.vocab_size, name="output_projection")
        self.attention = None
        if self.attention_units is not None:
            self.attention = BahdanauAttention(self.attention_units, name="attention")
            self.attention.build((None, self.units), states_shape)
        context_dim = states_shape[-1]
        self.embedding.build(decoder_input_shape)
        self.cell.build((None, self.embedding_dim + context_dim))
        self.output_projection.build((None, self.units + context_dim))
        self.built = True

    def initial_memory(self, encoded):
        """What every step reads: ``(states, mask, W₁h or None, summary, initial state)``."""
        states, final_h, final_c, mask = encoded
        projected = self.attention.project_values(states) if self.attention else None
        return (states, mask, projected, final_h), [final_h, final_c]

    def step(self, embedded_prev, state, memory):
        """One output step before the projection.

        Returns ``(features, weights, state)``: ``[sₜ; cₜ]`` ``(batch, units + 2u_enc)``, the
        attention weights ``(batch, S)`` (None without attention) and the new LSTM state.
        """
        states, mask, projected, summary = memory
        s_prev = state[0]  # (batch, units)
        if self.attention is None:
            context, weights = summary, None  # (batch, 2u_enc)
        else:
            context, weights = self.attention(  # (batch, 2u_enc), (batch, S)
                s_prev, states, mask=mask, projected_values=projected
            )
        cell_input = ops.concatenate([embedded_prev, context], axis=-1)  # (batch, E + 2u_enc)
        s_t, state = self.cell(cell_input, state)  # (batch, units)
        return ops.concatenate([s_t, context], axis=-1), weights, state

    def call(self, decoder_input, encoded):
        memory, state = self.initial_memory(encoded)
        embedded = ops.moveaxis(self.embedding(decoder_input), 1, 0)  # (T, batch, E)

        def one_step(previous, embedded_prev):
            features, weights, state = self.step(embedded_prev, previous[0], memory)
            return state, features, previous[2] if weights is None else weights

        # tf.scan carries the state and stacks each step's features and weights along axis 0.
        # The initial values are only shapes: zeros_like keeps the batch size symbolic.
        first = (
            state,
            ops.zeros_like(ops.concatenate(state, axis=-1)),  # (batch, units + 2u_enc)
            ops.zeros_like(ops.cast(memory[1], "float32")),  # (batch, S)
        )
        _, features, alignment = tf.scan(one_step, embedded, initializer=first)
        logits = self.output_projection(ops.moveaxis(features, 0, 1))  # (batch, T, V)
        if self.attention is None:
            return logits, None
        return logits, ops.moveaxis(alignment, 0, 1)  # (batch, T, S)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_dim=self.embedding_dim,
            units=self.units,
            attention_units=self.attention_units,
        )
        return config


@dataclass
class Translation:
    """One greedy decoding: the output text and what the decoder attended to.

    ``target_tokens`` are the emitted tokens, ending with ``</s>`` when the decoder stopped by
    itself (``ended``); ``alignment`` is ``(len(target_tokens), len(source_tokens))`` for the
    attention model, None for the plain one.
    """

    source: str
    text: str
    source_tokens: list[str]
    target_tokens: list[str]
    ended: bool
    alignment: np.ndarray | None


@keras.saving.register_keras_serializable(package="attention_lab")
class EncoderDecoder(keras.Model):
    """Character-level encoder-decoder, with Bahdanau attention or without.

    Args:
        source_alphabet: the characters the encoder reads (ids from 3 on, in this order).
        target_alphabet: the characters the decoder writes.
        max_source_len: longest input; longer ones are an error, never truncated.
        max_target_len: longest output, not counting the end token.
        embedding_dim: size of the source and target character embeddings.
        units: encoder LSTM units per direction (the decoder has ``2·units``).
        use_attention: True for Bahdanau attention (the decoder's ``attention`` layer), False
            for the fixed summary.
        attention_units: hidden size of the scoring network (default ``units``).

    Call arguments:
        inputs: dict with ``source`` ``(batch, max_source_len)`` and ``decoder_input``
            ``(batch, max_target_len + 1)``: ids of the source characters, and ``<s>``
            followed by the target's (teacher forcing), both padded with 0.

    Returns:
        logits ``(batch, max_target_len + 1, target vocabulary size)``.
    """

    def __init__(
        self,
        source_alphabet: str,
        target_alphabet: str,
        max_source_len: int,
        max_target_len: int,
        embedding_dim: int = 32,
        units: int = 64,
        use_attention: bool = True,
        attention_units: int | None = None,
        **kwargs,
    ):
        kwargs.setdefault("name", "encoder_decoder" if use_attention else "plain_encoder_decoder")
        super().__init__(**kwargs)
        self.source_alphabet = source_alphabet
        self.target_alphabet = target_alphabet
        self.max_source_len = max_source_len
        self.max_target_len = max_target_len
        self.embedding_dim = embedding_dim
        self.units = units
        self.use_attention = use_attention
        self.attention_units = attention_units
        self.source_vocab = CharVocabulary(source_alphabet)
        self.target_vocab = CharVocabulary(target_alphabet)
        self._greedy = None

    def build(self, input_shape=None):
        source_shape = (None, self.max_source_len)
        states_shape = (None, self.max_source_len, 2 * self.units)
        final_shape = (None, 2 * self.units)
        self.encoder = Seq2SeqEncoder(
            self.source_vocab.size, self.embedding_dim, self.units, name="encoder"
        )
        self.decoder = Seq2SeqDecoder(
            self.target_vocab.size,
            self.embedding_dim,
            2 * self.units,
            attention_units=(self.attention_units or self.units) if self.use_attention else None,
            name="decoder",
        )
        self.encoder.build(source_shape)
        self.decoder.build(
            (None, self.max_target_len + 1),
            (states_shape, final_shape, final_shape, source_shape),
        )
        self.built = True

    def call(self, inputs, training=None):
        logits, _ = self.decoder(inputs["decoder_input"], self.encoder(inputs["source"]))
        return logits  # (batch, T, V)

    def teacher_forced_alignment(self, inputs):
        """Attention weights ``(batch, T, S)`` while reading the true targets (attention only)."""
        if not self.use_attention:
            raise AttentionLabError(
                "this model has no attention, so no alignment: train one with --attention"
            )
        return self.decoder(inputs["decoder_input"], self.encoder(inputs["source"]))[1]

    def greedy_decode(self, source):
        """Greedy decoding of ``(batch, max_source_len)`` ids, ``max_target_len + 1`` steps.

        Each step feeds back the previous step's argmax; once a row has emitted ``</s>`` it
        emits only padding. Returns tokens ``(batch, T)`` and, with attention, the alignment
        ``(batch, T, S)`` (zeros without attention).
        """
        memory, state = self.decoder.initial_memory(self.encoder(source))

        def one_step(previous, _):
            token, finished, state, weights = previous
            features, new_weights, state = self.decoder.step(
                self.decoder.embedding(token), state, memory
            )
            logits = self.decoder.output_projection(features)  # (batch, V)
            token = ops.where(finished, PAD, ops.cast(ops.argmax(logits, axis=-1), "int32"))
            finished = ops.logical_or(finished, ops.equal(token, END))
            return token, finished, state, weights if new_weights is None else new_weights

        no_row = ops.zeros_like(source[:, 0])  # (batch,)
        start = (
            no_row + START,
            ops.cast(no_row, "bool"),
            state,
            ops.zeros_like(ops.cast(source, "float32")),  # (batch, S)
        )
        steps = ops.arange(self.max_target_len + 1)
        tokens, _, _, alignment = tf.scan(one_step, steps, initializer=start)
        return ops.moveaxis(tokens, 0, 1), ops.moveaxis(alignment, 0, 1)  # (b, T), (b, T, S)

    def translate(self, texts: list[str], batch_size: int = 512) -> list[Translation]:
        """Greedy translations of ``texts``; bad inputs raise :class:`AttentionLabError`.

        Decoding is XLA-compiled once per batch shape, so each chunk of up to ``batch_size``
        inputs is padded with empty rows to the next power of two: a handful of shapes serve
        any number of inputs.
        """
        if isinstance(texts, str):
            raise AttentionLabError("translate() takes a list of strings, not one string")
        if self._greedy is None:
            # No autograph: greedy_decode has no Python control flow on tensors to convert.
            self._greedy = tf.function(self.greedy_decode, jit_compile=True, autograph=False)
        source = self.source_vocab.encode_batch(list(texts), self.max_source_len)
        results = []
        for start in range(0, len(texts), batch_size):
            chunk = source[start : start + batch_size]
            rows = 1 << (len(chunk) - 1).bit_length()  # next power of two
            padded = np.pad(chunk, ((0, rows - len(chunk)), (0, 0)), constant_values=PAD)
            tokens, alignment = self._greedy(ops.convert_to_tensor(padded))
            tokens, alignment = np.asarray(tokens), np.asarray(alignment)
            for row, text in enumerate(texts[start : start + batch_size]):
                results.append(self._translation(text, tokens[row], alignment[row]))
        return results

    def _translation(self, text: str, ids: np.ndarray, weights: np.ndarray) -> Translation:
        ended = bool((ids == END).any())
        n_out = int(np.argmax(ids == END)) + 1 if ended else len(ids)
        vocab = self.target_vocab
        return Translation(
            source=text,
            text=vocab.decode(ids),
            source_tokens=list(text),
            target_tokens=[vocab.tokens[i] for i in ids[:n_out]],
            ended=ended,
            alignment=weights[:n_out, : len(text)] if self.use_attention else None,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            source_alphabet=self.source_alphabet,
            target_alphabet=self.target_alphabet,
            max_source_len=self.max_source_len,
            max_target_len=self.max_target_len,
            embedding_dim=self.embedding_dim,
            units=self.units,
            use_attention=self.use_attention,
            attention_units=self.attention_units,
        )
        return config

    @classmethod
    def from_config(cls, config):
        if "attention" in config:  # written before the flag was renamed use_attention
            config = {**config, "use_attention": config["attention"]}
            del config["attention"]
        return super().from_config(config)
