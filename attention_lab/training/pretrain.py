"""Pre-training BERT on IMDb with ``model.fit``: from scratch, or further pre-training of a
checkpoint (issue 34; chapter section 3, "BERT", and the transfer-learning claim it rests on).

:func:`pretrain` trains a :class:`~attention_lab.models.bert_pretraining.BertForPreTraining`
with the masked-language-model objective on the IMDb reviews that carry no test label: the
50,000 unlabelled reviews, then the 25,000 training texts (their labels unused; the test
texts never). It starts either from

- a **fresh BERT** of a given architecture (:func:`fresh_config`) over a vocabulary file, such
  as the one ``attention-lab train-tokenizer`` learns from IMDb; or
- an **existing checkpoint** (``--model``, e.g. all-MiniLM-L6-v2): its encoder, pooler and word
  embeddings are kept; a masked-LM head it lacks starts fresh (transform at the config's
  initializer, bias at zero, decoder tied to its word embeddings), and the run says so in its
  log and in ``run.json`` (``choices.heads``). This is Sun et al.'s (2019) "within-task
  further pre-training".

**MLM only, by default** (``nsp=False``), as RoBERTa (Liu et al., 2019, section 4.2) found
that dropping next-sentence prediction matches or improves downstream accuracy; on IMDb it
also lets every sequence be a full window of one review instead of two short sentences, and a
"random" sentence from another review is told apart by its topic, a weak signal. ``nsp=True``
pre-trains both heads on sentence pairs (:func:`next_sentence_pairs`, drawn once, seeded). The
pooler and ``cls.seq_relationship`` are kept in the folder either way (fine-tuning's heads read
the pooled output); MLM-only leaves them as they started, and ``run.json`` lists them under
``choices.untrained``.

The data: each review is cut into windows of ``max_len - 2`` WordPieces, ``[CLS] … [SEP]``
(no window crosses two reviews; a review's last window is padded). A seeded ``holdout`` of
whole reviews is set aside before any window is cut; their masks are drawn once, so the
held-out MLM accuracy (the share of chosen positions, ``[MASK]``, random and kept alike,
whose original token is the top prediction) is comparable from evaluation to evaluation. The
training windows are shuffled per pass over the corpus and masked per step (seeded by the
global step), so a run resumed at step ``s`` sees the batches and masks the uninterrupted run
saw.

The run folder (``out``) is the one of ``finetune`` (:mod:`.run_folder`): ``run.json`` (the
settings, choices, corpus, the **budget in tokens**, the held-out MLM accuracy of each
evaluation), ``checkpoints/`` while training (:class:`~.callbacks.TrainingCheckpoint`: a kill
resumes at its last backup, step for step), and at the end a Hugging Face
``BertForPreTraining`` folder that ``attention-lab finetune --model OUT`` fine-tunes (the
pre-trained encoder and pooler; the ``cls.*`` heads are skipped) and ``attention-lab
fill-mask OUT`` reads. ``snapshots=True`` also writes such a folder at every evaluation,
``OUT/snapshots/step-N/``, for the curve of fine-tuned accuracy against pre-training steps.
The folder is ours by proof (:mod:`attention_lab.io`: the ``.attention_lab`` marker,
written when the run starts); a folder of anything else is refused, a finished run is never
replaced, and ``OUT/.lock`` keeps a second ``pretrain`` off the folder while one writes it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from attention_lab import __version__, backend
from attention_lab.errors import AttentionLabError, CheckpointError
from attention_lab.io import (
    atomic_write_json,
    check_separate,
    check_unlocked,
    folder_lock,
    read_marker,
    write_marker,
)
from attention_lab.models.bert import BertConfig
from attention_lab.runtime import choose_plan, machine
from attention_lab.training import run_folder
from attention_lab.training.callbacks import TrainingCheckpoint
from attention_lab.training.data import FEATURES, EncodedDataset, TrainingStream, prefetched
from attention_lab.training.fit import TrainingConfig
from attention_lab.training.optimization import adamw
from attention_lab.training.pretraining import (
    IGNORE,
    mask_tokens,
    masked_lm_loss,
    next_sentence_pairs,
)

# BERT's pre-training peak learning rate (Devlin et al., 2019, appendix A.2); not tuned here.
PRETRAIN_RATE = 1e-4
SNAPSHOTS = "snapshots"
ARCHITECTURE_FLAGS = {  # --flag: BertConfig field
    "layers": "num_hidden_layers",
    "hidden": "hidden_size",
    "heads": "num_attention_heads",
    "intermediate": "intermediate_size",
    "max_positions": "max_position_embeddings",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|<br\s*/?>\s*(?:<br\s*/?>\s*)*")


@dataclasses.dataclass
class PretrainSettings:
    """What pre-training adds to :class:`~attention_lab.training.fit.TrainingConfig` (whose
    ``batch_size``, ``learning_rate``, ``warmup_fraction``, ``weight_decay``, ``clipnorm``,
    ``seed`` and ``checkpoint_every`` it uses; ``epochs`` is ``steps // eval_every``).

    Attributes:
        steps: optimizer steps in all (the budget: ``steps × batch_size × max_len`` tokens).
        eval_every: steps between held-out evaluations (a Keras "epoch"); divides ``steps``.
        max_len: tokens per sequence, ``[CLS]`` and ``[SEP]`` included.
        mask_rate: share of the tokens chosen for the masked-LM loss, in (0, 1).
        nsp: also pre-train next-sentence prediction (default: MLM only, as RoBERTa).
        holdout: whole texts set aside for the held-out MLM accuracy.
        limit: only the first ``limit`` texts of the corpus (for smoke runs).
        snapshots: also save the model as a folder at every evaluation.
    """

    steps: int = 10_000
    eval_every: int = 1_000
    max_len: int = 128
    mask_rate: float = 0.15
    nsp: bool = False
    holdout: int = 500
    limit: int | None = None
    snapshots: bool = False

    def __post_init__(self) -> None:
        rules = {
            "--steps": (self.steps, "a positive integer", _positive(self.steps)),
            "--eval-every": (self.eval_every, "a positive integer", _positive(self.eval_every)),
            "--max-len": (self.max_len, "at least 3", isinstance(self.max_len, int)),
            "--mask-rate": (self.mask_rate, "inside (0, 1), e.g. 0.15", 0 < self.mask_rate < 1),
            "--holdout": (self.holdout, "a positive integer", _positive(self.holdout)),
            "--limit": (self.limit, "a positive integer", self.limit is None or self.limit > 0),
        }
        for option, (value, requirement, met) in rules.items():
            if not met or (option == "--max-len" and value < 3):
                raise AttentionLabError(f"{option} must be {requirement}, got {value!r}")
        if self.steps % self.eval_every:
            raise AttentionLabError(
                f"--steps {self.steps} is not a multiple of --eval-every {self.eval_every}; "
                f"pass --steps {-(-self.steps // self.eval_every) * self.eval_every}"
            )

    @property
    def evaluations(self) -> int:
        return self.steps // self.eval_every


def _positive(value) -> bool:
    return isinstance(value, int) and value >= 1


# --- the model ---------------------------------------------------------------------------------


def fresh_config(vocab_size: int, config_file=None, **flags) -> BertConfig:
    """The architecture of a BERT pre-trained from scratch: ``config_file`` (a Hugging Face
    ``config.json``-style JSON) and/or ``flags`` (:data:`ARCHITECTURE_FLAGS`' names, None left
    out), with ``vocab_size`` from the vocabulary. A bad combination is refused by
    :class:`~attention_lab.models.bert.BertConfig` (e.g. heads that do not divide hidden)."""
    values = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise AttentionLabError(
                f"--config {path} cannot be read as JSON ({type(err).__name__}); pass a "
                "config.json-style file"
            ) from None
        if not isinstance(values, dict):
            raise AttentionLabError(f"--config {path} holds a JSON {type(values).__name__}")
        if values.get("vocab_size", vocab_size) != vocab_size:
            raise AttentionLabError(
                f"--config {path} has vocab_size {values['vocab_size']}, the vocabulary "
                f"{vocab_size} tokens; drop vocab_size from the file or pass its vocabulary"
            )
    values.update({ARCHITECTURE_FLAGS[k]: v for k, v in flags.items() if v is not None})
    hidden, heads = values.get("hidden_size"), values.get("num_attention_heads")
    if isinstance(hidden, int) and isinstance(heads, int) and heads > 0 and hidden % heads:
        raise AttentionLabError(
            f"{heads} attention heads do not divide hidden size {hidden} (each head gets "
            f"hidden / heads dimensions); pass --heads or --hidden so that they do, e.g. "
            f"--heads {max(h for h in range(1, heads + 1) if hidden % h == 0)}"
        )
    return BertConfig.from_dict({**values, "vocab_size": vocab_size})


class PreTrainer(keras.Model):
    """``fit``'s view of a :class:`BertForPreTraining`: the masked-LM loss (plus the NSP
    cross-entropy with ``nsp``) and the masked-LM accuracy, logged as ``loss`` and
    ``accuracy`` (and ``nsp_accuracy``), the names
    :class:`~attention_lab.training.callbacks.TrainingCheckpoint` keeps.

    As BERT's own pre-training code (``gather_indexes``), the MLM head runs only at the
    ``masked_positions`` of each sequence (an input, ``(batch, P)``), not at all ``len``: its
    decoder, ``H × vocab_size`` per position, costs more than the encoder's blocks in a small
    BERT. Labels are ``{"mlm": (batch, P), "nsp": (batch,)}`` (:func:`mask_batch`).
    """

    def __init__(self, model, nsp: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.bert_model, self.nsp = model, nsp
        self.mlm_accuracy = MaskedLMAccuracy(name="accuracy")
        if nsp:
            self.nsp_accuracy = keras.metrics.SparseCategoricalAccuracy(name="nsp_accuracy")

    def build(self, input_shape=None):
        if not self.bert_model.built:
            self.bert_model.build()
        self.built = True

    def call(self, inputs, training=None):
        ops, model = keras.ops, self.bert_model
        outputs = model.bert({k: inputs[k] for k in FEATURES}, training=training)
        positions = ops.expand_dims(ops.cast(inputs["masked_positions"], "int32"), -1)
        chosen = ops.take_along_axis(outputs["sequence_output"], positions, axis=1)  # (b, P, H)
        table = model.bert.embeddings.word_embeddings.embeddings  # the tied decoder
        logits = {"prediction_logits": model.predictions(chosen, table)}  # (b, P, vocab)
        if self.nsp:
            logits["seq_relationship_logits"] = model.seq_relationship(outputs["pooled_output"])
        return logits

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = masked_lm_loss(y["mlm"], y_pred["prediction_logits"])
        if self.nsp:
            loss = loss + keras.ops.mean(
                keras.losses.sparse_categorical_crossentropy(
                    y["nsp"],
                    keras.ops.cast(y_pred["seq_relationship_logits"], "float32"),
                    from_logits=True,
                )
            )
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.mlm_accuracy.update_state(y["mlm"], y_pred["prediction_logits"])
        if self.nsp:
            self.nsp_accuracy.update_state(y["nsp"], y_pred["seq_relationship_logits"])
        return self.get_metrics_result()


class MaskedLMAccuracy(keras.metrics.Metric):
    """Share of the chosen positions (label not ``IGNORE``) whose top logit is the label,
    counted over tokens (not averaged over batches)."""

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.chosen = self.add_variable((), initializer="zeros", name="chosen")

    def update_state(self, labels, logits, sample_weight=None):
        ops = keras.ops
        labels = ops.cast(labels, "int32")
        chosen = ops.not_equal(labels, IGNORE)
        hit = ops.logical_and(chosen, ops.equal(ops.cast(ops.argmax(logits, -1), "int32"), labels))
        self.correct.assign_add(ops.sum(ops.cast(hit, "float32")))
        self.chosen.assign_add(ops.sum(ops.cast(chosen, "float32")))

    def result(self):
        return self.correct / keras.ops.maximum(self.chosen, 1.0)


def _copy_encoder(target, source) -> None:
    """Copy the weights of the encoder ``source`` into ``target`` (two BertModels of one config
    and block); a pooler only ``target`` has keeps its fresh weights."""
    pairs = [(target.embeddings, source.embeddings)]
    pairs += list(zip(target.encoder_layers, source.encoder_layers, strict=True))
    if target.pooler is not None and source.pooler is not None:
        pairs.append((target.pooler, source.pooler))
    for mine, theirs in pairs:
        for variable, value in zip(mine.weights, theirs.weights, strict=True):
            variable.assign(value)


def build_model(source, config: BertConfig | None, plan):
    """``(BertForPreTraining, config, what each part starts from)``: fresh from ``config``, or
    ``source``'s weights with fresh heads where the checkpoint has none."""
    from attention_lab.models.bert_pretraining import BertForPreTraining

    options = {"dtype": plan.dtype_policy}
    if source is None:
        model = BertForPreTraining(config, plan.implementation, **options)
        model.build()
        return model, config, {"encoder": "fresh (random initialisation)", "heads": "fresh"}
    loaded = run_folder.load_model(source, implementation=plan.implementation, **options)
    if loaded.head == "pretraining":  # a pre-training folder: continue with both heads
        return loaded.model, loaded.config, {"encoder": str(source), "heads": str(source)}
    model = BertForPreTraining(loaded.config, plan.implementation, **options)
    model.build()
    _copy_encoder(model.bert, loaded.encoder)
    starts = {"encoder": str(source)}
    if loaded.head == "masked-lm":
        for variable, value in zip(
            model.predictions.weights, loaded.model.predictions.weights, strict=True
        ):
            variable.assign(value)
        starts["heads"] = f"masked-LM head from {source}; next-sentence head fresh"
    else:
        starts["heads"] = (
            f"fresh: {source} holds no masked-LM head (cls.predictions.*), so the MLM "
            "transform and bias start at random / zero; its decoder is tied to the "
            "checkpoint's word embeddings"
        )
    if loaded.encoder.pooler is None:
        starts["pooler"] = "fresh: the checkpoint has none"
    return model, loaded.config, starts


