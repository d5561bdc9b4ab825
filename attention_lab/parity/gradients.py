"""Parity of gradients: one backward pass of the same loss on the same batch, weight by weight.

The forward report (:mod:`attention_lab.parity.report`) shows that our BERT computes what
Hugging Face's does; fine-tuning (chapter sections 5 and 6) and pre-training (section 3) use
its gradients. Here both models take one backward pass of the loss of their head on the same
batch, in eval mode (no dropout), and every weight's gradient is compared, named by its
Hugging Face tensor name (:mod:`attention_lab.convert.weight_map`; our kernels transposed):

* a classifier (``BertForSequenceClassification``): the mean cross-entropy of its logits
  against seeded labels; and one step of fine-tuning's AdamW
  (:mod:`attention_lab.training.optimization`) against ``torch.optim.AdamW`` with the same
  settings: the change of every weight;
* ``BertForPreTraining``: the masked-LM loss at 15% of the real tokens, masked by
  :func:`attention_lab.training.pretraining.mask_tokens`, plus the next-sentence loss
  against seeded labels, Hugging Face's ``total_loss``; ``BertForMaskedLM``: the first alone.

The decoder of the masked-LM head is tied to the word embeddings (Devlin et al., 2019; Press
& Wolf, 2017), so ``bert.embeddings.word_embeddings.weight`` gets the sum of both uses: the
rows of the batch's tokens from the embedding lookup, every row from the decoder. Hugging
Face's module holds one ``Parameter`` for both, so its gradient is that sum too. One
difference is by design: Hugging Face's embedding has ``padding_idx``, so the ``[PAD]`` row
never gets a gradient from a lookup; ours has none, which changes nothing while ``[PAD]`` sits
only at padded positions (their outputs reach no loss), so the batch never puts it elsewhere.

The pass rule has the form of the forward one, on scales fit for gradients. A gradient's size
depends on the loss and the tensor (a LayerNorm's scale gets ones, the word embeddings rows
the batch never saw get only the decoder's share), so its limits are relative to its
*scale*: the largest ``|g|`` of that tensor in float64, but no less than ``SCALE_FLOOR`` of
the largest gradient of the whole model. (The floor is for gradients that are zero in exact
arithmetic: adding a constant to every score of a query leaves its softmax unchanged, so the
key projection's bias has no gradient, and what float32 returns there is rounding noise of the
terms that cancel, which are as large as the query bias's gradient.) For every weight:

1. ``|ours − ref| ≤ TOLERANCE × scale``;
2. ``|ours − f64| ≤ max(2 × |ref − f64|, FLOAT64_FLOOR × scale)``: ours is as exact as
   Hugging Face's own float32.

A gradient summed over a batch of tokens rounds more than one forward value does; over the
checkpoints of the tests (a tiny pre-training model, a classifier, the bert-base-cased
configuration) Hugging Face's own float32 gradients stay below ``1e-5 × scale`` of float64,
and ours likewise. ``TOLERANCE`` is 1e-4 and ``FLOAT64_FLOOR`` 2e-5, the forward report's
float32 numbers read as fractions of the scale: a LayerNorm gradient scaled by 1.001 or a
decoder untied from the embeddings is 10 to 10,000 times over them (tests/test_parity_gradients.py).

Keras's Adam adds its ε to ``√v`` before the bias correction of ``v`` (the ε̂ of Kingma & Ba,
2015, section 2), PyTorch's after it: after ``t`` steps Keras's ε is PyTorch's
``ε / √(1 − β₂ᵗ)``. The reference is run with that ε, so the two take the same step.

AdamW's first step moves a weight by ``lr · g / (|g| + ε̂)`` (plus the decay ``lr · λ · w``):
about ``lr · sign(g)`` where ``|g| ≫ ε̂``, but where ``|g| ≲ ε̂`` it multiplies the gradient's
rounding error by up to ``lr / ε̂``. Its changes are therefore compared on the scale of the
learning rate: ``|ours − ref| ≤ ADAMW_TOLERANCE × lr`` and ``|ours − f64| ≤ max(2 × |ref −
f64|, ADAMW_FLOAT64_FLOOR × lr)``, each plus two float32 units in the last place of the
tensor's largest weight (the new weight is rounded to float32; a LayerNorm scale of 1 moves by
1.2e-7 steps). On the bert-base-cased configuration both Hugging Face's float32 changes and
ours stay within 5e-4 × lr of float64; an optimizer wrong in a way one step can show (PyTorch's
ε where Keras's belongs: half the step where ``|g| ≈ ε̂``; decaying a LayerNorm scale:
``lr · λ`` = 1e-2 × lr) is 5 to 250 times over.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import keras
import numpy as np

from attention_lab.convert import resolve_model_dir
from attention_lab.convert.weight_map import classifier_weight_map
from attention_lab.errors import AttentionLabError
from attention_lab.parity.compare import TensorStats
from attention_lab.parity.inputs import parity_batch
from attention_lab.parity.ours import architecture, in_policy, load_ours
from attention_lab.parity.reference import Reference
from attention_lab.parity.report import verdict
from attention_lab.training.pretraining import IGNORE, mask_tokens, masked_lm_loss

TOLERANCE = 1e-4  # on |ours - ref|, times the tensor's scale
FLOAT64_FLOOR = 2e-5  # smallest limit on |ours - f64|, times the tensor's scale
FLOAT64_FACTOR = 2.0  # |ours - f64| may be this many times |ref - f64|
ADAMW_TOLERANCE = 2e-3  # on AdamW's changes |ours - ref|, times the learning rate
ADAMW_FLOAT64_FLOOR = 1e-3  # smallest limit on AdamW's changes |ours - f64|, times the rate
SCALE_FLOOR = 1e-3  # a tensor's scale is at least this share of the model's largest gradient
SEED = 31  # labels and masks of the batch
LEARNING_RATE, WEIGHT_DECAY, EPSILON, BETAS = 1e-3, 0.01, 1e-6, (0.9, 0.999)
NO_WEIGHT_DECAY = ("bias", "LayerNorm.weight")  # Hugging Face's names of ours' bias/gamma/beta
# The weight map's name of each head that Hugging Face has.
HEADS = {
    "BertForSequenceClassification": "prebuilt",
    "BertForPreTraining": "pretraining",
    "BertForMaskedLM": "masked-lm",
}


@dataclass
class GradientStats(TensorStats):
    """The differences of one weight's gradient (or AdamW change): every element compared."""

    rounding: float = 0.0  # AdamW changes: one float32 ulp of the tensor's largest weight

    @property
    def kind(self) -> str:
        return "weight"


