"""BertConfig: every number that shapes a BERT encoder, with BERT-Base cased as the default.

Chapter section 3 ("BERT"): BERT-Base has 12 encoder blocks, 12 attention heads and a hidden
size of 768 (about 110M parameters); the cased WordPiece vocabulary has 28,996 tokens.
The field names are those of Hugging Face's ``BertConfig`` so that ``config.json`` files map
one to one. Every field is checked when a config is made: a bad value raises
:class:`~attention_lab.errors.CheckpointError` naming the field, the value and the fix, before
any layer sees it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from attention_lab.errors import CheckpointError


@dataclasses.dataclass(frozen=True)
class Activation:
    """One feed-forward activation under each of its names.

    Attributes:
        name: ours, the value of :attr:`BertConfig.hidden_act`.
        hf_names: Hugging Face's ``hidden_act`` values that mean this function; export
            writes the first.
        keras_name: the function, ``keras.activations.<keras_name>(x, **keras_kwargs)``.
        keras_kwargs: its keyword arguments.
    """

    name: str
    hf_names: tuple[str, ...]
    keras_name: str
    keras_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def hf_name(self) -> str:
        """The name export writes into ``config.json``."""
        return self.hf_names[0]


# BERT uses the exact GELU, x · Φ(x) with Φ through erf (Hugging Face "gelu"); "gelu_new" and
# "gelu_pytorch_tanh" are two implementations of the tanh approximation.
ACTIVATIONS = {
    row.name: row
    for row in (
        Activation("gelu", ("gelu",), "gelu", {"approximate": False}),
        Activation("gelu_tanh", ("gelu_pytorch_tanh", "gelu_new"), "gelu", {"approximate": True}),
        Activation("relu", ("relu",), "relu"),
    )
}
# Hugging Face's name -> ours.
HF_ACTIVATIONS = {hf: row.name for row in ACTIVATIONS.values() for hf in row.hf_names}

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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclasses.dataclass
class BertConfig:
    """Hyper-parameters of a BERT encoder (Devlin et al., 2019, section 3).

    Attributes:
        vocab_size: number of WordPiece tokens (28,996 for ``bert-base-cased``).
        hidden_size: width H of every hidden state (768 for BERT-Base).
        num_hidden_layers: number of encoder blocks L (12).
        num_attention_heads: heads A per block (12); ``hidden_size`` must divide by it.
        intermediate_size: width of the feed-forward sub-layer (4H = 3072).
        hidden_act: feed-forward activation, a key of :data:`ACTIVATIONS`: ``"gelu"`` is the
            exact erf GELU that BERT uses.
        hidden_dropout_prob: dropout after embeddings and after each sub-layer, in [0, 1).
        attention_probs_dropout_prob: dropout on the attention probabilities, in [0, 1).
        max_position_embeddings: longest sequence the position table covers (512).
        type_vocab_size: number of segment ids (2: sentence A and sentence B).
        initializer_range: std of the truncated normal used for fresh weights (> 0).
        layer_norm_eps: LayerNorm epsilon (> 0); 1e-12 as in the original TensorFlow BERT.
        pad_token_id: id of ``[PAD]``, in [0, vocab_size).
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
        defaults = {f.name: f.default for f in dataclasses.fields(self)}

        def refuse(name: str, requirement: str) -> None:
            raise CheckpointError(
                f"BertConfig.{name}={getattr(self, name)!r} {requirement}; set {name} in "
                f"config.json (or BertConfig) to a valid value, e.g. {defaults[name]!r}"
            )

        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                refuse(name, "must be a positive integer")
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not _is_real(value) or not 0.0 <= value < 1.0:
                refuse(name, "must be a dropout probability in [0, 1)")
        for name in _POSITIVE_FLOATS:
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value <= 0.0:
                refuse(name, "must be a finite number > 0")
        if not _is_int(self.pad_token_id) or not 0 <= self.pad_token_id < self.vocab_size:
            refuse("pad_token_id", f"must be a token id in [0, vocab_size={self.vocab_size})")
        if self.hidden_size % self.num_attention_heads:
            raise CheckpointError(
                f"BertConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads}); choose a head count that "
                f"divides it"
            )
        if self.hidden_act not in ACTIVATIONS:
            refuse("hidden_act", f"is not one of {sorted(ACTIVATIONS)}")

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
        if act not in HF_ACTIVATIONS:
            raise CheckpointError(
                f"config.json has hidden_act={act!r}; supported: {sorted(HF_ACTIVATIONS)}"
            )
        defaults = cls()
        fields = {f.name for f in dataclasses.fields(cls)} - {"hidden_act", "num_labels"}
        kwargs = {name: values.get(name, getattr(defaults, name)) for name in fields}
        if kwargs["pad_token_id"] is None:
            kwargs["pad_token_id"] = 0
        id2label = values.get("id2label")
        num_labels = len(id2label) if id2label else values.get("num_labels", defaults.num_labels)
        return cls(hidden_act=HF_ACTIVATIONS[act], num_labels=num_labels, **kwargs)