# --- the corpus --------------------------------------------------------------------------------


def read_corpus(data, limit: int | None = None) -> tuple[list[str], str]:
    """``(texts, description)``: the IMDb unlabelled reviews, then the training texts (never
    the test texts), or the non-empty lines of a UTF-8 text file; the first ``limit``."""
    path = None if data is None else Path(data).expanduser()
    if path is not None and path.is_file() and not path.name.endswith((".tar.gz", ".tgz")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise AttentionLabError(f"{path} is not UTF-8 text (byte {err.start})") from None
        texts, described = [line for line in lines if line.strip()], f"the lines of {path}"
    else:
        from attention_lab.data.imdb import read_imdb

        splits = [read_imdb(split, data=data) for split in ("unsupervised", "train")]
        texts = [t.decode("utf-8") for split in splits for t in split.texts]
        described = (
            f"IMDb: {len(splits[0])} unlabelled reviews + {len(splits[1])} training texts "
            f"(no test text) from {splits[0].source.describe()}"
        )
    texts = texts[:limit]
    if not any(t.strip() for t in texts):
        raise AttentionLabError(
            f"the corpus ({described}) has no text to pre-train on; pass a file or an IMDb "
            "folder with reviews"
        )
    return texts, described


def split_holdout(texts: list[str], holdout: int, seed: int) -> tuple[list[str], list[str]]:
    """``(training texts, held-out texts)``: ``holdout`` whole texts drawn with ``seed``."""
    if holdout >= len(texts):
        raise AttentionLabError(
            f"--holdout {holdout} leaves nothing to train on in a corpus of {len(texts)} "
            f"texts; pass --holdout {max(1, len(texts) // 10)} or less"
        )
    order = np.random.default_rng([seed, 0]).permutation(len(texts))
    held = set(order[:holdout].tolist())
    return [t for i, t in enumerate(texts) if i not in held], [texts[i] for i in sorted(held)]


def windows(tokenizer, texts: list[str], max_len: int, batch: int = 1_000) -> EncodedDataset:
    """Every text cut into windows of ``max_len - 2`` WordPieces, each ``[CLS] … [SEP]`` and
    padded to ``max_len`` (labels 0: unused). Each batch of texts becomes arrays at once, so
    memory holds the corpus as int32, not as Python lists."""
    width, parts = max_len - 2, []
    for start in range(0, len(texts), batch):
        pieces = tokenizer(texts[start : start + batch], add_special_tokens=False)["input_ids"]
        rows = [ids[i : i + width] for ids in pieces for i in range(0, len(ids), width)]
        ids = np.full((len(rows), max_len), tokenizer.pad_token_id, np.int32)
        for row, piece in enumerate(rows):
            ids[row, : len(piece) + 2] = [tokenizer.cls_token_id, *piece, tokenizer.sep_token_id]
        parts.append(ids)
    ids = np.concatenate(parts) if parts else np.zeros((0, max_len), np.int32)
    mask = (ids != tokenizer.pad_token_id).astype(np.int32)
    features = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return EncodedDataset(features, np.zeros(len(ids), np.int32))


def sentence_pairs(tokenizer, texts: list[str], max_len: int, seed: int) -> EncodedDataset:
    """Next-sentence pairs of ``texts`` (sentences split at ``.!?`` and ``<br />``), encoded
    as ``[CLS] A [SEP] B [SEP]`` and truncated to ``max_len``; labels: ``IS_NEXT`` /
    ``NOT_NEXT``."""
    documents = [[s for s in _SENTENCE_END.split(text) if s.strip()] for text in texts]
    pairs = next_sentence_pairs(documents, np.random.default_rng([seed, 3]))
    if not pairs:
        raise AttentionLabError("no text has two sentences to pair; --nsp needs longer texts")
    a, b, labels = zip(*pairs, strict=True)
    encoded = tokenizer.encode_batch(
        list(a), max_length=max_len, padding="max_length", text_pairs=list(b)
    )
    return EncodedDataset({k: encoded[k] for k in FEATURES}, np.asarray(labels))


class MaskedStream(TrainingStream):
    """:class:`~attention_lab.training.data.TrainingStream`'s batches (a seeded order per
    pass over the corpus, item ``i`` = global step ``start + i``), masked for the MLM loss
    with a generator seeded by ``(seed, step)``. Labels: ``{"mlm": …, "nsp": …}`` (the
    dataset's labels as the NSP ones)."""

    def __init__(self, data, tokenizer, batch_size, seed, start=0, mask_rate=0.15, nsp=False):
        super().__init__(data, batch_size, seed, start)
        self.tokenizer, self.mask_rate, self.nsp = tokenizer, mask_rate, nsp

    def __getitem__(self, index: int):
        features, labels = super().__getitem__(index)
        rng = np.random.default_rng([self.seed, 1, self.start + index])
        return mask_batch(self.tokenizer, features, labels, rng, self.mask_rate, self.nsp)

    def for_fit(self):
        """This stream, or on TensorFlow a ``tf.data`` pipeline of it (its shapes are fixed:
        every window is ``max_len`` long)."""
        if backend.name() != "tensorflow":
            return self
        import tensorflow as tf

        first = self[0]
        spec = tf.nest.map_structure(lambda a: tf.TensorSpec(a.shape, tf.int32), first)

        def generate():
            index = 0
            while True:
                yield self[index]
                index += 1

        return prefetched(tf.data.Dataset.from_generator(generate, output_signature=spec))


def special_tokens(tokenizer, ids: np.ndarray) -> np.ndarray:
    """1 at ``[CLS]``, ``[SEP]`` and ``[PAD]`` (never chosen for masking), else 0."""
    specials = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]
    return np.isin(ids, specials).astype(np.int32)


