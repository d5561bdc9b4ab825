"""Is attention an explanation? The measurements of Jain and Wallace (2019, "Attention is not
Explanation", sections 3–4) on the attention BiLSTM, and the same rank correlation for BERT.

For one review of ``T`` real tokens, three importance rankings of its tokens:

- **attention** ``α``, the model's own weights;
- **gradient** ``|∂ŷ/∂eₜ · eₜ|``: the gradient of ``ŷ = P(positive)`` with respect to
  token ``t``'s embedding, times the embedding (the derivative with respect to the token's
  one-hot input), with the attention weights held constant, as Jain and Wallace do;
- **leave-one-out** ``|ŷ(x) − ŷ(x₋ₜ)|``: the change in output when token ``t`` is removed.

If attention explained the prediction, its ranking would agree with the other two:
:func:`kendall_tau` (τ-b) measures the agreement, from −1 to 1 (0: unrelated). Two tests
change only the weights, with the BiLSTM states held fixed:

- :func:`permuted_output_change`: the weights shuffled among the real tokens, 100 times; the
  median ``|Δŷ|`` per review (Jain and Wallace's figure 4). Near 0: the order did not matter;
- :func:`adversarial_attention`: a distribution as far as possible from ``α`` in
  Jensen–Shannon divergence (at most ln 2 ≈ 0.69) whose output stays within ``ε = 0.01``
  (their section 4.2, figure 6), found by gradient ascent on its logits.

:func:`bert_agreement` does the rank correlation for a fine-tuned BERT: attention rollout
and raw ``[CLS]`` attention against integrated gradients. Special tokens are left out of
every ranking, as Jain and Wallace leave out their start and end symbols.
"""

from __future__ import annotations

import numpy as np

from attention_lab.errors import AttentionLabError


def kendall_tau(x, y) -> float:
    """Kendall's τ-b of two score vectors (ties counted as in ``scipy.stats.kendalltau``).

    ``(concordant − discordant) / sqrt(pairs untied in x · pairs untied in y)``; NaN when
    either has fewer than two distinct values.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise AttentionLabError(
            f"kendall_tau needs two vectors of one length, got {x.shape}, {y.shape}"
        )
    first, second = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[first] - x[second]), np.sign(y[first] - y[second])
    untied = np.count_nonzero(dx) * np.count_nonzero(dy)
    return float((dx * dy).sum() / np.sqrt(untied)) if untied else float("nan")


def jensen_shannon(p, q) -> np.ndarray:
    """JSD of distributions along the last axis, natural logarithm (0 … ln 2)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    m = 0.5 * (p + q)

    def kl(a, b):
        return np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0) / np.where(b > 0, b, 1.0)), 0.0)

    return 0.5 * (kl(p, m) + kl(q, m)).sum(axis=-1)


def summarise(values) -> dict:
    """``{"mean", "std", "count"}`` of a per-review measure (NaNs left out)."""
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return {"mean": float(values.mean()), "std": float(values.std()), "count": int(values.size)}


def _lengths(token_ids: np.ndarray) -> np.ndarray:
    lengths = (np.asarray(token_ids) != 0).sum(axis=1)
    if (lengths == 0).any():
        raise AttentionLabError("some reviews have no token at all; leave empty reviews out")
    return lengths


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))


def attention_and_states(model, token_ids: np.ndarray):
    """``(α (n, T), states (n, T, D), ŷ (n,))`` of the attention BiLSTM, no dropout."""
    embeddings, mask = model.embed(token_ids)
    states = model.encode(embeddings, mask, training=False)
    weights = model.attend(states, mask)
    output = _sigmoid(model.classify(states, weights))
    return np.asarray(weights), np.asarray(states), output


def gradient_importance(model, token_ids: np.ndarray) -> np.ndarray:
    """``|∂ŷ/∂eₜ · eₜ|`` ``(n, T)`` with the attention weights held constant (0 on padding)."""
    import tensorflow as tf

    embeddings, mask = model.embed(token_ids)
    with tf.GradientTape() as tape:
        tape.watch(embeddings)
        states = model.encode(embeddings, mask, training=False)
        weights = tf.stop_gradient(model.attend(states, mask))
        output = tf.sigmoid(model.classify(states, weights))  # (n,)
    gradient = tape.gradient(output, embeddings)  # (n, T, E)
    return np.abs((np.asarray(gradient) * np.asarray(embeddings)).sum(axis=-1)) * np.asarray(mask)


