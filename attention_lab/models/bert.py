"""The BERT encoder (Devlin et al., 2019; chapter sections 3 and 6), built from our layers.

    E      = BertEmbeddings(input_ids, token_type_ids)
    H₀     = E
    Hₗ     = TransformerEncoderBlock_l(Hₗ₋₁, mask)        for l = 1..L
    pooled = tanh(W · H_L[:, 0] + b)

Inputs are named as in the chapter (and in Hugging Face): ``input_ids``, ``attention_mask``
(1 = real token, 0 = padding) and ``token_type_ids`` (0 = sentence A, 1 = sentence B).
The outputs are the chapter's "sequence output" ``(batch, len, H)`` and "pooled output"
``(batch, H)``; Hugging Face calls them ``last_hidden_state`` and ``pooler_output``.
"""

from __future__ import annotations

import keras
from keras import ops

from attention_lab.config import BertConfig
from attention_lab.errors import AttentionLabError
from attention_lab.layers import (
    BertEmbeddings,
    BertPooler,
    TransformerEncoderBlock,
    additive_attention_mask,
)


@keras.saving.register_keras_serializable(package="attention_lab")
class BertModel(keras.Model):
    """BERT encoder driven by a :class:`BertConfig` (defaults: BERT-Base cased).

    Sublayers, named as Hugging Face's ``BertModel`` modules: ``embeddings``,
    ``encoder_layers[i]`` (Keras name ``layer_i``, HF ``encoder.layer.i``), ``pooler``.

    Call arguments:
        inputs: dict with ``input_ids`` ``(batch, len)`` and optionally ``attention_mask``
            (default all ones) and ``token_type_ids`` (default all zeros); or, as Hugging
            Face's ``inputs_embeds``, word embeddings ``(batch, len, H)`` in place of
            ``input_ids`` (positions and token types are still added), which is how gradient
            attributions differentiate with respect to the input.
        output_hidden_states: also return the embeddings and every block's output.
        output_attentions: also return every block's attention probabilities.

    Returns:
        dict with ``sequence_output`` ``(batch, len, H)``, ``pooled_output`` ``(batch, H)``
        (absent when ``add_pooling_layer=False``) and, on request, ``hidden_states``
        (L + 1 tensors ``(batch, len, H)``) and ``attentions`` (L tensors
        ``(batch, heads, len, len)``).
    """

    def __init__(self, config: BertConfig | None = None, add_pooling_layer: bool = True, **kwargs):
        kwargs.setdefault("name", "bert")
        super().__init__(**kwargs)
        self.config = config or BertConfig()
        self.add_pooling_layer = add_pooling_layer

    def build(self, input_shape=None):
        c = self.config
        policy = self.dtype_policy
        self.embeddings = BertEmbeddings(
            vocab_size=c.vocab_size,
            hidden_size=c.hidden_size,
            max_position_embeddings=c.max_position_embeddings,
            type_vocab_size=c.type_vocab_size,
            hidden_dropout=c.hidden_dropout_prob,
            layer_norm_eps=c.layer_norm_eps,
            initializer_range=c.initializer_range,
            dtype=policy,
            name="embeddings",
        )
        self.encoder_layers = [
            TransformerEncoderBlock(
                hidden_size=c.hidden_size,
                num_heads=c.num_attention_heads,
                intermediate_size=c.intermediate_size,
                hidden_act=c.hidden_act,
                hidden_dropout=c.hidden_dropout_prob,
                attention_dropout=c.attention_probs_dropout_prob,
                layer_norm_eps=c.layer_norm_eps,
                initializer_range=c.initializer_range,
                dtype=policy,
                name=f"layer_{i}",
            )
            for i in range(c.num_hidden_layers)
        ]
        self.pooler = (
            BertPooler(c.hidden_size, c.initializer_range, dtype=policy, name="pooler")
            if self.add_pooling_layer
            else None
        )
        self.embeddings.build((None, None))
        for block in self.encoder_layers:
            block.build((None, None, c.hidden_size))
        if self.pooler is not None:
            self.pooler.build((None, None, c.hidden_size))
        self.built = True

    def call(self, inputs, training=None, output_hidden_states=False, output_attentions=False):
        if not isinstance(inputs, dict) or ("input_ids" in inputs) == ("inputs_embeds" in inputs):
            raise AttentionLabError(
                "BertModel expects a dict with 'input_ids' or 'inputs_embeds' (one of them) "
                f"and optionally 'attention_mask', 'token_type_ids', got {type(inputs).__name__}"
                + (f" with keys {sorted(inputs)}" if isinstance(inputs, dict) else "")
            )
        input_ids = inputs.get("input_ids")
        embeds = inputs.get("inputs_embeds")  # (batch, len, H) in place of the word lookup
        if input_ids is not None:
            input_ids = ops.cast(input_ids, "int32")  # (batch, len)
        batch_shape = ops.shape(input_ids if embeds is None else embeds)[:2]
        attention_mask = inputs.get("attention_mask")
        if attention_mask is None:
            attention_mask = ops.ones(batch_shape, "int32")
        token_type_ids = inputs.get("token_type_ids")
        if token_type_ids is None:
            token_type_ids = ops.zeros(batch_shape, "int32")
        token_type_ids = ops.cast(token_type_ids, "int32")

        hidden = self.embeddings(
            input_ids, token_type_ids, training=training, inputs_embeds=embeds
        )  # (batch, len, H)
        mask = additive_attention_mask(attention_mask)  # (batch, 1, 1, len)
        all_hidden, all_attentions = [hidden], []
        for block in self.encoder_layers:
            hidden, probs = block(hidden, mask, training=training)  # probs (batch, A, len, len)
            all_hidden.append(hidden)
            all_attentions.append(probs)

        outputs = {"sequence_output": hidden}
        if self.pooler is not None:
            outputs["pooled_output"] = self.pooler(hidden)  # (batch, H)
        if output_hidden_states:
            outputs["hidden_states"] = tuple(all_hidden)
        if output_attentions:
            outputs["attentions"] = tuple(all_attentions)
        return outputs

    def get_config(self):
        base = super().get_config()
        base.update(config=self.config.to_dict(), add_pooling_layer=self.add_pooling_layer)
        return base

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        bert_config = BertConfig.from_dict(config.pop("config"))
        return cls(bert_config, **config)
