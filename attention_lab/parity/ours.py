"""Our BERT's side of a parity check, on whichever Keras backend is active.

The model is fed numpy arrays and its outputs come back through ``keras.ops``, so nothing
here depends on TensorFlow; compiling (``--xla``) goes through the backend's own compiler,
by :func:`attention_lab.backend.compile_function`.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from attention_lab.backend import compile_function
from attention_lab.convert import load_bert
from attention_lab.models.bert import BertForSequenceClassification, BertModel, check_inputs
from attention_lab.models.bert_pretraining import BertForMaskedLM, BertForPreTraining
from attention_lab.parity.compare import named_outputs

# Our models that Hugging Face has, by the name of its class: their outputs are compared too.
ARCHITECTURES = {
    BertForSequenceClassification: "BertForSequenceClassification",
    BertForPreTraining: "BertForPreTraining",
    BertForMaskedLM: "BertForMaskedLM",
}


def load_ours(model_dir, ours: str | os.PathLike | keras.Model | None) -> keras.Model:
    """``ours`` as a built model: ``model_dir`` converted in memory when ``ours`` is None."""
    if isinstance(ours, keras.Model):
        return ours
    return load_bert(model_dir if ours is None else ours).model


def architecture(model: keras.Model) -> str:
    """The Hugging Face class that ``model`` is compared with: its own, when Hugging Face has
    its head (the pre-built classifier, ``BertForPreTraining``, ``BertForMaskedLM``: the
    converter builds what the checkpoint holds, so the head is the checkpoint's), else
    ``BertModel``: the chapter's custom head has no Hugging Face class, so of a custom
    classifier only the encoder is compared."""
    return ARCHITECTURES.get(type(model), "BertModel")


def has_head(model: keras.Model) -> bool:
    """Whether Hugging Face has ``model``'s head, so that its outputs are compared too."""
    return architecture(model) != "BertModel"


def in_policy(model: keras.Model, policy: str, implementation: str = "eager") -> keras.Model:
    """``model`` itself when it runs under the Keras dtype ``policy`` with the encoder block
    ``implementation``, else a twin that does, with the same weights."""
    if model.dtype_policy.name == policy and model.implementation == implementation:
        return model
    config = {**model.get_config(), "dtype": policy, "implementation": implementation}
    twin = type(model).from_config(config)
    twin.build()
    twin.set_weights(model.get_weights())
    return twin


def _numpy(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(keras.ops.cast(x, "float32"))  # bfloat16 exactly


def _head_outputs(logits):
    if isinstance(logits, dict):  # prediction_logits, seq_relationship_logits
        return {name: _numpy(value) for name, value in logits.items()}
    return _numpy(logits)


def forward(model: keras.Model, xla: bool, graph: bool = False):
    """A function from a numpy batch to our named tensors, as float32 numpy arrays.

    Eager by default; ``xla`` compiles it with XLA, ``graph`` without (the ``tf.function`` the
    library runs on a CPU, where TensorFlow fuses matmuls with their bias and GELU).
    """
    with_head = has_head(model)
    bert = model if isinstance(model, BertModel) else model.bert  # the encoder of any head

    def run(inputs):
        outputs = bert(inputs, output_hidden_states=True, output_attentions=True)
        if with_head:
            outputs["logits"] = model(inputs)  # (batch, labels), or the pre-training heads' dict
        return outputs

    run = compile_function(run, jit_compile=xla) if xla or graph else run

    def call(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        check_inputs(bert.config, batch)  # before the call: a compiled one cannot check ids
        out = run({k: keras.ops.convert_to_tensor(v) for k, v in batch.items()})
        return named_outputs(
            [_numpy(h) for h in out["hidden_states"]],
            [_numpy(a) for a in out["attentions"]],
            _numpy(out["sequence_output"]),
            _numpy(out["pooled_output"]) if "pooled_output" in out else None,
            _head_outputs(out["logits"]) if with_head else None,
        )

    return call