def leave_one_out(model, token_ids: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """``|ŷ(x) − ŷ(x₋ₜ)|`` ``(n, T)``: each real token removed in turn (0 on padding)."""
    from attention_lab.training.attention_bilstm import predict_probabilities

    token_ids = np.asarray(token_ids)
    lengths = _lengths(token_ids)
    full = predict_probabilities(model, token_ids, batch_size)
    width = token_ids.shape[1]
    variants = []
    for row, length in zip(token_ids, lengths, strict=True):
        kept = ~np.eye(length, dtype=bool)  # row t keeps every token but t
        shorter = np.broadcast_to(row[:length], (length, length))[kept].reshape(length, -1)
        variants.append(np.pad(shorter, ((0, 0), (0, width - length + 1))))
    removed = predict_probabilities(model, np.concatenate(variants), batch_size)
    importance = np.zeros(token_ids.shape)
    for i, changed in enumerate(np.split(removed, np.cumsum(lengths)[:-1])):
        importance[i, : len(changed)] = np.abs(full[i] - changed)
    return importance


def permuted_output_change(
    model, token_ids: np.ndarray, permutations: int = 100, seed: int = 0
) -> np.ndarray:
    """Per review, the median ``|ŷ(α) − ŷ(π(α))|`` over random permutations π of its weights.

    The permutations shuffle the weights among the real tokens; the states stay fixed.
    """
    weights, states, output = attention_and_states(model, token_ids)
    lengths = _lengths(token_ids)
    rng = np.random.default_rng(seed)
    medians = np.zeros(len(lengths))
    for i, length in enumerate(lengths):
        shuffled = np.zeros((permutations, weights.shape[1]), np.float32)
        for p in range(permutations):
            shuffled[p, :length] = weights[i, rng.permutation(length)]
        repeated = np.broadcast_to(states[i], (permutations, *states.shape[1:]))
        changed = _sigmoid(model.classify(repeated, shuffled))
        medians[i] = np.median(np.abs(changed - output[i]))
    return medians


def adversarial_attention(
    model,
    token_ids: np.ndarray,
    epsilon: float = 0.01,
    steps: int = 300,
    learning_rate: float = 0.1,
    penalty: float = 100.0,
    seed: int = 0,
):
    """Per review, the largest JSD from ``α`` found with ``|Δŷ| ≤ epsilon``, and its ``|Δŷ|``.

    Maximises ``JSD(α̃, α) − penalty · max(0, |ŷ(α̃) − ŷ(α)| − epsilon)`` over the logits of
    ``α̃`` (a softmax over the real tokens) with Adam, from ``log α`` plus unit Gaussian
    noise, keeping the best distribution that satisfies the constraint (``α`` itself, JSD 0,
    always does). Returns ``(jsd (n,), output change (n,), α̃ (n, T))``.
    """
    import tensorflow as tf

    weights, states, output = attention_and_states(model, token_ids)
    mask = (np.asarray(token_ids) != 0).astype(np.float32)
    target = tf.constant(weights, tf.float32)
    base = tf.constant(output, tf.float32)
    states = tf.constant(states)
    rng = np.random.default_rng(seed)
    start = np.log(np.maximum(weights, 1e-12)) + rng.standard_normal(weights.shape)
    logits = tf.Variable(start.astype(np.float32))
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    padding = tf.constant((1.0 - mask) * -1e9)

    best = np.zeros(len(weights))
    best_change = np.zeros(len(weights))
    best_weights = weights.copy()
    for _ in range(steps):
        with tf.GradientTape() as tape:
            candidate = tf.nn.softmax(logits + padding, axis=-1)
            middle = 0.5 * (candidate + target)
            divergence = 0.5 * tf.reduce_sum(  # JSD(α̃, α), as jensen_shannon but differentiable
                candidate * (tf.math.log(candidate + 1e-12) - tf.math.log(middle + 1e-12))
                + target * (tf.math.log(target + 1e-12) - tf.math.log(middle + 1e-12)),
                axis=-1,
            )
            change = tf.abs(tf.sigmoid(model.classify(states, candidate)) - base)
            loss = -tf.reduce_sum(divergence - penalty * tf.nn.relu(change - epsilon))
        optimizer.apply_gradients([(tape.gradient(loss, logits), logits)])
        found = (change.numpy() <= epsilon) & (divergence.numpy() > best)
        best[found] = divergence.numpy()[found]
        best_change[found] = change.numpy()[found]
        best_weights[found] = candidate.numpy()[found]
    return best, best_change, best_weights


def bert_agreement(classifier, tokenizer, texts, steps: int = 32, max_len: int = 128) -> dict:
    """Per review, τ between ``|IG|`` and attention rollout, raw ``[CLS]`` attention (last
    layer, mean over heads) and ``|gradient × input|``; and IG's completeness errors."""
    from attention_lab.interpret.attributions import gradient_x_input, integrated_gradients
    from attention_lab.interpret.rollout import cls_relevance
    from attention_lab.viz.attention import attention_maps, cls_attention

    rows = {"rollout": [], "raw_cls_attention": [], "gradient_x_input": [], "completeness": []}
    for text in texts:
        ig = integrated_gradients(classifier, tokenizer, text, steps=steps, max_len=max_len)
        gxi = gradient_x_input(classifier, tokenizer, text, target=ig.target, max_len=max_len)
        maps = attention_maps(classifier.bert, tokenizer, text, max_len=max_len)
        words = slice(1, len(ig.tokens) - 1)  # without [CLS] and [SEP]
        reference = np.abs(ig.scores[words])
        rows["rollout"].append(kendall_tau(cls_relevance(maps.weights)[-1][words], reference))
        rows["raw_cls_attention"].append(kendall_tau(cls_attention(maps)[-1][words], reference))
        rows["gradient_x_input"].append(kendall_tau(np.abs(gxi.scores[words]), reference))
        rows["completeness"].append(ig.completeness_error)
    return {key: np.asarray(values) for key, values in rows.items()}
