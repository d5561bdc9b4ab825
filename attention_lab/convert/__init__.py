"""Hugging Face BERT folders <-> attention_lab's Keras models, through one weight map.

- :mod:`.weight_map`: every Hugging Face tensor name beside the Keras variable it fills;
- :mod:`.hub`: where a checkpoint is (a local folder, or a hub id downloaded once);
- :mod:`.hf_checkpoint`: reading a checkpoint's config.json and tensors;
- :mod:`.pytorch_files`: the weights that need PyTorch (``pytorch_model.bin``, bfloat16);
- :mod:`.integrity`: the checks that a folder's files are whole and are what they say;
- :mod:`.bert_folder`: :func:`load_bert` and :func:`save_bert`, the one persisted form of a
  BERT (a Hugging Face folder);
- :mod:`.conversion`: :func:`convert_checkpoint` (load, then save, recording the origin).
"""

from attention_lab.convert.bert_folder import (
    LoadedBert,
    LoadReport,
    load_bert,
    save_bert,
)
from attention_lab.convert.conversion import convert_checkpoint
from attention_lab.convert.hf_checkpoint import read_state_dict
from attention_lab.convert.hub import resolve_model_dir
from attention_lab.convert.weight_map import bert_weight_map, classifier_weight_map

__all__ = [
    "LoadReport",
    "LoadedBert",
    "bert_weight_map",
    "classifier_weight_map",
    "convert_checkpoint",
    "load_bert",
    "read_state_dict",
    "resolve_model_dir",
    "save_bert",
]