def max_predictions(max_len: int, mask_rate: float) -> int:
    """Prediction slots per sequence: the mean count of chosen tokens plus 4 standard
    deviations (binomial), at most ``max_len``; 36 for 128 tokens at 15%."""
    mean = mask_rate * max_len
    return min(max_len, math.ceil(mean + 4 * math.sqrt(mean * (1 - mask_rate))))


def mask_batch(tokenizer, features, labels, rng, mask_rate, nsp, slots: int | None = None):
    """``(inputs, {"mlm": …[, "nsp": …]})`` of a batch of windows or pairs.

    The inputs carry ``masked_positions`` ``(batch, P)``, ``slots`` (default:
    :func:`max_predictions`): the
    chosen positions in order, then position 0 with label ``IGNORE``. A row with more chosen
    tokens than ``P`` (beyond 4 standard deviations: about 1 row in 30,000) keeps its first
    ``P``; the others are restored to their tokens and not predicted.
    """
    original = np.asarray(features["input_ids"])
    ids, mlm = mask_tokens(
        original,
        special_tokens(tokenizer, original),
        tokenizer.vocab_size,
        tokenizer.mask_token_id,
        rng,
        mask_rate,
    )
    slots = slots or max_predictions(original.shape[1], mask_rate)
    chosen = mlm != IGNORE
    over = chosen & (np.cumsum(chosen, axis=1) > slots)
    ids, mlm = np.where(over, original, ids), np.where(over, IGNORE, mlm)
    positions = np.argsort(~(chosen & ~over), axis=1, kind="stable")[:, :slots]
    mlm = np.take_along_axis(mlm, positions, axis=1)
    positions = np.where(mlm == IGNORE, 0, positions).astype(np.int32)
    targets = {"mlm": mlm.astype(np.int32)}
    if nsp:
        targets["nsp"] = np.asarray(labels, np.int32)
    inputs = {**features, "input_ids": ids.astype(np.int32), "masked_positions": positions}
    return inputs, targets


