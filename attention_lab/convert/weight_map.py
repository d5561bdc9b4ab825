"""The weight map: every Hugging Face BERT tensor name beside the Keras variable it fills.

Read it as a table. PyTorch ``nn.Linear`` stores ``weight`` as ``(out, in)``; a Keras
``Dense`` kernel is ``(in, out)``, so dense weights are transposed. LayerNorm's
``weight``/``bias`` are Keras's ``gamma``/``beta``; embedding tables are copied as they are.

The same map drives loading (Hugging Face -> ours) and saving (ours -> Hugging Face), so a
folder written by :func:`attention_lab.convert.save_bert` is one that ``transformers`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

import keras

from attention_lab.models.bert_pretraining import BertLMPredictionHead

# Hugging Face module name (relative to the BERT model)  ->  our sublayer (its attribute path)
EMBEDDING_MODULES = {
    "embeddings.word_embeddings": "embeddings.word_embeddings",
    "embeddings.position_embeddings": "embeddings.position_embeddings",
    "embeddings.token_type_embeddings": "embeddings.token_type_embeddings",
    "embeddings.LayerNorm": "embeddings.LayerNorm",
}
# Hugging Face module name inside encoder.layer.{i}  ->  our sublayer of layer_{i} (its path)
ENCODER_BLOCK_MODULES = {
    "attention.self.query": "attention.query",
    "attention.self.key": "attention.key",
    "attention.self.value": "attention.value",
    "attention.output.dense": "attention.attention_output",
    "attention.output.LayerNorm": "attention_LayerNorm",
    "intermediate.dense": "intermediate",
    "output.dense": "output_dense",
    "output.LayerNorm": "output_LayerNorm",
}
POOLER_MODULE = "pooler.dense"
# The heads on the pooled output, by the Hugging Face names of their tensors. The pre-built head
# is ``BertForSequenceClassification.classifier``; the chapter's custom head (section 6) has no
# Hugging Face class, so its two dense layers keep their Keras names.
# The pre-training heads (models/bert_pretraining.py) are Hugging Face's ``cls`` modules; their
# decoder is tied to the word embeddings, so it has no row of its own.
MASKED_LM_MODULES = {
    "cls.predictions": "predictions",  # its own bias
    "cls.predictions.transform.dense": "predictions.transform_dense",
    "cls.predictions.transform.LayerNorm": "predictions.transform_LayerNorm",
}
HEAD_MODULES = {
    "prebuilt": {"classifier": "classifier"},
    "custom": {"head_dense": "head_dense", "logits": "logits"},
    # Issue 33's heads over every token (models/bert_token_heads.py): Keras names, no HF class.
    "lstm": {"head_lstm": "head_lstm.cell", "logits": "logits"},
    "concat": {"head_dense": "head_dense", "logits": "logits"},
    "masked-lm": MASKED_LM_MODULES,
    "pretraining": {**MASKED_LM_MODULES, "cls.seq_relationship": "seq_relationship"},
}
# The tied decoder as older checkpoints store it (a copy of the word embeddings and the bias).
TIED_DECODER = {
    "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}
# Inside a classifier, every encoder tensor is prefixed as in ``BertForSequenceClassification``.
ENCODER_PREFIX = "bert."

# Each kind of layer's parameters: Hugging Face's name -> (the Keras attribute, transposed?).
PARAMETERS = {
    BertLMPredictionHead: {"bias": ("bias", False)},
    keras.layers.Dense: {"weight": ("kernel", True), "bias": ("bias", False)},
    keras.layers.LayerNormalization: {"weight": ("gamma", False), "bias": ("beta", False)},
    keras.layers.Embedding: {"weight": ("embeddings", False)},
    # Keras's own layout (gates i, f, c, o), under Keras's names: no Hugging Face module has it.
    keras.layers.LSTMCell: {name: (name, False) for name in ("kernel", "recurrent_kernel", "bias")},
}

# Buffers that Hugging Face saves beside the parameters; they hold no learned values.
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
# Pre-training heads (masked LM and next-sentence prediction), skipped by the models without them.
PRETRAINING_HEAD_PREFIX = "cls."


@dataclass(frozen=True)
class WeightMapping:
    """One row of the table: ``hf_name`` fills ``variable`` (transposed if ``transpose``)."""

    hf_name: str
    variable: keras.Variable
    transpose: bool


def _parameters(module: str, layer: keras.layers.Layer) -> list[WeightMapping]:
    names = PARAMETERS[next(kind for kind in PARAMETERS if isinstance(layer, kind))]
    return [
        WeightMapping(f"{module}.{hf}", getattr(layer, ours), transpose)
        for hf, (ours, transpose) in names.items()
    ]


def bert_weight_map(bert, prefix: str = "") -> list[WeightMapping]:
    """Rows for a built :class:`~attention_lab.models.bert.BertModel`.

    ``prefix`` is prepended to every Hugging Face name (``"bert."`` inside
    ``BertForSequenceClassification``).
    """
    rows = []
    for module, sublayer in EMBEDDING_MODULES.items():
        rows += _parameters(prefix + module, attrgetter(sublayer)(bert))
    for i, block in enumerate(bert.encoder_layers):
        for module, sublayer in ENCODER_BLOCK_MODULES.items():
            rows += _parameters(f"{prefix}encoder.layer.{i}.{module}", attrgetter(sublayer)(block))
    if bert.pooler is not None:
        rows += _parameters(prefix + POOLER_MODULE, bert.pooler.dense)
    return rows


def head_weight_map(model, head: str) -> list[WeightMapping]:
    """Rows for the ``head`` of a built model: a classifier's (``"prebuilt"``, ``"custom"``)
    or a pre-training model's (``"masked-lm"``, ``"pretraining"``)."""
    rows = []
    for module, sublayer in HEAD_MODULES[head].items():
        rows += _parameters(module, attrgetter(sublayer)(model))
    return rows


def classifier_weight_map(model, head: str) -> list[WeightMapping]:
    """Rows for a built classifier: its encoder under ``bert.``, then its head."""
    return bert_weight_map(model.bert, prefix=ENCODER_PREFIX) + head_weight_map(model, head)
