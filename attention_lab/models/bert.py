"""The chapter's BERT in one file, in the chapter's order (Devlin et al., 2019; chapter 3-6).

1. :class:`BertConfig`: every number that shapes the model, under Hugging Face's names.
2. :func:`scaled_dot_product_attention`: softmax(Q Kᵀ / √d_k + M) V.
3. :class:`MultiHeadSelfAttention`: h heads of it, concatenated and projected.
4. :class:`TransformerEncoderBlock`: attention and feed-forward, each with residual + LayerNorm.
5. :class:`BertEmbeddings`: word + position + token-type embeddings.
6. :class:`BertPooler`: tanh(W · h_[CLS] + b).
7. :func:`check_inputs` and :class:`BertModel`: the encoder, L blocks over the embeddings.
8. The classifiers of sections 5 and 6: :class:`BertForSequenceClassification` (pre-built) and
   :class:`BertCustomClassifier` (the chapter's custom head).

BERT's pre-training heads (section 3: masked language model, next-sentence prediction) build on
this file in :mod:`attention_lab.models.bert_pretraining`.

Every module takes the one :class:`BertConfig`, so a hyperparameter has one name from
``config.json`` to the layer attribute, the weight map (:mod:`attention_lab.convert.weight_map`)
and the parity report. Sublayers are named after Hugging Face's modules (``query``, ``key``,
``value``, ``attention_output``, ``intermediate``, ``output``, ``LayerNorm``). This file is the
definition; faster implementations of the same computation, with the same weights, live apart
in :mod:`attention_lab.models.bert_fused` and register themselves in :data:`ENCODER_BLOCKS`.
Loading and saving Hugging Face folders live in :mod:`attention_lab.convert`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import math
from typing import Any

import keras
import numpy as np
from keras import ops

from attention_lab.errors import AttentionLabError, ConfigError

# ---------------------------------------------------------------------------------------------
# 1. The configuration (chapter section 3, "BERT")
# ---------------------------------------------------------------------------------------------

# The feed-forward activation by Hugging Face's ``hidden_act`` name. BERT uses the exact GELU,
# x · Φ(x) with Φ through erf; "gelu_new" and "gelu_pytorch_tanh" are the tanh approximation.
ACTIVATIONS = {
    "gelu": functools.partial(ops.gelu, approximate=False),
    "gelu_new": functools.partial(ops.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(ops.gelu, approximate=True),
    "relu": ops.relu,
}
_POSITIVE_INTS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "num_labels",
)
_PROBABILITIES = ("hidden_dropout_prob", "attention_probs_dropout_prob")
_POSITIVE_FLOATS = ("initializer_range", "layer_norm_eps")


@dataclasses.dataclass
class BertConfig:
    """Hyperparameters of BERT, named as in Hugging Face's ``BertConfig`` (defaults: BERT-Base
    cased, 12 blocks, 12 heads, hidden size 768, a 28,996-token WordPiece vocabulary).

    Attributes:
        vocab_size: WordPiece tokens.
        hidden_size: width H of every hidden state.
        num_hidden_layers: encoder blocks L.
        num_attention_heads: heads A per block; H must divide by A (d_k = H / A).
        intermediate_size: width of the feed-forward sub-layer (4H).
        hidden_act: feed-forward activation, a key of :data:`ACTIVATIONS`.
        hidden_dropout_prob: dropout after the embeddings and after each sub-layer.
        attention_probs_dropout_prob: dropout on the attention probabilities.
        max_position_embeddings: longest sequence the position table covers.
        type_vocab_size: segment ids (2: sentence A and sentence B).
        initializer_range: standard deviation of the truncated normal for new weights.
        layer_norm_eps: LayerNorm's epsilon.
        pad_token_id: id of ``[PAD]``.
        position_embedding_type: ``"absolute"``, the learned table of the original BERT.
        num_labels: classes of a sequence-classification head.

    Every field is checked when a config is made; a bad value raises :class:`ConfigError`
    naming the field, the value and a valid one.
    """

    vocab_size: int = 28996
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    num_labels: int = 2

    def __post_init__(self) -> None:
        def require(name: str, valid: bool, requirement: str) -> None:
            if not valid:
                default = getattr(BertConfig, name)
                raise ConfigError(
                    f"BertConfig.{name}={getattr(self, name)!r} must be {requirement}; set "
                    f"{name} in config.json (or BertConfig) to a valid value, e.g. {default!r}"
                )

        def number(value, kind) -> bool:
            return isinstance(value, kind) and not isinstance(value, bool)

        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            require(name, number(value, int) and value > 0, "a positive integer")
        for name in _PROBABILITIES:
            value = getattr(self, name)
            valid = number(value, int | float) and 0.0 <= value < 1.0
            require(name, valid, "a dropout probability in [0, 1)")
        for name in _POSITIVE_FLOATS:
            value = getattr(self, name)
            valid = number(value, int | float) and math.isfinite(value) and value > 0
            require(name, valid, "a finite number > 0")
        require(
            "pad_token_id",
            number(self.pad_token_id, int) and 0 <= self.pad_token_id < self.vocab_size,
            f"a token id in [0, vocab_size={self.vocab_size})",
        )
        require(
            "num_attention_heads",
            self.hidden_size % self.num_attention_heads == 0,
            f"a divisor of hidden_size={self.hidden_size}",
        )
        require("hidden_act", self.hidden_act in ACTIVATIONS, f"one of {sorted(ACTIVATIONS)}")
        require(
            "position_embedding_type",
            self.position_embedding_type == "absolute",
            "'absolute' (the original BERT's learned positions; relative ones are not built)",
        )

    @property
    def head_size(self) -> int:
        """d_k = d_v = hidden_size / num_attention_heads (64 for BERT-Base)."""
        return self.hidden_size // self.num_attention_heads

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BertConfig:
        """The config of ``values``, e.g. a ``config.json``; keys that are not fields are
        ignored (``architectures``, ``model_type``, ...)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def as_config(config: BertConfig | dict | None) -> BertConfig:
    """``config`` itself, the config of a dict (``get_config()`` stores one), or BERT-Base."""
    if config is None:
        return BertConfig()
    return config if isinstance(config, BertConfig) else BertConfig.from_dict(config)