# --- the run -------------------------------------------------------------------------------------


class Snapshots(keras.callbacks.Callback):
    """Save the pre-training model as a Hugging Face folder at each evaluation."""

    def __init__(self, model, folder: Path, tokenizer_dir, checkpoint: TrainingCheckpoint):
        super().__init__()
        self.bert_model, self.folder, self.tokenizer_dir = model, folder, tokenizer_dir
        self.checkpoint = checkpoint

    def on_epoch_end(self, epoch, logs=None):
        from attention_lab.convert.bert_folder import write_bert_files

        step = self.checkpoint.state.step
        target = self.folder / f"step-{step:08d}"
        write_bert_files(self.bert_model, target, self.tokenizer_dir, provenance={"step": step})


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def pretrain(
    out,
    data=None,
    source=None,
    vocab=None,
    config: BertConfig | None = None,
    settings: PretrainSettings | None = None,
    training: TrainingConfig | None = None,
    precision: str = "auto",
    xla: str = "auto",
    progress: bool = True,
    callbacks=(),
) -> dict:
    """Pre-train into the run folder ``out`` (or resume it); return its ``run.json``.

    Either ``source`` (a checkpoint folder or hub id) or ``vocab`` (a folder with
    ``vocab.txt``) and ``config`` (:func:`fresh_config`). ``training`` gives the optimizer's
    settings (default: BERT's pre-training rate 1e-4, warm-up 10%, batch 32).
    """
    from attention_lab.convert.bert_folder import write_bert_files
    from attention_lab.tokenization import BertTokenizer

    settings = settings or PretrainSettings()
    training = training or TrainingConfig(learning_rate=PRETRAIN_RATE, batch_size=32)
    training = dataclasses.replace(training, epochs=settings.evaluations, keep_best="accuracy")
    if (source is None) == (vocab is None):
        raise AttentionLabError("pass either --model (a checkpoint) or --vocab (a fresh BERT)")
    out, plan = Path(out), choose_plan(precision, xla)
    local = None if source is None else Path(source).expanduser()
    check_separate(out, local if local is not None and local.exists() else None, vocab)
    if vocab is not None and not (Path(vocab) / "vocab.txt").is_file():
        raise AttentionLabError(
            f"--vocab {vocab} has no vocab.txt; pass the --out folder of "
            "`attention-lab train-tokenizer`"
        )
    record_settings = {
        "model": str(local.resolve()) if local is not None and local.exists() else source,
        "vocab": None if vocab is None else str(Path(vocab).resolve()),
        "config": None if config is None else config.to_dict(),
        "data": None if data is None else str(Path(data).expanduser().resolve()),
        "precision": plan.precision,
        "xla": plan.jit_compile,
        **dataclasses.asdict(settings),
        **dataclasses.asdict(training),
    }
    check_unlocked(out)  # another pretrain writes there: refused before anything is loaded
    previous = run_folder.unfinished_run(out, record_settings)

    backend.seed_deterministically(training.seed)
    model, config, starts = build_model(source, config, plan)
    tokenizer_dir = Path(vocab) if vocab is not None else _tokenizer_dir(source)
    tokenizer = BertTokenizer.from_pretrained(tokenizer_dir)
    if tokenizer.mask_token_id is None:
        raise AttentionLabError(f"{tokenizer_dir}/vocab.txt has no [MASK] token to mask with")
    if tokenizer.vocab_size != config.vocab_size:
        raise AttentionLabError(
            f"the vocabulary has {tokenizer.vocab_size} tokens, the model {config.vocab_size}"
        )
    if settings.max_len > config.max_position_embeddings:
        raise AttentionLabError(
            f"--max-len {settings.max_len} is beyond the model's "
            f"{config.max_position_embeddings} positions; pass --max-len "
            f"{config.max_position_embeddings} or less"
        )
    for part, start in starts.items():
        print(f"{part}: {start}", flush=True)

    started = time.perf_counter()
    texts, described = read_corpus(data, settings.limit)
    train_texts, held_texts = split_holdout(texts, settings.holdout, training.seed)
    encode = (
        (lambda t: sentence_pairs(tokenizer, t, settings.max_len, training.seed))
        if settings.nsp
        else (lambda t: windows(tokenizer, t, settings.max_len))
    )
    train, held = encode(train_texts), encode(held_texts)
    if not len(held):
        raise AttentionLabError(
            "the held-out texts give no sequence to measure on; pass a larger --holdout"
        )
    if len(train) < training.batch_size:
        raise AttentionLabError(
            f"{len(train)} training sequences make no full batch of {training.batch_size}; "
            "pass more text or a smaller --batch-size"
        )
    real = float(train.lengths.mean())
    print(
        f"{described}: {len(train)} training / {len(held)} held-out sequences of "
        f"{settings.max_len} tokens (encoded in {time.perf_counter() - started:.0f} s); "
        f"{plan.describe()}",
        flush=True,
    )
    positions = settings.steps * training.batch_size * settings.max_len
    budget = {
        "steps": settings.steps,
        "sequences": settings.steps * training.batch_size,
        "token_positions": positions,
        "real_tokens_estimate": round(settings.steps * training.batch_size * real),
        "passes_over_corpus": settings.steps * training.batch_size / len(train),
    }
    untrained = [] if settings.nsp else ["cls.seq_relationship", "bert.pooler"]
    record = previous or {
        "format": run_folder.FORMAT,
        "kind": "pretraining",
        "status": "training",
        "settings": record_settings,
        "choices": {
            "plan": plan.reason,
            "objective": "MLM and NSP" if settings.nsp else "MLM only (RoBERTa; see the module)",
            "untrained": untrained,
            **starts,
        },
        "label_names": [],
        "source": str(source) if source is not None else None,
        "corpus": {
            "described": described,
            "texts": len(train_texts),
            "held_out_texts": len(held_texts),
            "sequences": len(train),
            "held_out_sequences": len(held),
            "tokens": int(train.lengths.sum()),
        },
        "budget": budget,
        "machine": machine(),
        "started_at": _now(),
        "attention_lab_version": __version__,
    }
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):  # one writer per run folder; a killed one's lock is taken over
        if previous is None:
            if read_marker(out) is None:  # the run folder is ours by proof (attention_lab.io)
                write_marker(out, "pretrain")
            atomic_write_json(out / run_folder.RUN_FILE, record)
        print(
            f"budget: {settings.steps} steps × {training.batch_size} sequences × "
            f"{settings.max_len} tokens = {positions:,} token positions (about "
            f"{budget['real_tokens_estimate']:,} real tokens, "
            f"{budget['passes_over_corpus']:.2f} passes over the corpus)",
            flush=True,
        )

        if not settings.nsp:  # no loss reaches them: frozen, so that AdamW leaves them alone
            model.seq_relationship.trainable = False
            model.bert.pooler.trainable = False
        trainer = PreTrainer(model, settings.nsp)
        trainer.build()
        trainer.compile(
            optimizer=adamw(
                training.learning_rate,
                settings.steps,
                training.warmup_fraction,
                training.weight_decay,
                training.clipnorm,
            ),
            jit_compile=plan.jit_compile,
        )
        result = _fit(trainer, train, held, tokenizer, out, settings, training, record_settings,
                      progress, callbacks, tokenizer_dir)  # fmt: skip
        write_bert_files(
            model, out, tokenizer_dir, provenance={"pretrained_steps": result["steps"]}
        )
        record.update(status="complete", result=result, finished_at=_now())
        atomic_write_json(out / run_folder.RUN_FILE, record)
        shutil.rmtree(out / run_folder.CHECKPOINTS, ignore_errors=True)
    return record


