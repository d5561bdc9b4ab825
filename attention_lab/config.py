"""BertConfig: every number that shapes a BERT encoder, with BERT-Base cased as the default.

Chapter section 3 ("BERT"): BERT-Base has 12 encoder blocks, 12 attention heads and a hidden
size of 768 (about 110M parameters); the cased WordPiece vocabulary has 28,996 tokens.
The field names are those of Hugging Face's ``BertConfig`` so that ``config.json`` files map
one to one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from attention_lab.errors import CheckpointError

# Hugging Face's names for the exact GELU; "gelu_new"/"gelu_pytorch_tanh" are the tanh
# approximation, which our encoder block also supports for checkpoints trained with it.
_SUPPORTED_ACTIVATIONS = ("gelu", "gelu_tanh", "relu")
_HF_ACTIVATION_NAMES = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}


@dataclasses.dataclass
class BertConfig:
    """Hyper-parameters of a BERT encoder (Devlin et al., 2019, section 3).

    Attributes:
        vocab_size: number of WordPiece tokens (28,996 for ``bert-base-cased``).
        hidden_size: width H of every hidden state (768 for BERT-Base).
        num_hidden_layers: number of encoder blocks L (12).
        num_attention_heads: heads A per block (12); ``hidden_size`` must divide by it.
        intermediate_size: width of the feed-forward sub-layer (4H = 3072).
        hidden_act: feed-forward activation: ``"gelu"`` is the exact erf GELU that BERT uses.
        hidden_dropout_prob: dropout after embeddings and after each sub-layer.
        attention_probs_dropout_prob: dropout on the attention probabilities.
        max_position_embeddings: longest sequence the position table covers (512).
        type_vocab_size: number of segment ids (2: sentence A and sentence B).
        initializer_range: std of the truncated normal used for fresh weights.
        layer_norm_eps: LayerNorm epsilon; 1e-12 as in the original TensorFlow BERT.
        pad_token_id: id of ``[PAD]``.
        num_labels: classes of a sequence-classification head (used by the classifiers).
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
    num_labels: int = 2

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise CheckpointError(
                    f"BertConfig.{name} must be a positive integer, got {value!r}"
                )
        if self.hidden_size % self.num_attention_heads:
            raise CheckpointError(
                f"BertConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.hidden_act not in _SUPPORTED_ACTIVATIONS:
            raise CheckpointError(
                f"BertConfig.hidden_act {self.hidden_act!r} is not supported; "
                f"use one of {_SUPPORTED_ACTIVATIONS}"
            )

    @property
    def head_size(self) -> int:
        """d_k = d_v = hidden_size / num_attention_heads (64 for BERT-Base)."""
        return self.hidden_size // self.num_attention_heads

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BertConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def from_hf_config(cls, hf: dict[str, Any] | Any) -> BertConfig:
        """Build from a Hugging Face ``config.json`` dict or ``transformers.BertConfig``.

        Refuses non-BERT architectures and settings our encoder does not implement
        (relative position embeddings), naming the offending key.
        """
        values = hf if isinstance(hf, dict) else hf.to_dict()
        model_type = values.get("model_type", "bert")
        if model_type != "bert":
            raise CheckpointError(
                f"config.json has model_type={model_type!r}; attention_lab converts BERT "
                "checkpoints only (model_type 'bert', e.g. BertModel or "
                "BertForSequenceClassification)"
            )
        position_type = values.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise CheckpointError(
                f"config.json has position_embedding_type={position_type!r}; only absolute "
                "position embeddings (the original BERT) are implemented"
            )
        act = values.get("hidden_act", "gelu")
        if act not in _HF_ACTIVATION_NAMES:
            raise CheckpointError(
                f"config.json has hidden_act={act!r}; supported: {sorted(_HF_ACTIVATION_NAMES)}"
            )
        defaults = cls()
        fields = {f.name for f in dataclasses.fields(cls)} - {"hidden_act", "num_labels"}
        kwargs = {name: values.get(name, getattr(defaults, name)) for name in fields}
        if kwargs["pad_token_id"] is None:
            kwargs["pad_token_id"] = 0
        id2label = values.get("id2label")
        num_labels = len(id2label) if id2label else values.get("num_labels", defaults.num_labels)
        return cls(hidden_act=_HF_ACTIVATION_NAMES[act], num_labels=num_labels, **kwargs)