# False while building a model whose every weight is about to be loaded (no_init_weights).
_DRAW_INITIAL_WEIGHTS = contextvars.ContextVar("draw_initial_weights", default=True)


@contextlib.contextmanager
def no_init_weights():
    """Build models whose weights all come from a checkpoint without drawing them first (as
    Hugging Face's ``no_init_weights``): they start at zero. The random seeds are still drawn,
    so dropout masks are the same either way."""
    token = _DRAW_INITIAL_WEIGHTS.set(False)
    try:
        yield
    finally:
        _DRAW_INITIAL_WEIGHTS.reset(token)


def _initializer(config: BertConfig):
    """BERT's initialisation of new weights: a truncated normal of std ``initializer_range``."""
    draw = keras.initializers.TruncatedNormal(stddev=config.initializer_range)  # takes a seed
    return draw if _DRAW_INITIAL_WEIGHTS.get() else keras.initializers.Zeros()


class ConfiguredLayer(keras.layers.Layer):
    """A layer built from the one :class:`BertConfig`, which ``get_config()`` stores as a dict
    (so ``config`` may be either)."""

    def __init__(self, config: BertConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.config = as_config(config)

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}


def bert_dense(units: int, config: BertConfig, dtype, name: str, activation=None, init=None):
    """``Dense`` initialised as BERT's (by ``init`` when a module shares one initializer)."""
    init = init or _initializer(config)
    return keras.layers.Dense(
        units, activation=activation, kernel_initializer=init, dtype=dtype, name=name
    )


# ---------------------------------------------------------------------------------------------
# 2. Scaled dot-product attention (Vaswani et al., 2017, section 3.2.1; chapter section 3)
# ---------------------------------------------------------------------------------------------