def training_batch(model_dir, config, arch: str) -> tuple[dict, dict]:
    """The forward report's batch with seeded targets: ``(inputs, labels)``.

    ``labels`` holds ``labels`` (a classifier's class per sequence, or the masked-LM's
    original id at each chosen position and ``IGNORE`` elsewhere) and, for
    ``BertForPreTraining``, ``next_sentence_label``. The masked-LM chooses 15% of the real
    tokens, never the first or the last of a sequence (``[CLS]``, ``[SEP]``).
    """
    batch = dict(parity_batch(model_dir, config.vocab_size))
    rng = np.random.default_rng(SEED)
    rows = len(batch["input_ids"])
    if arch == "BertForSequenceClassification":
        return batch, {"labels": rng.integers(0, config.num_labels, rows).astype(np.int32)}
    mask = batch["attention_mask"]
    special = 1 - mask  # (batch, len): padding
    special[:, 0] = 1
    special[np.arange(rows), mask.sum(axis=1) - 1] = 1  # the last real token
    mask_id = _mask_token_id(model_dir, config.vocab_size)
    ids, mlm = mask_tokens(batch["input_ids"], special, config.vocab_size, mask_id, rng)
    # A random replacement may draw [PAD]: Hugging Face's embedding never trains that row
    # (``padding_idx``), ours would where [PAD] stood at a real token, which tokenized text
    # never has; such a draw is masked instead.
    ids = np.where((ids == config.pad_token_id) & (mask == 1), mask_id, ids)
    if not (mlm != IGNORE).any():
        raise AttentionLabError(f"the masked-LM chose no token of the batch (seed {SEED})")
    labels = {"labels": mlm}
    if arch == "BertForPreTraining":
        labels["next_sentence_label"] = rng.integers(0, 2, rows).astype(np.int32)
    return {**batch, "input_ids": ids}, labels


