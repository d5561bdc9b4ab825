"""The names the chapter imports from ``transformers`` (sections 4, 5 and 6), on our classes.

The chapter's code runs with one changed import::

    from attention_lab.compat.transformers import (
        BertTokenizer, TFBertModel, TFBertForSequenceClassification)

- :class:`BertTokenizer` is :class:`attention_lab.tokenization.BertTokenizer` with the interface
  of transformers 2.x/3.x where the two differ: ``from_pretrained`` takes (and keeps) the
  keywords the chapter passes it, ``encode`` returns the list of ids, ``decode`` cleans up
  spaces by default.
- :class:`TFBertModel` and :class:`TFBertForSequenceClassification` hold our
  :class:`~attention_lab.models.bert.BertModel` / ``BertForSequenceClassification`` (as Hugging
  Face's TF classes hold their ``TFBertMainLayer``), read by
  :func:`~attention_lab.convert.load_bert` and written by
  :func:`~attention_lab.convert.bert_folder.write_bert_files`, and return Hugging Face's
  outputs: fields by name (``last_hidden_state``, ``pooler_output``, ``logits``, ...; attribute
  or key) and by position (``outputs[1]`` is the pooled output, also on the symbolic tensors of
  a Keras functional model).
"""

from __future__ import annotations

import collections
import functools
import os
from pathlib import Path

import keras

from attention_lab import tokenization
from attention_lab.convert import load_bert, resolve_model_dir
from attention_lab.convert.bert_folder import write_bert_files
from attention_lab.errors import AttentionLabError
from attention_lab.models.bert import BertConfig, BertModel, as_config, build_classifier


def _refuse_unknown(kwargs: dict, known, where: str) -> None:
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise AttentionLabError(
            f"{where} does not take {', '.join(unknown)}; it takes {', '.join(sorted(known))}"
        )


# ---------------------------------------------------------------------------------------------
# Section 4: the tokenizer
# ---------------------------------------------------------------------------------------------

# Tokenizer settings of transformers 2.x that ours has (``max_len`` is 2.x's model_max_length).
_TOKENIZER_SETTINGS = {
    "do_lower_case",
    "strip_accents",
    "tokenize_chinese_chars",
    "never_split",
    "model_max_length",
    "max_len",
    "padding_side",
    "truncation_side",
    "clean_up_tokenization_spaces",
}
# Keywords of the encoding calls, and of the hub download, that transformers 2.x accepted in
# from_pretrained and kept in ``init_kwargs`` without applying them to later calls.
_KEPT_KEYWORDS = {
    "add_special_tokens",
    "max_length",
    "pad_to_max_length",
    "padding",
    "truncation",
    "truncation_strategy",
    "stride",
    "return_tensors",
    "return_token_type_ids",
    "return_attention_mask",
    "cache_dir",
    "force_download",
    "resume_download",
    "proxies",
    "local_files_only",
    "revision",
    "use_fast",
}


class BertTokenizer(tokenization.BertTokenizer):
    """``transformers.BertTokenizer`` as the chapter uses it (section 4).

    - ``from_pretrained(name_or_path, **kwargs)``: a folder, a ``vocab.txt``, or a hub id
      (through ``huggingface_hub``'s cache; offline and not cached, one line saying how to pass
      a folder). The tokenizer settings (``do_lower_case``, ``max_len``, ...) apply; the
      encoding keywords the chapter also passes (``add_special_tokens=True, max_length=150,
      pad_to_max_length=True``) are kept in :attr:`init_kwargs` and, as in transformers 2.x,
      not applied to later calls: the chapter's ``encode`` of one sentence has no padding.
    - ``encode(text, add_special_tokens=True, ...)``: the list of ids (ours returns a dict).
    - ``decode(ids)``: ``clean_up_tokenization_spaces`` defaults to True, transformers 2.x and
      3.x's default, so the chapter's ``Don ' t`` prints as ``Don't``; transformers 5 made it
      False for BERT, which ``clean_up_tokenization_spaces=False`` gives.
    """

    init_kwargs: dict

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs):
        _refuse_unknown(
            kwargs, _TOKENIZER_SETTINGS | _KEPT_KEYWORDS, "BertTokenizer.from_pretrained"
        )
        settings = {k: v for k, v in kwargs.items() if k in _TOKENIZER_SETTINGS}
        if "max_len" in settings:
            settings["model_max_length"] = settings.pop("max_len")
        settings.setdefault("clean_up_tokenization_spaces", True)
        path = Path(pretrained_model_name_or_path).expanduser()
        source = path if path.exists() else resolve_model_dir(pretrained_model_name_or_path)
        tokenizer = super().from_pretrained(source, **settings)
        tokenizer.init_kwargs = dict(kwargs)
        return tokenizer

    def encode(
        self,
        text,
        text_pair=None,
        add_special_tokens: bool = True,
        max_length: int | None = None,
        pad_to_max_length: bool = False,
        **kwargs,
    ) -> list[int]:
        """The ids of ``encode_plus`` (transformers' ``encode``), e.g. ``[101, ..., 102]``."""
        return self.encode_plus(
            text,
            text_pair,
            add_special_tokens=add_special_tokens,
            max_length=max_length,
            pad_to_max_length=pad_to_max_length,
            **kwargs,
        )["input_ids"]