def _tokenizer_dir(source) -> Path:
    from attention_lab.convert import resolve_model_dir

    directory = resolve_model_dir(source)
    if not (directory / "vocab.txt").is_file():
        raise CheckpointError(f"{source} has no vocab.txt; pass a checkpoint with its vocabulary")
    return directory


def _fit(trainer, train, held, tokenizer, out, settings, training, signature, progress,
         callbacks, tokenizer_dir) -> dict:  # fmt: skip
    """``fit`` from the backup's step to ``settings.steps``, evaluating every
    ``eval_every`` steps on the held-out windows (masked once, seeded)."""
    spe = settings.eval_every
    backup = TrainingCheckpoint(
        out / run_folder.CHECKPOINTS, spe, training, run_folder.identity(signature)
    )
    state = backup.restore(trainer)
    if state.step:
        print(f"resuming from step {state.step} (evaluation {len(state.history) + 1})", flush=True)
    rng = np.random.default_rng([training.seed, 2])
    held_x, held_y = mask_batch(
        tokenizer, held.features, held.labels, rng, settings.mask_rate, settings.nsp
    )
    extra = list(callbacks)
    if settings.snapshots:
        extra.append(Snapshots(trainer.bert_model, out / SNAPSHOTS, tokenizer_dir, backup))

    def run(first: int, last: int, steps: int) -> None:
        stream = MaskedStream(
            train, tokenizer, training.batch_size, training.seed, backup.state.step,
            settings.mask_rate, settings.nsp,
        )  # fmt: skip
        trainer.fit(
            stream.for_fit(),
            initial_epoch=first,
            epochs=last,
            steps_per_epoch=steps,
            validation_data=(held_x, held_y),
            validation_batch_size=64,
            callbacks=[backup, *extra],
            shuffle=False,
            verbose=1 if progress else 2,
        )

    epoch, position = divmod(state.step, spe)
    if position:  # first the steps the interrupted evaluation period had left
        run(epoch, epoch + 1, spe - position)
        epoch += 1
    if epoch < settings.evaluations:
        run(epoch, settings.evaluations, spe)
    state = backup.state
    seconds = state.train_seconds
    return {
        "history": state.history,
        "steps": state.step,
        "held_out_mlm_accuracy": [h.get("val_accuracy") for h in state.history],
        "train_seconds": seconds,
        "compile_seconds": state.compile_seconds,
        "sequences_per_second": state.train_examples / seconds if seconds else None,
        "tokens_per_second": state.train_examples * settings.max_len / seconds if seconds else None,
    }


