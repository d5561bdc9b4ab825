"""The one persisted form of a BERT: a Hugging Face folder, read and written through the weight map.

A folder holds

    config.json         Hugging Face's BertConfig (``architectures``, ``id2label``) and, for a
                        folder attention_lab wrote, an ``attention_lab`` block: the head, the
                        sha256 of the weights, where they came from
    model.safetensors   every tensor under its Hugging Face name (dense kernels as PyTorch's
                        ``(out, in)``), so that ``transformers`` loads the folder as it is
    vocab.txt, ...      the tokenizer files

:func:`load_bert` reads any such folder (one from ``transformers``, a hub id, one that
attention_lab wrote) into our Keras model; :func:`save_bert` writes one. ``export`` is save;
``convert`` is load then save (:mod:`.conversion`). A ``BertModel`` or a pre-built
classifier folder is what ``transformers.BertModel`` / ``BertForSequenceClassification``
``.from_pretrained`` load; the chapter's custom head has no Hugging Face class, so its two dense
layers are stored beside the encoder under their own names (``head_dense``, ``logits``), which
``transformers.BertModel.from_pretrained`` reports as unused and skips.

Every tensor is accounted for: each row of the weight map must find its tensor with the right
shape, dtype and finite values, and each tensor of the checkpoint must be used, except the
buffers and pre-training heads of :mod:`~attention_lab.convert.weight_map`, and a head the
requested model does not have (reported as skipped).
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attention_lab import __version__
from attention_lab.convert import integrity
from attention_lab.convert.hf_checkpoint import (
    SAFETENSORS,
    bert_config,
    read_hf_config,
    read_state_dict,
)
from attention_lab.convert.hub import resolve_model_dir
from attention_lab.convert.weight_map import (
    ENCODER_PREFIX,
    bert_weight_map,
    classifier_weight_map,
    head_weight_map,
)
from attention_lab.errors import CheckpointError
from attention_lab.io import (
    atomic_directory,
    atomic_file,
    atomic_write_json,
)
from attention_lab.models.bert import (
    HEADS,
    BertConfig,
    BertModel,
    build_classifier,
    head_name,
    no_init_weights,
)
from attention_lab.models.bert_pretraining import PRETRAINING_HEADS
from attention_lab.runtime import encoder_block
from attention_lab.tokenization.vocab import write_tokenizer_files

FORMAT = 2  # config.json's attention_lab.format; a change bumps the version (CHANGELOG.md)
CONFIG = "config.json"
ARCHITECTURES = {
    "bert": "BertModel",
    "prebuilt": "BertForSequenceClassification",
    "custom": "BertModel",  # the encoder loads in transformers; the custom head has no class
    "lstm": "BertModel",  # issue 33's heads over every token: no class either
    "concat": "BertModel",
    "pretraining": "BertForPreTraining",
    "masked-lm": "BertForMaskedLM",
}


@dataclass
class LoadReport:
    """What happened to each tensor of the checkpoint."""

    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # buffers, pre-training or unused heads


@dataclass
class LoadedBert:
    """A model read by :func:`load_bert`, with what it came with.

    Attributes:
        model: :class:`~attention_lab.models.bert.BertModel` or one of the classifiers.
        config: its :class:`~attention_lab.models.bert.BertConfig`.
        directory: the local folder it was read from (tokenizer files live there).
        label_names: the classifier's labels (``id2label``), empty for a bare encoder.
        report: which tensors were loaded and which skipped.
    """

    model: object
    config: BertConfig
    directory: Path
    label_names: list[str]
    report: LoadReport

    @property
    def head(self) -> str | None:
        """``"prebuilt"``, ``"custom"``, ``"pretraining"``, ``"masked-lm"``, or None for a bare
        encoder."""
        return _kind(self.model) if not isinstance(self.model, BertModel) else None

    @property
    def encoder(self) -> BertModel:
        """The BERT encoder itself (the classifier's ``bert``)."""
        return self.model if isinstance(self.model, BertModel) else self.model.bert

    def tokenizer(self):
        """The :class:`~attention_lab.tokenization.BertTokenizer` of the folder's vocab.txt."""
        from attention_lab.tokenization import BertTokenizer

        return BertTokenizer.from_pretrained(self.directory)


def _kind(model) -> str:
    """``"bert"``, a classifier's head name, or a pre-training model's name."""
    if isinstance(model, BertModel):
        return "bert"
    pretraining = [name for name, cls in PRETRAINING_HEADS.items() if type(model) is cls]
    return pretraining[0] if pretraining else head_name(model)


def is_our_folder(path: Path) -> bool:
    """The proof, for a folder written before the ``.attention_lab`` marker existed, that
    attention_lab wrote it: config.json's ``attention_lab`` block records the sha256 of
    model.safetensors, and the file still has it. Folders written since carry the marker
    (:mod:`attention_lab.io`)."""
    return integrity.weights_match_record(path / CONFIG, path / SAFETENSORS)


def load_bert(
    source: str | os.PathLike,
    head: str | None = None,
    num_labels: int | None = None,
    dtype=None,
    implementation: str | None = None,
) -> LoadedBert:
    """Read a BERT folder (or hub id) into our Keras model.

    Args:
        source: a Hugging Face folder or hub id, or a folder written by :func:`save_bert`.
        head: ``None`` builds what the folder holds (an encoder, its classifier, or its
            pre-training heads: ``"pretraining"``, ``"masked-lm"``);
            ``"prebuilt"`` / ``"custom"`` builds that classifier on the folder's encoder and
            keeps the folder's head only when it is the same head with ``num_labels`` outputs.
        num_labels: outputs of a requested head (default: the folder's, else 2).
        dtype: a Keras dtype policy (``"float32"``, ``"mixed_bfloat16"``, ...).
        implementation: the encoder block, ``"eager"`` or ``"fused"``
            (:attr:`attention_lab.runtime.Plan.implementation`); the weights are the same.
            None: the one :func:`attention_lab.runtime.encoder_block` picks for calls
            without XLA (``"fused"`` on TensorFlow).

    Raises :class:`~attention_lab.errors.CheckpointError` naming the file, tensor or setting
    that is wrong and what to do.
    """
    if num_labels is not None and (
        isinstance(num_labels, bool)
        or not isinstance(num_labels, numbers.Integral)
        or num_labels < 1
    ):
        raise CheckpointError(  # 0 would otherwise mean "the default", silently
            f"num_labels must be an integer of at least 1 (a head's outputs), got {num_labels!r}"
        )
    implementation = implementation or encoder_block(jit_compile=False)
    directory = resolve_model_dir(source)
    hf = read_hf_config(directory)
    config = bert_config(hf)
    # config.json's attention_lab block: empty for a folder that we did not write
    ours = hf["attention_lab"] if isinstance(hf.get("attention_lab"), dict) else {}
    integrity.check_weights_digest(directory / SAFETENSORS, ours.get("weights_sha256"))
    state = read_state_dict(directory)
    where = str(directory)
    integrity.check_layer_count(state, config, where)
    saved = ours["head"] if ours.get("head") in {*HEADS, *PRETRAINING_HEADS} else None
    saved = saved or ("prebuilt" if "classifier.weight" in state else None)
    if "cls.predictions.transform.dense.weight" in state and saved is None:  # pre-training heads
        saved = "pretraining" if "cls.seq_relationship.weight" in state else "masked-lm"
    prefix = ENCODER_PREFIX if any(n.startswith(ENCODER_PREFIX) for n in state) else ""
    has_pooler = f"{prefix}pooler.dense.weight" in state
    own_model = head is None  # every weight is read from the folder: none is drawn first
    head = head or saved
    with no_init_weights() if own_model else contextlib.nullcontext():
        if head in PRETRAINING_HEADS:
            if saved != head:
                raise CheckpointError(
                    f"{where}: asked for the {head} heads, but the checkpoint holds "
                    f"{saved or 'no pre-training head'}; use a {ARCHITECTURES[head]} checkpoint"
                )
            integrity.check_tied(state, where)
            model = PRETRAINING_HEADS[head](config, implementation, dtype=dtype)
            model.build()
            rows, names = bert_weight_map(model.bert, prefix) + head_weight_map(model, head), []
        elif head is not None and not has_pooler:
            raise CheckpointError(
                f"{where}: the checkpoint has no pooler ({prefix}pooler.dense.weight), which both "
                "heads read; use a BERT checkpoint saved with its pooler"
            )
        elif head is None:
            model = BertModel(config, has_pooler, implementation, dtype=dtype)
            model.build()
            rows, names = bert_weight_map(model, prefix=prefix), []
        else:
            config = dataclasses.replace(
                config, num_labels=num_labels or (config.num_labels if saved else 2)
            )
            head_options = {}
            if head == "custom" and saved == "custom":
                head_options = {k: ours[k] for k in ("head_units", "head_dropout") if k in ours}
            model = build_classifier(head, config, dtype, implementation, **head_options)
            rows = bert_weight_map(model.bert, prefix=prefix)
            names = default_label_names(config.num_labels)
            head_rows = head_weight_map(model, head)
            if own_model:  # the folder's head must have the shapes its config.json gives
                integrity.check_head_shapes(head_rows, state, where, head)
            if saved == head and integrity.shapes_match(head_rows, state):  # the folder's own head
                rows += head_rows
                id2label = hf.get("id2label") or {}
                if len(id2label) == config.num_labels:
                    names = [str(id2label[k]) for k in sorted(id2label, key=int)]
    integrity.check_rows(rows, state, where)  # every tensor there, finite, of its variable's shape
    for row in rows:  # Hugging Face's tensor into its Keras variable, (out, in) kernels transposed
        tensor = state[row.hf_name]
        row.variable.assign((tensor.T if row.transpose else tensor).astype(row.variable.dtype))
    loaded = [row.hf_name for row in rows]
    # every other tensor is a buffer or a head the model does not have (skipped), or refused
    report = LoadReport(loaded, integrity.check_all_used(state, loaded, where))
    return LoadedBert(model, config, directory, names, report)


def default_label_names(num_labels: int) -> list[str]:
    """Hugging Face's default label names, ``LABEL_0``, ``LABEL_1``, ..."""
    return [f"LABEL_{i}" for i in range(num_labels)]


def hf_config(model, label_names: list[str] | None = None, provenance: dict | None = None) -> dict:
    """``config.json`` for ``model``: Hugging Face's fields plus the ``attention_lab`` block."""
    config: BertConfig = model.config
    kind = _kind(model)
    values = config.to_dict()
    values.update(architectures=[ARCHITECTURES[kind]], model_type="bert", torch_dtype="float32")
    del values["num_labels"]
    ours = {"format": FORMAT, "version": __version__, "head": None if kind == "bert" else kind}
    if kind == "bert":
        ours["add_pooling_layer"] = model.pooler is not None
    elif kind not in PRETRAINING_HEADS:
        names = list(label_names or default_label_names(config.num_labels))
        if len(names) != config.num_labels:
            raise CheckpointError(
                f"{len(names)} label names {names} for a {config.num_labels}-label head"
            )
        values.update(
            id2label={str(i): name for i, name in enumerate(names)},
            label2id={name: i for i, name in enumerate(names)},
            problem_type="single_label_classification",
            classifier_dropout=None,
        )
    if kind == "custom":
        ours.update(head_units=model.head_units, head_dropout=model.head_dropout)
    ours.update(provenance or {})
    values["attention_lab"] = ours
    return values


def state_dict(model) -> dict[str, np.ndarray]:
    """Hugging Face tensors of ``model``: the weight map read from our side."""
    kind = _kind(model)
    rows = bert_weight_map(model) if kind == "bert" else classifier_weight_map(model, kind)
    out = {}
    for row in rows:
        value = np.asarray(row.variable, dtype=np.float32)
        out[row.hf_name] = np.ascontiguousarray(value.T if row.transpose else value)
    return out


def write_bert_files(
    model,
    folder: Path,
    tokenizer_dir: str | os.PathLike | None = None,
    label_names: list[str] | None = None,
    provenance: dict | None = None,
) -> None:
    """Write ``model``'s weights, config.json and tokenizer files into ``folder``.

    Each file is written atomically; ``config.json`` (which records the weights' sha256) comes
    after ``model.safetensors``, so a folder with a config.json always has its weights.
    """
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    if tokenizer_dir is not None:
        write_tokenizer_files(tokenizer_dir, folder, model.config.max_position_embeddings)
    with atomic_file(folder / SAFETENSORS) as tmp:
        save_file(state_dict(model), str(tmp), metadata={"format": "pt"})
    record = {**(provenance or {}), "weights_sha256": integrity.sha256(folder / SAFETENSORS)}
    atomic_write_json(folder / CONFIG, hf_config(model, label_names, record), indent=2)


def save_bert(
    model,
    directory: str | os.PathLike,
    tokenizer_dir: str | os.PathLike | None = None,
    label_names: list[str] | None = None,
    overwrite: bool = False,
    provenance: dict | None = None,
) -> Path:
    """Write ``model`` as a Hugging Face folder at ``directory``, atomically.

    The folder is written under a temporary name and renamed into place when complete. An
    existing ``directory`` is replaced only with ``overwrite`` and only if attention_lab wrote
    it. Returns the folder.
    """
    inputs = () if tokenizer_dir is None else (tokenizer_dir,)
    with atomic_directory(
        directory, overwrite, is_ours=is_our_folder, writer="save_bert", inputs=inputs
    ) as tmp:
        write_bert_files(model, tmp, tokenizer_dir, label_names, provenance)
    return Path(directory)
