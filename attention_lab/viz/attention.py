"""BERT's attention as heatmaps, and what the interpretation methods say, as pictures
(chapter section 3, "Attention" and "Transformer").

Every encoder block returns its attention probabilities ``(heads, len, len)``: row *i* is how
much query token *i* draws from each key token, and sums to 1. Three views, with WordPiece
tokens as labels and the padding left out (its columns are exactly 0 and its rows are not
text):

- :func:`plot_head`: one head of one layer, token × token;
- :func:`plot_layer`: every head of one layer as a grid;
- :func:`plot_cls_across_layers`: the row of ``[CLS]`` (the token the pooled output and both
  classifier heads read), averaged over heads, for every layer.

And from :mod:`attention_lab.interpret`:

- :func:`plot_rollout`: attention rollout's relevance of every token to ``[CLS]``, after each
  layer;
- :func:`plot_token_scores`: a text with each word highlighted by a score (an attribution,
  a relevance, an attention weight);
- :func:`plot_explanation_tests`: the figures of the "attention is not explanation"
  experiment (:mod:`attention_lab.interpret.jain_wallace`).

As the chapter warns, attention weights show where a head looks, not why the model decides.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_file
from attention_lab.viz.heatmap import plot_heatmap


@dataclass
class AttentionMaps:
    """``tokens`` (the WordPiece pieces, no padding; their ids in ``input_ids``) and ``weights``
    ``(layers, heads, n, n)``; with ``queries_and_keys``, also each head's queries and keys
    ``(layers, heads, n, d_k)``: the rows of ``Q`` and ``K`` whose scaled dot products the
    softmax turns into ``weights``.
    """

    tokens: list[str]
    weights: np.ndarray
    queries: np.ndarray | None = None
    keys: np.ndarray | None = None
    input_ids: np.ndarray | None = None

    @property
    def num_layers(self) -> int:
        return self.weights.shape[0]

    @property
    def num_heads(self) -> int:
        return self.weights.shape[1]

    def check(self, layer: int | None = None, head: int | None = None) -> None:
        if layer is not None and not 0 <= layer < self.num_layers:
            raise AttentionLabError(
                f"--layer {layer} does not exist; this model has layers 0 … {self.num_layers - 1}"
            )
        if head is not None and not 0 <= head < self.num_heads:
            raise AttentionLabError(
                f"--head {head} does not exist; this model has heads 0 … {self.num_heads - 1}"
            )


def attention_maps(
    bert,
    tokenizer,
    text: str,
    max_len: int = 128,
    truncation: str = "first",
    queries_and_keys: bool = False,
):
    """Run ``bert`` (a :class:`~attention_lab.models.bert.BertModel`) on ``text``.

    Returns :class:`AttentionMaps` of the text alone, so without padding. With
    ``queries_and_keys``, each block's ``query`` and ``key`` projections are applied to the
    hidden states that enter it (the block's own layers, so the scores are the model's).
    """
    from keras import ops

    encoded = tokenizer.encode_batch([text], max_length=max_len, truncation=truncation)
    inputs = {k: np.asarray(v) for k, v in encoded.items()}  # (1, n), numpy for any backend
    outputs = bert(
        inputs, training=False, output_attentions=True, output_hidden_states=queries_and_keys
    )
    weights = np.stack([ops.convert_to_numpy(a)[0] for a in outputs["attentions"]])  # (L, A, n, n)
    ids = inputs["input_ids"][0]
    length = len(ids)
    maps = AttentionMaps(tokenizer.convert_ids_to_tokens(ids), weights, input_ids=ids)
    if queries_and_keys:
        heads = weights.shape[1]

        def per_head(projection, hidden):  # (1, n, A·d) -> (A, n, d)
            projected = ops.convert_to_numpy(projection(hidden))[0]  # (n, A·d)
            return projected.reshape(length, heads, -1).transpose(1, 0, 2)

        entering = outputs["hidden_states"][:-1]  # block l reads hidden state l
        blocks = list(zip(bert.encoder_layers, entering, strict=True))
        maps.queries = np.stack([per_head(b.attention.query, h) for b, h in blocks])  # (L, A, n, d)
        maps.keys = np.stack([per_head(b.attention.key, h) for b, h in blocks])  # (L, A, n, d)
    return maps


def plot_head(maps: AttentionMaps, layer: int, head: int, ax=None):
    """Token × token heatmap of one head: rows are queries, columns are keys."""
    maps.check(layer, head)
    return plot_heatmap(
        maps.weights[layer, head],
        maps.tokens,
        maps.tokens,
        ax=ax,
        title=f"layer {layer}, head {head}",
    )


def plot_layer(maps: AttentionMaps, layer: int, columns: int = 4):
    """All heads of ``layer`` in a grid; returns the figure."""
    import matplotlib.pyplot as plt

    maps.check(layer)
    rows = math.ceil(maps.num_heads / columns)
    size = max(3.0, 0.18 * len(maps.tokens))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for head, ax in enumerate(axes.flat):
        if head < maps.num_heads:
            plot_head(maps, layer, head, ax=ax)
        else:
            ax.axis("off")
    fig.suptitle(f"layer {layer}: all {maps.num_heads} heads")
    fig.tight_layout()
    return fig


def cls_attention(maps: AttentionMaps) -> np.ndarray:
    """``(layers, n)``: attention from ``[CLS]`` (query 0) to each token, mean over heads."""
    return maps.weights[:, :, 0, :].mean(axis=1)


def plot_cls_across_layers(maps: AttentionMaps, ax=None):
    """Attention from ``[CLS]`` to every token, one row per layer (mean over heads)."""
    return plot_heatmap(
        cls_attention(maps),
        maps.tokens,
        [f"layer {i}" for i in range(maps.num_layers)],
        ax=ax,
        title="attention from [CLS], mean over heads",
    )


def plot_rollout(maps: AttentionMaps, relevance: np.ndarray, ax=None):
    """Rollout relevance to ``[CLS]`` ``(layers, n)`` (see
    :func:`attention_lab.interpret.cls_relevance`), one row per layer.

    ``[CLS]``'s relevance to itself (the residual path keeps most of it) is left out of the
    picture so that the colours show the text; the title says how much it keeps.
    """
    return plot_heatmap(
        relevance[:, 1:],
        maps.tokens[1:],
        [f"to layer {i}" for i in range(len(relevance))],
        ax=ax,
        title=f"attention rollout: relevance to [CLS] ([CLS] itself, left out: "
        f"{relevance[-1, 0]:.2f} after the last layer)",
    )


def plot_rollout_matrix(maps: AttentionMaps, rollout: np.ndarray, layer: int, ax=None):
    """The token × token rollout after ``layer``: row *i* is where position *i*'s content
    comes from among the input tokens."""
    maps.check(layer)
    return plot_heatmap(
        rollout[layer], maps.tokens, maps.tokens, ax=ax, title=f"attention rollout to layer {layer}"
    )


def plot_token_scores(words: list[str], scores, title: str | None = None, line_chars: int = 80):
    """``words`` written out in lines of about ``line_chars`` characters, each on a background
    coloured by its score: red to blue around 0 when some scores are negative (an
    attribution), white to blue otherwise (an attention weight, a relevance). Returns the
    figure."""
    import matplotlib.pyplot as plt
    from matplotlib import colors

    scores = np.asarray(scores, dtype=np.float64)
    if len(words) != len(scores) or not len(words):
        raise AttentionLabError(
            f"plot_token_scores needs one score per word, got {len(words)} words and "
            f"{len(scores)} scores"
        )
    largest = float(np.abs(scores).max()) or 1.0
    signed = bool((scores < 0).any())
    cmap = plt.get_cmap("RdBu" if signed else "Blues")
    norm = colors.Normalize(-1.4 * largest if signed else 0.0, 1.4 * largest)
    lines, current, width = [], [], 0
    for word, score in zip(words, scores, strict=True):
        if current and width + len(word) + 1 > line_chars:
            lines.append(current)
            current, width = [], 0
        current.append((word, score, width))
        width += len(word) + 1
    lines.append(current)
    fig, ax = plt.subplots(figsize=(0.105 * line_chars + 0.6, 0.3 * len(lines) + 0.7))
    for row, line in enumerate(lines):
        for word, score, column in line:
            ax.text(
                column,
                -row,
                word,
                family="monospace",
                fontsize=10,
                va="center",
                bbox={"facecolor": cmap(norm(score)), "edgecolor": "none", "pad": 1.5},
            )
    ax.set_xlim(-0.5, line_chars)
    ax.set_ylim(-len(lines) + 0.4, 0.6)
    ax.axis("off")
    fig.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=ax, fraction=0.025, pad=0.01)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    return fig


def plot_explanation_tests(results: dict, arrays: dict):
    """The "attention is not explanation" figure: rank correlations, permutations, adversarial
    attention and (when measured) BERT, from :func:`attention_lab.interpret.jain_wallace.run`.

    ``arrays`` holds the per-review values: ``tau_attention_gradient``, ``tau_attention_loo``,
    ``tau_gradient_loo``, ``max_attention``, ``permutation_median``, ``adversarial_jsd`` and,
    for BERT, ``bert_tau_rollout``, ``bert_tau_raw_cls_attention``. Returns the figure.
    """
    import matplotlib.pyplot as plt

    has_bert = "bert_tau_rollout" in arrays
    fig, axes = plt.subplots(1, 4 if has_bert else 3, figsize=(18 if has_bert else 13.5, 3.6))
    bins = np.linspace(-1, 1, 41)
    for key, label in (
        ("tau_attention_gradient", "attention vs gradient"),
        ("tau_attention_loo", "attention vs leave-one-out"),
        ("tau_gradient_loo", "gradient vs leave-one-out"),
    ):
        axes[0].hist(arrays[key], bins=bins, histtype="step", linewidth=1.5, label=label)
    axes[0].set(xlabel="Kendall τ per review", ylabel="reviews", title="BiLSTM: rank agreement")
    axes[0].legend(fontsize=8)
    axes[1].scatter(arrays["max_attention"], arrays["permutation_median"], s=6, alpha=0.5)
    axes[1].set(
        xlabel="largest attention weight of the review",
        ylabel="median |Δŷ| over permutations",
        title="BiLSTM: attention weights permuted",
    )
    axes[2].hist(arrays["adversarial_jsd"], bins=np.linspace(0, np.log(2), 36))
    axes[2].set(
        xlabel=f"JSD of the adversarial attention (|Δŷ| ≤ {results['adversarial']['epsilon']})",
        ylabel="reviews",
        title="BiLSTM: a different attention, same output",
    )
    if has_bert:
        for key, label in (
            ("bert_tau_rollout", "rollout vs |IG|"),
            ("bert_tau_raw_cls_attention", "raw [CLS] attention vs |IG|"),
        ):
            axes[3].hist(arrays[key], bins=bins, histtype="step", linewidth=1.5, label=label)
        axes[3].set(xlabel="Kendall τ per review", ylabel="reviews", title="BERT: rank agreement")
        axes[3].legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save ``fig`` to ``path`` (PNG, or another format matplotlib knows by the suffix) through
    :func:`attention_lab.io.atomic_file`; close it. A folder, or a name ending in ``/``, is
    refused with the fix, before anything is written."""
    import matplotlib.pyplot as plt

    try:
        path = check_figure_path(path)
        with atomic_file(path) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight", format=path.suffix[1:] or "png")
    finally:
        plt.close(fig)
    return path


def check_output_file(path: str | os.PathLike, example: str) -> Path:
    """``path`` as a :class:`~pathlib.Path`, or :class:`AttentionLabError` if it names a folder
    (an existing one, or a name ending in ``/``); ``example`` is the file name the message
    suggests inside it."""
    name = os.fspath(path)
    if name.endswith(("/", os.sep)) or Path(name).is_dir():
        raise AttentionLabError(
            f"{name} is a folder; pass a file name to write to, e.g. {Path(name) / example}"
        )
    return Path(name)


def check_figure_path(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a figure can be written there, else
    :class:`AttentionLabError` (a folder, or a suffix matplotlib cannot write)."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = check_output_file(path, "attention.png")
    suffix = path.suffix.lower()[1:]
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise AttentionLabError(
            f"cannot write a figure as .{suffix} ({path}); use .png or one of "
            f"{', '.join('.' + f for f in sorted(formats))}"
        )
    return path
