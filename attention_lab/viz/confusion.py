"""The confusion matrix of a classifier: rows are true labels, columns predicted labels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.viz.attention import save_figure


def plot_confusion_matrix(matrix, label_names: list[str], ax=None, title: str | None = None):
    """Draw ``matrix`` (counts) shaded by each cell's share of all examples, counts written in.

    Args:
        matrix: ``(n, n)`` counts; ``matrix[i, j]`` examples of true label ``i`` predicted ``j``.
        label_names: ``n`` names, e.g. ``["negative", "positive"]``.
        ax: the matplotlib axes to draw on; a new figure when None.
        title: optional title.

    Returns:
        ``(figure, axes)``.
    """
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    n = len(label_names)
    if matrix.shape != (n, n):
        raise AttentionLabError(
            f"a confusion matrix for {n} labels {label_names} must be {n} x {n}, got shape "
            f"{matrix.shape}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * n + 2.2, 1.4 * n + 1.2))
    share = matrix / max(matrix.sum(), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=max(share.max(), 1e-9))
    for (row, col), count in np.ndenumerate(matrix):
        dark = share[row, col] > 0.6 * share.max()
        ax.text(
            col,
            row,
            f"{count:,}\n{share[row, col]:.1%}",
            ha="center",
            va="center",
            color="white" if dark else "black",
        )
    ax.set_xticks(range(n), [f"predicted {name}" for name in label_names])
    ax.set_yticks(range(n), [f"true {name}" for name in label_names])
    if title:
        ax.set_title(title)
    return ax.figure, ax


def save_confusion_matrix(
    matrix, label_names: list[str], path: str | os.PathLike, title: str | None = None
) -> Path:
    """:func:`plot_confusion_matrix` saved as a PNG at ``path`` (written atomically)."""
    fig, _ = plot_confusion_matrix(matrix, label_names, title=title)
    fig.tight_layout()
    return save_figure(fig, path)
