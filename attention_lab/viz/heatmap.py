"""A labelled token × token heatmap: the one picture behind every attention plot.

Used for the encoder-decoder's alignments (target × source) and for BERT's attention heads
(query × key). The figures are returned, never shown: save them (``fig.savefig``) or let a
notebook display them. On a machine with no display matplotlib falls back to its Agg
backend by itself.
"""

from __future__ import annotations

import numpy as np

from attention_lab.errors import AttentionLabError


def plot_heatmap(matrix, x_labels, y_labels, ax=None, title=None):
    """Draw ``matrix`` (rows ↔ ``y_labels``, columns ↔ ``x_labels``), every row and column
    labelled, a colour bar for the values.

    Args:
        matrix: 2-D array ``(len(y_labels), len(x_labels))``, e.g. attention weights in [0, 1].
        x_labels: one label per column, written along the top.
        y_labels: one label per row, written down the left side.
        ax: the matplotlib axes to draw on; a new figure sized to the matrix when None.
        title: optional title.

    Returns:
        ``(figure, axes)``.
    """
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise AttentionLabError(f"a heatmap needs a 2-D matrix, got shape {matrix.shape}")
    if matrix.shape != (len(y_labels), len(x_labels)):
        raise AttentionLabError(
            f"matrix of shape {matrix.shape} needs {matrix.shape[0]} row labels and "
            f"{matrix.shape[1]} column labels, got {len(y_labels)} and {len(x_labels)}"
        )
    if ax is None:
        rows, cols = matrix.shape
        _, ax = plt.subplots(figsize=(max(3.0, 0.3 * cols + 1.5), max(2.5, 0.3 * rows + 1.0)))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(x_labels)), [str(label) for label in x_labels], rotation=90)
    ax.set_yticks(range(len(y_labels)), [str(label) for label in y_labels])
    ax.xaxis.tick_top()
    if title:
        ax.set_title(title)
    return ax.figure, ax
