"""Hugging Face BERT checkpoints -> attention_lab's Keras layers (and back, via the same map)."""

from attention_lab.convert.converter import (
    convert_checkpoint,
    load_converted,
    load_hf_checkpoint,
    load_model,
)
from attention_lab.convert.hf_checkpoint import read_state_dict, resolve_model_dir
from attention_lab.convert.weight_map import bert_weight_map, classifier_weight_map

__all__ = [
    "bert_weight_map",
    "classifier_weight_map",
    "convert_checkpoint",
    "load_converted",
    "load_hf_checkpoint",
    "load_model",
    "read_state_dict",
    "resolve_model_dir",
]