# Added to the scores of masked keys: exp(-1e9 - max) is exactly 0.0 in float32, and unlike -inf
# a fully padded row still sums to a finite number, so it cannot produce NaN.
MASK_VALUE = -1e9


def additive_attention_mask(attention_mask):
    """The 1/0 padding mask ``(batch, k_len)`` as the additive M of the softmax:
    float32 ``(batch, 1, 1, k_len)``, 0 for real tokens and ``MASK_VALUE`` for padding."""
    mask = ops.cast(attention_mask, "float32")
    return (1.0 - mask)[:, None, None, :] * MASK_VALUE  # (batch, 1, 1, k_len)


def scaled_dot_product_attention(query, key, value, mask=None, dropout=None, training=None):
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V, returning ``(output, weights)``.

    ``query`` ``(..., q_len, d_k)``, ``key`` ``(..., k_len, d_k)``, ``value``
    ``(..., k_len, d_v)``; ``mask`` is additive (:func:`additive_attention_mask`), and
    ``dropout``, a ``keras.layers.Dropout``, drops weights as BERT does. Scores and softmax are
    float32 whatever the input dtype. Returns the output ``(..., q_len, d_v)`` in ``value``'s
    dtype and the weights ``(..., q_len, k_len)``, float32, before dropout.
    """
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2))  # (..., q_len, k_len)
    scores = ops.cast(scores, "float32") / math.sqrt(query.shape[-1])
    if mask is not None:
        scores = scores + ops.cast(mask, "float32")
    weights = ops.softmax(scores, axis=-1)  # (..., q_len, k_len), rows sum to 1
    dropped = weights if dropout is None else dropout(weights, training=training)
    return ops.matmul(ops.cast(dropped, value.dtype), value), weights  # (..., q_len, d_v)


# ---------------------------------------------------------------------------------------------
# 3. Multi-head self-attention (Vaswani et al., 2017, section 3.2.2)
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="attention_lab")
class MultiHeadSelfAttention(ConfiguredLayer):
    """h heads of attention over the same sequence, concatenated and projected.

        headᵢ        = Attention(X W_i^Q, X W_i^K, X W_i^V)
        MultiHead(X) = Concat(head₁, …, head_h) W^O

    Sublayers, as Hugging Face's ``BertSelfAttention`` and ``BertSelfOutput.dense``: ``query``,
    ``key``, ``value``, ``attention_output`` and ``dropout`` (on the probabilities).

    Call: ``hidden_states`` ``(batch, len, H)``, an additive ``attention_mask``
    ``(batch, 1, 1, len)`` or None. Returns ``(output, probs)``: ``(batch, len, H)`` and
    ``(batch, heads, len, len)`` (float32).
    """

    def build(self, input_shape):
        c, dtype = self.config, self.dtype_policy
        self.query = bert_dense(c.hidden_size, c, dtype, "query")
        self.key = bert_dense(c.hidden_size, c, dtype, "key")
        self.value = bert_dense(c.hidden_size, c, dtype, "value")
        self.attention_output = bert_dense(c.hidden_size, c, dtype, "attention_output")
        self.dropout = keras.layers.Dropout(c.attention_probs_dropout_prob, dtype=dtype)
        for projection in (self.query, self.key, self.value, self.attention_output):
            projection.build(input_shape)

    def split_heads(self, x):
        """``(batch, len, H)`` -> ``(batch, heads, len, d_k)``."""
        c = self.config
        x = ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], c.num_attention_heads, c.head_size))
        return ops.transpose(x, (0, 2, 1, 3))

    def merge_heads(self, x):
        """``(batch, heads, len, d_k)`` -> ``(batch, len, H)``: the concatenation."""
        x = ops.transpose(x, (0, 2, 1, 3))  # (batch, len, heads, d_k)
        return ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], self.config.hidden_size))

    def call(self, hidden_states, attention_mask=None, training=None):
        q = self.split_heads(self.query(hidden_states))  # (batch, heads, len, d_k)
        k = self.split_heads(self.key(hidden_states))  # (batch, heads, len, d_k)
        v = self.split_heads(self.value(hidden_states))  # (batch, heads, len, d_k)
        context, probs = scaled_dot_product_attention(
            q, k, v, mask=attention_mask, dropout=self.dropout, training=training
        )  # (batch, heads, len, d_k), (batch, heads, len, len)
        return self.attention_output(self.merge_heads(context)), probs  # (batch, len, H)


# ---------------------------------------------------------------------------------------------
# 4. The encoder block (Vaswani et al., 2017, section 3.1; post-LayerNorm, as in BERT)
# ---------------------------------------------------------------------------------------------


def activation(config: BertConfig, x):
    """The feed-forward activation ``config.hidden_act`` of ``x``, computed in float32 (as
    softmax and LayerNorm are, so that under mixed precision only its result is rounded)."""
    return ops.cast(ACTIVATIONS[config.hidden_act](ops.cast(x, "float32")), x.dtype)


@keras.saving.register_keras_serializable(package="attention_lab")
class TransformerEncoderBlock(ConfiguredLayer):
    """Self-attention and a feed-forward sub-layer, each followed by residual + LayerNorm.

        A = LayerNorm(X + Dropout(MultiHeadSelfAttention(X)))
        Y = LayerNorm(A + Dropout(W₂ · GELU(W₁ · A + b₁) + b₂))

    The chapter's Transformer puts a ReLU between W₁ and W₂; BERT uses the exact GELU, which is
    ``hidden_act="gelu"``. Sublayers, as Hugging Face's ``BertLayer``: ``attention``,
    ``attention_output_dropout`` and ``attention_LayerNorm`` (HF ``attention.output.*``),
    ``intermediate``, ``output`` (attribute ``output_dense``), ``output_dropout`` and
    ``output_LayerNorm``.

    Call: ``hidden_states`` ``(batch, len, H)`` and an additive mask. Returns
    ``(hidden_states, attention_probs)``.
    """

    def build(self, input_shape):
        c, dtype = self.config, self.dtype_policy
        eps, rate, init = c.layer_norm_eps, c.hidden_dropout_prob, _initializer(c)
        self.attention = MultiHeadSelfAttention(c, dtype=dtype, name="attention")
        self.attention_output_dropout = keras.layers.Dropout(
            rate, dtype=dtype, name="attention_output_dropout"
        )
        self.attention_LayerNorm = keras.layers.LayerNormalization(
            epsilon=eps, dtype=dtype, name="attention_LayerNorm"
        )
        self.intermediate = bert_dense(c.intermediate_size, c, dtype, "intermediate", init=init)
        self.output_dense = bert_dense(c.hidden_size, c, dtype, "output", init=init)
        self.output_dropout = keras.layers.Dropout(rate, dtype=dtype, name="output_dropout")
        self.output_LayerNorm = keras.layers.LayerNormalization(
            epsilon=eps, dtype=dtype, name="output_LayerNorm"
        )
        for sublayer in (self.attention, self.attention_LayerNorm, self.intermediate):
            sublayer.build(input_shape)
        self.output_dense.build((*input_shape[:-1], c.intermediate_size))
        self.output_LayerNorm.build(input_shape)

    def call(self, hidden_states, attention_mask=None, training=None):
        attended, probs = self.attention(hidden_states, attention_mask, training=training)
        attended = self.attention_output_dropout(attended, training=training)
        hidden_states = self.attention_LayerNorm(hidden_states + attended)  # A: (batch, len, H)

        inner = activation(self.config, self.intermediate(hidden_states))  # (batch, len, 4H)
        feed_forward = self.output_dropout(self.output_dense(inner), training=training)
        return self.output_LayerNorm(hidden_states + feed_forward), probs  # Y: (batch, len, H)


# ---------------------------------------------------------------------------------------------
# 5. The embeddings (Devlin et al., 2019, section 3, figure 2)
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="attention_lab")
class BertEmbeddings(ConfiguredLayer):
    """BERT's input representation, then dropout:

        E = LayerNorm(WordEmbedding[input_ids] + PositionEmbedding[0…len) + TokenType[types])

    Positions are absolute and learned; token types tell sentence A (0) from sentence B (1).
    Sublayers, as Hugging Face's: ``word_embeddings``, ``position_embeddings``,
    ``token_type_embeddings``, ``LayerNorm``.

    Call: ``input_ids`` and ``token_type_ids`` ``(batch, len)``; ``inputs_embeds``
    ``(batch, len, H)`` stands in for the word lookup (gradient attributions use it).
    Returns ``(batch, len, H)``.
    """

    def build(self, input_shape):
        c, dtype, init = self.config, self.dtype_policy, _initializer(self.config)

        def table(rows: int, name: str):
            embedding = keras.layers.Embedding(
                rows, c.hidden_size, embeddings_initializer=init, dtype=dtype, name=name
            )
            embedding.build(input_shape)
            return embedding

        self.word_embeddings = table(c.vocab_size, "word_embeddings")
        self.position_embeddings = table(c.max_position_embeddings, "position_embeddings")
        self.token_type_embeddings = table(c.type_vocab_size, "token_type_embeddings")
        self.LayerNorm = keras.layers.LayerNormalization(
            epsilon=c.layer_norm_eps, dtype=dtype, name="LayerNorm"
        )
        self.LayerNorm.build((*input_shape, c.hidden_size))
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob, dtype=dtype)

    def call(self, input_ids, token_type_ids, training=None, inputs_embeds=None):
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (batch, len, H)
        length = ops.shape(inputs_embeds)[1]
        positions = self.position_embeddings.embeddings[:length]  # (len, H): rows 0 … len-1
        types = self.token_type_embeddings(token_type_ids)  # (batch, len, H)
        embeddings = inputs_embeds + ops.cast(positions, inputs_embeds.dtype)[None] + types
        return self.dropout(self.LayerNorm(embeddings), training=training)  # (batch, len, H)


# ---------------------------------------------------------------------------------------------
# 6. The pooler (chapter section 6, "pooled output")
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="attention_lab")
class BertPooler(ConfiguredLayer):
    """pooled = tanh(W · h_[CLS] + b): the first token's final state through ``dense``.

    Call: ``sequence_output`` ``(batch, len, H)``. Returns ``(batch, H)``.
    """

    def build(self, input_shape):
        c = self.config
        self.dense = bert_dense(c.hidden_size, c, self.dtype_policy, "dense", activation="tanh")
        self.dense.build((input_shape[0], c.hidden_size))

    def call(self, sequence_output):
        return self.dense(sequence_output[:, 0])  # (batch, H): the [CLS] token


# ---------------------------------------------------------------------------------------------
# 7. The encoder: embeddings, L blocks, the pooler
# ---------------------------------------------------------------------------------------------

INPUT_NAMES = ("input_ids", "inputs_embeds", "attention_mask", "token_type_ids")
# Implementations of the encoder block by name: this file's is the definition; faster ones
# (attention_lab.models.bert_fused) register here with the same weights and the same results.
ENCODER_BLOCKS = {"eager": TransformerEncoderBlock}


def _values(x) -> np.ndarray | None:
    """``x``'s values, or None while ``x`` is symbolic or traced (a compiled function's input
    has no values yet, so its ids can only be checked before the call)."""
    if isinstance(x, keras.KerasTensor):
        return None
    try:
        return ops.convert_to_numpy(x)
    except (NotImplementedError, TypeError, ValueError, RuntimeError):  # a traced tensor
        return None


def check_inputs(config: BertConfig, inputs) -> None:
    """Refuse a batch that ``config``'s model cannot read, with one line naming the tensor.

    ``inputs`` is the dict of :class:`BertModel`. Checked: the keys; every tensor's rank and
    that their shapes agree; the length against ``max_position_embeddings``; and, where the
    values are known (not inside a compiled function), that token ids are whole numbers in
    ``[0, vocab_size)`` and token types in ``[0, type_vocab_size)``: a gather does not fail
    reliably on an id outside its table (some backends return zeros or NaN), so it is refused
    before. Pipelines call this before a compiled call; :class:`BertModel` at every call.
    """
    if not isinstance(inputs, dict) or ("input_ids" in inputs) == ("inputs_embeds" in inputs):
        keys = f" with keys {sorted(inputs)}" if isinstance(inputs, dict) else ""
        raise AttentionLabError(
            "BertModel expects a dict with 'input_ids' or 'inputs_embeds' (one of them) and "
            f"optionally 'attention_mask', 'token_type_ids', got {type(inputs).__name__}{keys}"
        )
    unknown = sorted(set(inputs) - set(INPUT_NAMES))
    if unknown:
        raise AttentionLabError(f"BertModel inputs {unknown} are not among {list(INPUT_NAMES)}")
    main = "input_ids" if "input_ids" in inputs else "inputs_embeds"
    batch_shape = tuple(inputs[main].shape)[:2]  # (batch, len)
    for name, x in inputs.items():
        shape = () if x is None else tuple(x.shape)
        expected = (*batch_shape, config.hidden_size) if name == "inputs_embeds" else batch_shape
        agree = len(shape) == len(expected) and all(
            a is None or b is None or a == b for a, b in zip(shape, expected, strict=True)
        )
        if x is not None and (len(batch_shape) != 2 or not agree):
            raise AttentionLabError(
                f"{name} has shape {shape}; BertModel reads every input as (batch, len), "
                f"inputs_embeds as (batch, len, hidden_size={config.hidden_size}), all of one "
                "(batch, len)"
            )
    length = batch_shape[1]
    if length is not None and length > config.max_position_embeddings:
        raise AttentionLabError(
            f"the input has {length} positions but the model has only max_position_embeddings="
            f"{config.max_position_embeddings}; truncate the text (e.g. max_length="
            f"{config.max_position_embeddings})"
        )
    tables = {"input_ids": config.vocab_size, "token_type_ids": config.type_vocab_size}
    for name, upper in tables.items():
        if inputs.get(name) is None:
            continue
        values = _values(inputs[name])
        bad = None if values is None else np.argwhere((values < 0) | (values >= upper))
        if values is not None and not np.array_equal(values, np.round(values)):
            raise AttentionLabError(f"{name} holds fractional values; ids are whole numbers")
        if bad is not None and bad.size:
            where = tuple(int(i) for i in bad[0])
            raise AttentionLabError(
                f"{name} contains id {int(values[where])} at index {where}, outside [0, {upper});"
                " encode with this model's own vocab.txt (and segment ids below type_vocab_size)"
            )


@keras.saving.register_keras_serializable(package="attention_lab")
class BertModel(keras.Model):
    """The BERT encoder (chapter sections 3 and 6):

        H₀     = BertEmbeddings(input_ids, token_type_ids)
        Hₗ     = TransformerEncoderBlockₗ(Hₗ₋₁, M)          l = 1 … L
        pooled = BertPooler(H_L)

    Call: a dict with ``input_ids`` ``(batch, len)`` (or ``inputs_embeds``
    ``(batch, len, H)``), and optionally ``attention_mask`` (1 = token, 0 = padding; default
    all ones) and ``token_type_ids`` (default zeros). ``output_hidden_states`` and
    ``output_attentions`` add every block's output and attention probabilities.

    Returns a dict: ``sequence_output`` ``(batch, len, H)`` and ``pooled_output``
    ``(batch, H)`` (the chapter's names; Hugging Face's ``last_hidden_state`` and
    ``pooler_output``), and on request ``hidden_states`` (L + 1 tensors) and ``attentions``
    (L tensors ``(batch, heads, len, len)``). ``implementation`` names the encoder block of
    :data:`ENCODER_BLOCKS` (``"eager"``: this file's).
    """

    def __init__(
        self,
        config: BertConfig | dict | None = None,
        add_pooling_layer: bool = True,
        implementation: str = "eager",
        **kwargs,
    ):
        kwargs.setdefault("name", "bert")
        super().__init__(**kwargs)
        self.config = as_config(config)
        self.add_pooling_layer = add_pooling_layer
        self.implementation = implementation
        if implementation not in ENCODER_BLOCKS:
            raise AttentionLabError(
                f"implementation {implementation!r} is not one of {sorted(ENCODER_BLOCKS)}; "
                "'fused' is registered by importing attention_lab.models.bert_fused"
            )

    def build(self, input_shape=None):
        c, dtype = self.config, self.dtype_policy
        block = ENCODER_BLOCKS[self.implementation]
        self.embeddings = BertEmbeddings(c, dtype=dtype, name="embeddings")
        self.encoder_layers = [
            block(c, dtype=dtype, name=f"layer_{i}") for i in range(c.num_hidden_layers)
        ]
        self.pooler = BertPooler(c, dtype=dtype, name="pooler") if self.add_pooling_layer else None
        self.embeddings.build((None, None))
        for layer in [*self.encoder_layers, self.pooler]:
            if layer is not None:
                layer.build((None, None, c.hidden_size))
        self.built = True

    def call(self, inputs, training=None, output_hidden_states=False, output_attentions=False):
        check_inputs(self.config, inputs)
        input_ids, embeds = inputs.get("input_ids"), inputs.get("inputs_embeds")
        batch_shape = ops.shape(embeds if input_ids is None else input_ids)[:2]
        mask = inputs.get("attention_mask")
        types = inputs.get("token_type_ids")
        mask = ops.ones(batch_shape, "int32") if mask is None else mask
        types = ops.zeros(batch_shape, "int32") if types is None else ops.cast(types, "int32")
        input_ids = None if input_ids is None else ops.cast(input_ids, "int32")  # (batch, len)

        hidden = self.embeddings(input_ids, types, training=training, inputs_embeds=embeds)
        mask = additive_attention_mask(mask)  # (batch, 1, 1, len)
        hidden_states, attentions = [hidden], []
        for block in self.encoder_layers:
            hidden, probs = block(hidden, mask, training=training)  # probs (batch, A, len, len)
            hidden_states.append(hidden)  # (batch, len, H)
            attentions.append(probs)

        outputs = {"sequence_output": hidden}
        if self.pooler is not None:
            outputs["pooled_output"] = self.pooler(hidden)  # (batch, H)
        if output_hidden_states:
            outputs["hidden_states"] = tuple(hidden_states)
        if output_attentions:
            outputs["attentions"] = tuple(attentions)
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "config": self.config.to_dict(),
            "add_pooling_layer": self.add_pooling_layer,
            "implementation": self.implementation,
        }


# ---------------------------------------------------------------------------------------------
# 8. Sequence classification (chapter sections 5 and 6)
# ---------------------------------------------------------------------------------------------


class PooledOutputClassifier(keras.Model):
    """BERT with a head on its pooled output, the part both classifiers share: the config, the
    encoder block's implementation, the encoder ``bert``; a head makes its layers in
    :meth:`build_head` and reads the pooled output in :meth:`head`."""

    def __init__(
        self, config: BertConfig | dict | None = None, implementation: str = "eager", **kwargs
    ):
        kwargs.setdefault("name", self.default_name)
        super().__init__(**kwargs)
        self.config = as_config(config)
        self.implementation = implementation

    def build(self, input_shape=None):
        c, dtype = self.config, self.dtype_policy
        self.bert = BertModel(c, implementation=self.implementation, dtype=dtype, name="bert")
        self.build_head(c, dtype)
        self.bert.build()
        self.built = True

    def call(self, inputs, training=None):
        pooled = self.bert(inputs, training=training)["pooled_output"]  # (batch, H)
        return self.head(pooled, training)  # (batch, num_labels)

    def get_config(self):
        config = {"config": self.config.to_dict(), "implementation": self.implementation}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="attention_lab")
class BertForSequenceClassification(PooledOutputClassifier):
    """The pre-built classifier (section 5; Hugging Face's ``BertForSequenceClassification``):

        logits = W · Dropout(pooled_output) + b            # num_labels outputs, ``classifier``

    Returns logits ``(batch, num_labels)``: train them with a loss that takes logits.
    """

    default_name = "bert_classifier"

    def build_head(self, c: BertConfig, dtype):
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob, dtype=dtype)
        self.classifier = bert_dense(c.num_labels, c, dtype, "classifier")
        self.classifier.build((None, c.hidden_size))

    def head(self, pooled, training=None):
        return self.classifier(self.dropout(pooled, training=training))  # (batch, num_labels)


@keras.saving.register_keras_serializable(package="attention_lab")
class BertCustomClassifier(PooledOutputClassifier):
    """The chapter's custom head on the pooled output (section 6, "Custom BERT model"):

        h      = ReLU(W₁ · Dropout₀.₂(pooled_output) + b₁)      # 200 units, ``head_dense``
        logits = W₂ · Dropout₀.₂(h) + b₂                        # num_labels units, ``logits``

    The chapter ends with ``Dense(2, activation='sigmoid')`` trained with
    ``BinaryCrossentropy(from_logits=True)``: a second sigmoid over values already in (0, 1),
    so its loss cannot fall below about 0.5 and stalls at 0.55-0.60. Here the last layer
    returns logits. Both dense layers keep Keras's default initialisation (Glorot-uniform), as
    the chapter's ``tf.keras.layers.Dense`` calls do; BERT's std of 0.02 through two stacked
    layers would make the first logits, and the encoder's gradients, 10-15 times smaller.
    """

    default_name = "bert_custom_classifier"

    def __init__(
        self,
        config: BertConfig | dict | None = None,
        head_units: int = 200,
        head_dropout: float = 0.2,
        implementation: str = "eager",
        **kwargs,
    ):
        super().__init__(config, implementation, **kwargs)
        self.head_units = head_units
        self.head_dropout = head_dropout

    def build_head(self, c: BertConfig, dtype):
        rate = self.head_dropout
        self.head_dropout_1 = keras.layers.Dropout(rate, dtype=dtype, name="head_dropout_1")
        self.head_dense = keras.layers.Dense(
            self.head_units, activation="relu", dtype=dtype, name="head_dense"
        )
        self.head_dropout_2 = keras.layers.Dropout(rate, dtype=dtype, name="head_dropout_2")
        self.logits = keras.layers.Dense(c.num_labels, dtype=dtype, name="logits")
        self.head_dense.build((None, c.hidden_size))
        self.logits.build((None, self.head_units))

    def head(self, pooled, training=None):
        hidden = self.head_dense(self.head_dropout_1(pooled, training=training))  # (batch, 200)
        return self.logits(self.head_dropout_2(hidden, training=training))  # (batch, num_labels)

    def get_config(self):
        head = {"head_units": self.head_units, "head_dropout": self.head_dropout}
        return {**super().get_config(), **head}


# The two classifiers by the name the command line uses (--head).
HEADS = {"prebuilt": BertForSequenceClassification, "custom": BertCustomClassifier}


def build_classifier(
    head: str, config: BertConfig, dtype=None, implementation: str = "eager", **options
):
    """A built classifier: ``head`` ``"prebuilt"`` (section 5) or ``"custom"`` (section 6),
    under the Keras dtype policy ``dtype``; ``options`` go to the head (``head_units``, ...)."""
    if head not in HEADS:
        raise AttentionLabError(f"unknown head {head!r}; choose one of {sorted(HEADS)}")
    model = HEADS[head](config, implementation=implementation, dtype=dtype, **options)
    model.build()
    return model


def head_name(model: keras.Model) -> str:
    """``"prebuilt"`` or ``"custom"``: the inverse of :func:`build_classifier`."""
    for name, cls in HEADS.items():
        if type(model) is cls:
            return name
    raise AttentionLabError(f"{type(model).__name__} is not one of the classifiers {HEADS}")


def set_encoder_trainable(model: keras.Model, trainable: bool) -> None:
    """The chapter's ``bert.trainable = False``: the encoder frozen as a feature extractor
    (section 1), only the head trained; it takes effect at the next ``compile``."""
    model.bert.trainable = trainable