# ---------------------------------------------------------------------------------------------
# Sections 5 and 6: the models and their outputs
# ---------------------------------------------------------------------------------------------


class _ModelOutput:
    """Hugging Face's ``ModelOutput``: a tuple of the fields that are set, also read by name.

    ``outputs.pooler_output``, ``outputs["pooler_output"]`` and ``outputs[1]`` are one tensor.
    Being a namedtuple, it passes through Keras's functional models and ``predict`` intact.
    """

    __slots__ = ()

    def __getitem__(self, key):
        return getattr(self, key) if isinstance(key, str) else super().__getitem__(key)


@functools.cache
def _output_type(name: str, fields: tuple[str, ...]) -> type:
    """The output class ``name`` holding ``fields`` (Hugging Face drops the unset ones)."""
    return type(name, (_ModelOutput, collections.namedtuple(name, fields)), {"__slots__": ()})


def _model_output(name: str, **fields):
    present = {key: value for key, value in fields.items() if value is not None}
    return _output_type(name, tuple(present))(**present)


def _inputs(input_ids, attention_mask, token_type_ids) -> dict:
    """Our dict of inputs from Hugging Face's call: a dict as the first argument (the chapter's
    functional model), or the tensors one by one."""
    if isinstance(input_ids, dict):
        return input_ids
    given = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": token_type_ids,
    }
    return {key: value for key, value in given.items() if value is not None}


# Hugging Face's keyword for a PyTorch checkpoint; ours reads both formats, so it changes nothing.
_MODEL_KEYWORDS = {"from_pt"}


class TFBertModel(keras.Model):
    """``transformers.TFBertModel`` (section 6): our :class:`BertModel` as its ``bert``.

    Call it on a dict (``input_ids``, ``attention_mask``, ``token_type_ids``), or on the
    tensors one by one; it returns ``TFBaseModelOutputWithPooling``: ``last_hidden_state``
    ``(batch, len, H)`` = ``outputs[0]``, ``pooler_output`` ``(batch, H)`` = ``outputs[1]``,
    then ``hidden_states`` and ``attentions`` when asked for. ``bert.trainable = False`` freezes
    it, as in the chapter.
    """

    def __init__(
        self, config: BertConfig | dict | None = None, bert: BertModel | None = None, **kwargs
    ):
        kwargs.setdefault("name", "tf_bert_model")
        super().__init__(**kwargs)
        self.bert = BertModel(config) if bert is None else bert
        if not self.bert.built:
            self.bert.build()
        self.config = self.bert.config
        self.built = True

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs):
        """The encoder of a Hugging Face folder, a hub id or our run folder (a classifier
        folder's head is left out, as transformers does)."""
        _refuse_unknown(kwargs, _MODEL_KEYWORDS, f"{cls.__name__}.from_pretrained")
        return cls(bert=load_bert(pretrained_model_name_or_path).encoder)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """``config.json`` and ``model.safetensors`` into ``save_directory`` (other files kept)."""
        write_bert_files(self.bert, Path(save_directory))

    def call(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        output_hidden_states=False,
        output_attentions=False,
        training=None,
    ):
        outputs = self.bert(
            _inputs(input_ids, attention_mask, token_type_ids),
            training=training,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
        )
        return _model_output(
            "TFBaseModelOutputWithPooling",
            last_hidden_state=outputs["sequence_output"],
            pooler_output=outputs.get("pooled_output"),
            hidden_states=outputs.get("hidden_states"),
            attentions=outputs.get("attentions"),
        )


class TFBertForSequenceClassification(keras.Model):
    """``transformers.TFBertForSequenceClassification`` (section 5): our pre-built classifier.

    Returns ``TFSequenceClassifierOutput``: ``logits`` ``(batch, num_labels)`` = ``outputs[0]``.
    ``from_pretrained`` keeps a folder's own pre-built head; otherwise (a bare encoder, as the
    hub's ``bert-base-cased``) the head is new, ``num_labels`` outputs (default 2).
    """

    def __init__(self, config: BertConfig | dict | None = None, model=None, **kwargs):
        kwargs.setdefault("name", "tf_bert_for_sequence_classification")
        super().__init__(**kwargs)
        self.model = build_classifier("prebuilt", as_config(config)) if model is None else model
        self.config = self.model.config
        self.built = True

    @property
    def bert(self) -> BertModel:
        return self.model.bert

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs):
        _refuse_unknown(kwargs, _MODEL_KEYWORDS | {"num_labels"}, f"{cls.__name__}.from_pretrained")
        loaded = load_bert(
            pretrained_model_name_or_path, head="prebuilt", num_labels=kwargs.get("num_labels")
        )
        return cls(model=loaded.model)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """``config.json`` and ``model.safetensors`` into ``save_directory`` (other files kept);
        ``transformers.BertForSequenceClassification`` loads it."""
        write_bert_files(self.model, Path(save_directory))

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, training=None):
        logits = self.model(_inputs(input_ids, attention_mask, token_type_ids), training=training)
        return _model_output("TFSequenceClassifierOutput", logits=logits)