def _mask_token_id(model_dir, vocab_size: int) -> int:
    """``[MASK]``'s id in the checkpoint's vocab.txt; without one, the last id stands for it."""
    vocab = resolve_model_dir(model_dir) / "vocab.txt"
    if vocab.is_file():
        tokens = vocab.read_text(encoding="utf-8").splitlines()
        if "[MASK]" in tokens:
            return tokens.index("[MASK]")
    return vocab_size - 1


def loss(arch: str, outputs, labels: dict):
    """Hugging Face's loss of the head ``arch`` on our ``outputs``, in ``keras.ops``."""
    ops = keras.ops

    def cross_entropy(targets, logits):
        return ops.mean(
            keras.losses.sparse_categorical_crossentropy(
                targets, ops.cast(logits, "float32"), from_logits=True
            )
        )

    if arch == "BertForSequenceClassification":
        return cross_entropy(labels["labels"], outputs)  # (batch,) against (batch, labels)
    total = masked_lm_loss(labels["labels"], outputs["prediction_logits"])
    if arch == "BertForPreTraining":
        total = total + cross_entropy(
            labels["next_sentence_label"], outputs["seq_relationship_logits"]
        )
    return total


def _backward(model, arch: str, inputs: dict, labels: dict):
    """The loss and the gradients of ``model.trainable_variables``, on the active backend."""
    from attention_lab import backend

    inputs = {k: keras.ops.convert_to_tensor(v) for k, v in inputs.items()}
    labels = {k: keras.ops.convert_to_tensor(v) for k, v in labels.items()}
    return backend.value_and_gradients(model, lambda outputs: loss(arch, outputs, labels), inputs)