def write_random_init(like, out, seed: int) -> Path:
    """A BERT folder with ``like``'s architecture and vocabulary at a random initialisation
    (seeded), encoder and pooler: the "no pre-training" arm of the transfer study."""
    from attention_lab.convert import load_bert, save_bert
    from attention_lab.models.bert import BertModel

    loaded = load_bert(like)
    keras.utils.set_random_seed(seed)
    model = BertModel(loaded.config, True)
    model.build()
    provenance = {"random_init_seed": seed, "architecture_of": str(like)}
    return save_bert(model, out, loaded.directory, provenance=provenance)


def describe_run(out) -> str:
    """One line on a finished pre-training run: steps, held-out accuracy, speed."""
    record = run_folder.read_finished_run(out)
    result = record["result"]
    accuracy = [a for a in result["held_out_mlm_accuracy"] if a is not None]
    speed = result.get("tokens_per_second")
    return (
        f"done: {result['steps']} steps"
        + (f", held-out MLM accuracy {accuracy[-1]:.4f}" if accuracy else "")
        + (f", {speed:,.0f} tokens/s" if speed else "")
        + f" -> {out}"
    )


__all__ = [
    "PRETRAIN_RATE",
    "MaskedLMAccuracy",
    "MaskedStream",
    "PreTrainer",
    "PretrainSettings",
    "build_model",
    "fresh_config",
    "pretrain",
    "read_corpus",
    "sentence_pairs",
    "split_holdout",
    "windows",
    "write_random_init",
]
