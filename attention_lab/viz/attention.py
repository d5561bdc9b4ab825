"""BERT's attention as heatmaps (chapter section 3, "Attention" and "Transformer").

Every encoder block returns its attention probabilities ``(heads, len, len)``: row *i* is how
much query token *i* draws from each key token, and sums to 1. Three views, with WordPiece
tokens as labels and the padding left out (its columns are exactly 0 and its rows are not
text):

- :func:`plot_head`: one head of one layer, token × token;
- :func:`plot_layer`: every head of one layer as a grid;
- :func:`plot_cls_across_layers`: the row of ``[CLS]`` (the token the pooled output and both
  classifier heads read), averaged over heads, for every layer.

As the chapter warns, attention weights show where a head looks, not why the model decides.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.viz.heatmap import plot_heatmap


@dataclass
class AttentionMaps:
    """``tokens`` (the WordPiece pieces, no padding) and ``weights`` ``(layers, heads, n, n)``."""

    tokens: list[str]
    weights: np.ndarray

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


def attention_maps(bert, tokenizer, text: str, max_len: int = 128, truncation: str = "first"):
    """Run ``bert`` (a :class:`~attention_lab.models.bert.BertModel`) on ``text``.

    Returns :class:`AttentionMaps` with the rows and columns of padding removed.
    """
    import tensorflow as tf

    encoded = tokenizer.encode_batch(
        [text], max_length=max_len, truncation=truncation, padding="max_length"
    )
    length = int(np.asarray(encoded["attention_mask"])[0].sum())
    inputs = {k: tf.constant(np.asarray(encoded[k])[:, :length]) for k in encoded}
    outputs = bert(inputs, training=False, output_attentions=True)
    weights = np.stack([np.asarray(a)[0] for a in outputs["attentions"]])  # (L, A, n, n)
    ids = np.asarray(encoded["input_ids"])[0, :length]
    return AttentionMaps(tokenizer.convert_ids_to_tokens(ids), weights)


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


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save ``fig`` as PNG through a temporary file and a rename; close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix or '.png'}")
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)
    return path
