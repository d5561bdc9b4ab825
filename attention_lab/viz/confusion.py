"""The confusion matrix of a classifier as a labelled heatmap with counts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from attention_lab.viz.attention import save_figure
from attention_lab.viz.heatmap import plot_heatmap


def save_confusion_matrix(
    matrix, label_names: list[str], path: str | os.PathLike, title: str | None = None
) -> Path:
    """Rows: true label; columns: predicted label; cells are shares of all examples."""
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    plot_heatmap(
        matrix / max(matrix.sum(), 1),
        [f"predicted {n}" for n in label_names],
        [f"true {n}" for n in label_names],
        ax=ax,
        title=f"{title}\ncounts {matrix.tolist()}" if title else f"counts {matrix.tolist()}",
    )
    return save_figure(fig, path)
