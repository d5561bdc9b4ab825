"""Gradient attributions of a fine-tuned BERT classifier's decision to its input tokens.

Attention says where the model looks; a gradient says how the output moves when an input
does. Both methods here differentiate with respect to the *word embeddings* (the rows of
``bert.embeddings.word_embeddings`` the input ids pick), the last place where a token is still
only itself, and sum over the embedding dimensions to get one number per WordPiece:

- **gradient × input** (Shrikumar et al., 2017; Denil et al., 2014): ``xₜ · ∂f/∂xₜ``, the
  first-order Taylor term, one backward pass;
- **integrated gradients** (Sundararajan, Taly and Yan, 2017, "Axiomatic Attribution for Deep
  Networks", section 3): ``(xₜ − x′ₜ) · ∫₀¹ ∂f/∂xₜ(x′ + α(x − x′)) dα``, the gradient
  averaged along the straight path from a baseline ``x′`` to the input. Its *completeness*
  axiom: the attributions add up to ``f(x) − f(x′)``. The integral is computed with
  ``steps``-point Gauss–Legendre quadrature, so the sum approaches ``f(x) − f(x′)`` as
  ``steps`` grows; :attr:`Attribution.completeness_error` says how close it came.

The baseline keeps ``[CLS]`` and ``[SEP]`` and replaces every other token by ``[PAD]``'s
word embedding, at the same positions and token types (so the position and segment
embeddings, which both share, get no attribution, and the special tokens get exactly 0).

``f`` is the classifier's log-odds of the target class, ``zₜ − log Σⱼ≠ₜ exp(zⱼ)`` over the
logits ``z`` (for two labels, ``z₁ − z₀``): a positive attribution pushes towards the target.
It is the logit of the target's softmax probability, and unlike one logit alone it does not
change when the same constant is added to every logit.

The forward pass from embeddings, :func:`logits_from_word_embeddings`, is the classifier
itself with ``inputs_embeds`` in place of ``input_ids`` (as in Hugging Face's models); a test
checks it equals the classifier's output. The gradients are TensorFlow's (``GradientTape``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attention_lab.errors import AttentionLabError


@dataclass
class Attribution:
    """Per-token attributions of one example (no padding) and what they should add up to.

    ``scores[t]``: token ``t``'s attribution to ``f`` (the target's log-odds); ``output`` is
    ``f(x)``, ``baseline_output`` is ``f(x′)`` (None for gradient × input, which has no
    baseline); ``steps`` the quadrature points (0 for gradient × input).
    """

    tokens: list[str]
    input_ids: np.ndarray
    scores: np.ndarray
    target: int
    output: float
    baseline_output: float | None
    method: str
    steps: int = 0

    @property
    def completeness_error(self) -> float | None:
        """``|Σ scores − (f(x) − f(x′))| / |f(x) − f(x′)|`` (integrated gradients only)."""
        if self.baseline_output is None:
            return None
        difference = self.output - self.baseline_output
        return abs(float(self.scores.sum()) - difference) / max(abs(difference), 1e-12)


def logits_from_word_embeddings(classifier, word_embeddings, token_type_ids, attention_mask):
    """The classifier's logits ``(batch, labels)`` with the word lookup replaced by
    ``word_embeddings`` ``(batch, n, hidden)`` (``BertModel``'s ``inputs_embeds``)."""
    inputs = {
        "inputs_embeds": word_embeddings,
        "token_type_ids": token_type_ids,
        "attention_mask": attention_mask,
    }
    return classifier(inputs, training=False)  # (batch, labels)


def log_odds(logits, target: int):
    """``z_target − log Σ_{j≠target} exp(z_j)`` per row of ``logits`` ``(batch, labels)``."""
    import tensorflow as tf

    others = tf.concat([logits[:, :target], logits[:, target + 1 :]], axis=1)
    return logits[:, target] - tf.reduce_logsumexp(others, axis=1)


# Integrated gradients' quadrature points at most: numpy's Gauss-Legendre nodes come from a
# steps x steps eigenproblem (8 MiB at 1,024; 74.5 GiB at 100,000).
MAX_STEPS = 1024


def _check(classifier, target: int | None, steps: int) -> None:
    labels = classifier.config.num_labels
    if labels < 2:
        raise AttentionLabError("attributions of a log-odds need a classifier with 2+ labels")
    if target is not None and not 0 <= target < labels:
        raise AttentionLabError(
            f"target {target} is not a label of this classifier (0 … {labels - 1})"
        )
    if steps < 1:
        raise AttentionLabError(f"integrated gradients need at least 1 step, got {steps}")
    if steps > MAX_STEPS:
        needed = steps * steps * 8 / 2**30  # leggauss's companion matrix, float64
        raise AttentionLabError(
            f"--steps {steps:,} is beyond the limit of {MAX_STEPS:,}: the Gauss-Legendre nodes "
            f"of {steps:,} points need a {steps:,} x {steps:,} matrix ({needed:,.1f} GiB), and "
            f"32 to 256 points already add up within 1%; pass --steps {MAX_STEPS} or fewer"
        )


def _gradients(classifier, embeddings, encoded, target: int):
    """``(f, ∂f/∂embeddings)`` for a batch of word-embedding inputs of one example."""
    import tensorflow as tf

    batch = embeddings.shape[0]
    types = tf.repeat(encoded["token_type_ids"], batch, axis=0)
    mask = tf.repeat(encoded["attention_mask"], batch, axis=0)
    embeddings = tf.convert_to_tensor(embeddings)
    with tf.GradientTape() as tape:
        tape.watch(embeddings)
        output = log_odds(logits_from_word_embeddings(classifier, embeddings, types, mask), target)
    return output.numpy(), tape.gradient(output, embeddings).numpy()


def _inputs(classifier, tokenizer, text, target, max_len, truncation):
    """``(encoded, ids, x, target)``: the text's ``(1, n)`` arrays (no padding), its ids
    ``(n,)``, their word embeddings ``x`` ``(1, n, hidden)`` and ``target``, the predicted
    label when None."""
    encoded = tokenizer.encode_batch([text], max_length=max_len, truncation=truncation)
    encoded = {key: np.asarray(value) for key, value in encoded.items()}
    table = np.asarray(classifier.bert.embeddings.word_embeddings.embeddings)
    ids = encoded["input_ids"][0]
    x = table[ids][None]
    if target is None:
        logits = logits_from_word_embeddings(
            classifier, x, encoded["token_type_ids"], encoded["attention_mask"]
        )
        target = int(np.argmax(np.asarray(logits)[0]))
    return encoded, ids, x, target


def gradient_x_input(
    classifier,
    tokenizer,
    text: str,
    target: int | None = None,
    max_len: int = 128,
    truncation: str = "first",
) -> Attribution:
    """``xₜ · ∂f/∂xₜ`` per token; ``target`` defaults to the predicted label."""
    _check(classifier, target, 1)
    encoded, ids, x, target = _inputs(classifier, tokenizer, text, target, max_len, truncation)
    output, grad = _gradients(classifier, x, encoded, target)
    scores = (x[0] * grad[0]).sum(axis=-1)  # (n,)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return Attribution(tokens, ids, scores, target, float(output[0]), None, "gradient_x_input")


def baseline_embeddings(classifier, tokenizer, input_ids) -> np.ndarray:
    """``[PAD]``'s word embedding at every position but ``[CLS]``/``[SEP]`` ``(1, n, hidden)``."""
    table = np.asarray(classifier.bert.embeddings.word_embeddings.embeddings)
    keep = np.isin(input_ids, [tokenizer.cls_token_id, tokenizer.sep_token_id])
    baseline_ids = np.where(keep, input_ids, tokenizer.pad_token_id)
    return table[baseline_ids][None]


def integrated_gradients(
    classifier,
    tokenizer,
    text: str,
    target: int | None = None,
    steps: int = 32,
    batch_size: int = 16,
    max_len: int = 128,
    truncation: str = "first",
) -> Attribution:
    """Integrated gradients from the ``[PAD]`` baseline with ``steps`` quadrature points.

    ``batch_size`` points of the path go through the model at once. ``target`` defaults to
    the predicted label. Check :attr:`Attribution.completeness_error` (below 0.01 means the
    attributions add up to ``f(x) − f(x′)`` within 1%); raise ``steps`` if it is not.
    """
    _check(classifier, target, steps)
    encoded, ids, x, target = _inputs(classifier, tokenizer, text, target, max_len, truncation)
    baseline = baseline_embeddings(classifier, tokenizer, ids)
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas, weights = (nodes + 1.0) / 2.0, weights / 2.0  # on [0, 1], weights sum to 1
    average = np.zeros_like(x[0])
    for start in range(0, steps, batch_size):
        chunk = alphas[start : start + batch_size, None, None]
        points = (baseline + chunk * (x - baseline)).astype(np.float32)  # (b, n, hidden)
        _, grad = _gradients(classifier, points, encoded, target)
        average += np.tensordot(weights[start : start + batch_size], grad, axes=1)
    ends, _ = _gradients(
        classifier, np.concatenate([x, baseline]).astype(np.float32), encoded, target
    )
    scores = ((x[0] - baseline[0]) * average).sum(axis=-1)  # (n,)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return Attribution(
        tokens, ids, scores, target, float(ends[0]), float(ends[1]), "integrated_gradients", steps
    )