def our_gradients(model, inputs: dict, labels: dict) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and every weight's gradient of ``model``, by Hugging Face name and layout.

    Tests replace this function to see the report fail on a wrong gradient.
    """
    arch = architecture(model)
    value, grads = _backward(model, arch, inputs, labels)
    rows = {id(row.variable): row for row in classifier_weight_map(model, HEADS[arch])}
    named = {}
    for variable, grad in zip(model.trainable_variables, grads, strict=True):
        row = rows.get(id(variable))
        if row is None:
            raise AttentionLabError(f"{variable.path} has no Hugging Face name in the weight map")
        grad = np.asarray(keras.ops.convert_to_numpy(grad), np.float32)
        named[row.hf_name] = grad.T if row.transpose else grad
    return float(keras.ops.convert_to_numpy(value)), named


def our_adamw_step(model, inputs: dict, labels: dict) -> dict[str, np.ndarray]:
    """Every weight's change after one step of fine-tuning's AdamW, by Hugging Face name: on
    a copy of ``model`` (itself left as it was)."""
    from attention_lab.training.adamw_fused import AdamW
    from attention_lab.training.optimization import NO_WEIGHT_DECAY as OURS_NO_DECAY

    twin = type(model).from_config(model.get_config())
    twin.build()
    twin.set_weights(model.get_weights())
    rows = classifier_weight_map(twin, HEADS[architecture(twin)])
    before = {row.hf_name: np.asarray(row.variable, np.float64) for row in rows}
    _, grads = _backward(twin, architecture(twin), inputs, labels)
    optimizer = AdamW(
        learning_rate=LEARNING_RATE,
        weight_decay=WEIGHT_DECAY,
        epsilon=EPSILON,
        beta_1=BETAS[0],
        beta_2=BETAS[1],
    )
    optimizer.exclude_from_weight_decay(var_names=list(OURS_NO_DECAY))
    optimizer.apply(grads, twin.trainable_variables)
    changes = {}
    for row in rows:
        change = np.asarray(row.variable, np.float64) - before[row.hf_name]
        changes[row.hf_name] = change.T if row.transpose else change
    return changes


@dataclass
class GradientReport:
    """The gradient rows (and, for a classifier, AdamW's change rows) of one check."""

    model: str
    architecture: str
    loss: dict  # ours, reference, float64
    rows: list[GradientStats] = field(default_factory=list)
    adamw_rows: list[GradientStats] = field(default_factory=list)
    largest: float = 0.0  # the largest float64 gradient of the model: the scale floor's base

    def scale(self, row: GradientStats, adamw: bool = False) -> float:
        """A gradient's scale; for AdamW's change of a weight, the learning rate."""
        return LEARNING_RATE if adamw else max(row.max_abs, SCALE_FLOOR * self.largest)

    def tolerance(self, row, adamw=False) -> float:
        share = ADAMW_TOLERANCE if adamw else TOLERANCE
        return share * self.scale(row, adamw) + 2 * row.rounding

    def float64_limit(self, row, adamw=False) -> float:
        floor = (ADAMW_FLOAT64_FLOOR if adamw else FLOAT64_FLOOR) * self.scale(row, adamw)
        return max(FLOAT64_FACTOR * row.reference_vs_float64, floor + 2 * row.rounding)

    def failure(self, row, adamw=False) -> str | None:
        if row.max_abs_diff > self.tolerance(row, adamw):
            return f"|ours-ref| {row.max_abs_diff:.2e} > tolerance {self.tolerance(row, adamw):.1e}"
        if row.ours_vs_float64 > self.float64_limit(row, adamw):
            return (
                f"|ours-f64| {row.ours_vs_float64:.2e} > f64 limit "
                f"{self.float64_limit(row, adamw):.1e} = max({FLOAT64_FACTOR:g} x |ref-f64|, floor)"
            )
        return None

    def _failures(self):
        for row in self.rows:
            yield row, self.failure(row)
        for row in self.adamw_rows:
            yield row, self.failure(row, adamw=True)

    @property
    def first_failure(self) -> str | None:
        return next((row.name for row, why in self._failures() if why), None)

    @property
    def failure_reason(self) -> str | None:
        return next((why for _, why in self._failures() if why), None)

    @property
    def passed(self) -> bool:
        return self.first_failure is None

    def _row_dict(self, row, adamw=False) -> dict:
        return {
            "name": row.name,
            "max_abs_diff": row.max_abs_diff,
            "ours_vs_float64": row.ours_vs_float64,
            "reference_vs_float64": row.reference_vs_float64,
            "max_abs": row.max_abs,
            "scale": self.scale(row, adamw),
            "tolerance": self.tolerance(row, adamw),
            "float64_limit": self.float64_limit(row, adamw),
            "passed": self.failure(row, adamw) is None,
        }

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "model": self.model,
            "architecture": self.architecture,
            "backend": keras.backend.backend(),
            "gradients": True,
            "loss": self.loss,
            "first_failure": self.first_failure,
            "failure_reason": self.failure_reason,
            "rows": [self._row_dict(r) for r in self.rows],
            "adamw_rows": [self._row_dict(r, adamw=True) for r in self.adamw_rows],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def _table(self, rows, adamw: bool) -> list[str]:
        width = max(len(r.name) for r in rows) + 2
        lines = [
            f"{'weight':<{width}}{'scale':>10}{'|ours-ref|':>11}{'|ours-f64|':>11}"
            f"{'|ref-f64|':>11}{'tolerance':>11}{'f64 limit':>11}  ok"
        ]
        for r in rows:
            ok = "yes" if self.failure(r, adamw) is None else "NO"
            lines.append(
                f"{r.name:<{width}}{self.scale(r, adamw):>10.1e}{r.max_abs_diff:>11.2e}"
                f"{r.ours_vs_float64:>11.2e}{r.reference_vs_float64:>11.2e}"
                f"{self.tolerance(r, adamw):>11.1e}{self.float64_limit(r, adamw):>11.1e}  {ok}"
            )
        return lines

    def format_table(self) -> str:
        lines = [
            f"Gradient parity: attention_lab ({keras.backend.backend()}) vs "
            f"transformers.{self.architecture}, {self.model}",
            f"one backward pass, eval mode; loss ours {self.loss['ours']:.6f}, Hugging Face "
            f"float32 {self.loss['reference']:.6f}, float64 {self.loss['float64']:.6f}",
            "",
            *self._table(self.rows, adamw=False),
        ]
        if self.adamw_rows:
            lines += [
                "",
                f"one AdamW step (lr {LEARNING_RATE:g}, weight decay {WEIGHT_DECAY:g}, "
                f"epsilon {EPSILON:g}): each weight's change",
                *self._table(self.adamw_rows, adamw=True),
            ]
        lines += [
            "",
            f"pass rule for every weight: |ours-ref| <= {TOLERANCE:.0e} x scale and |ours-f64| "
            f"<= max({FLOAT64_FACTOR:g} x |ref-f64|, {FLOAT64_FLOOR:.0e} x scale);",
            f"  scale = max|g| of the float64 tensor, at least {SCALE_FLOOR:.0e} x the model's "
            "largest",
        ]
        if self.adamw_rows:
            lines.append(
                f"AdamW's changes: |ours-ref| <= {ADAMW_TOLERANCE:.0e} x lr + 2 ulp(w) and "
                f"|ours-f64| <= max({FLOAT64_FACTOR:g} x |ref-f64|, {ADAMW_FLOAT64_FLOOR:.0e} x lr "
                "+ 2 ulp(w))"
            )
        lines.append(verdict(self, "gradient", "weight"))
        return "\n".join(lines)


def _stats(
    ours: dict, theirs: dict, truth: dict, source: str, weights: dict | None = None
) -> list[GradientStats]:
    missing = sorted(set(theirs) ^ set(ours))
    if missing:
        raise AttentionLabError(
            f"{missing[0]} is a weight of one model only (ours or {source}): not the same "
            "architecture"
        )
    rows = []
    for name in theirs:  # Hugging Face's order
        row = GradientStats(name)
        if weights is not None:  # a change: the new weight was rounded to float32
            row.rounding = float(np.spacing(np.float32(np.abs(weights[name]).max())))
        row.update(ours[name], theirs[name], truth[name], None)
        rows.append(row)
    return rows


def run_gradient_parity(
    model: str | os.PathLike, ours: str | os.PathLike | keras.Model | None = None
) -> GradientReport:
    """Gradients of ``ours`` (default: ``model`` converted in memory) against Hugging Face's
    float32 and float64 on one batch; for a classifier, one AdamW step too.

    ``model`` must hold a head that Hugging Face has (a pre-built classifier,
    ``BertForPreTraining``, ``BertForMaskedLM``): a loss needs one.
    """
    model_dir = resolve_model_dir(model)
    keras_model = in_policy(load_ours(model_dir, ours), "float32")
    arch = architecture(keras_model)
    if arch not in HEADS:
        raise AttentionLabError(
            f"{model}: --gradients needs a head with a loss (a BertForSequenceClassification, "
            "BertForPreTraining or BertForMaskedLM checkpoint); this is a bare encoder or the "
            "chapter's custom head"
        )
    inputs, labels = training_batch(model_dir, keras_model.config, arch)
    reference = Reference(model_dir, architecture=arch)
    our_loss, mine = our_gradients(keras_model, inputs, labels)
    their_loss, theirs = reference.gradients(inputs, labels, "float32")
    true_loss, truth = reference.gradients(inputs, labels, "float64")
    report = GradientReport(
        model=str(model),
        architecture=arch,
        loss={"ours": our_loss, "reference": their_loss, "float64": true_loss},
        rows=_stats(mine, theirs, truth, str(model_dir)),
    )
    report.largest = max(row.max_abs for row in report.rows)
    if arch == "BertForSequenceClassification":
        adamw = {"lr": LEARNING_RATE, "weight_decay": WEIGHT_DECAY, "eps": EPSILON, "betas": BETAS}
        report.adamw_rows = _stats(
            our_adamw_step(keras_model, inputs, labels),
            reference.adamw_step(inputs, labels, "float32", no_decay=NO_WEIGHT_DECAY, **adamw),
            reference.adamw_step(inputs, labels, "float64", no_decay=NO_WEIGHT_DECAY, **adamw),
            str(model_dir),
            weights={name: p.detach().numpy() for name, p in reference.model.named_parameters()},
        )
    return report
