"""Exact-match accuracy against input length, one line per model: how the encoder-decoder
without attention falls as inputs grow while the one with attention holds up (chapter
section 3, "Encoder-decoder networks" and "Attention"; Bahdanau et al., 2015, figure 2)."""

from __future__ import annotations


def plot_accuracy_by_length(results: dict[str, dict], ax=None):
    """One line per entry of ``results`` (label → a ``seq2seq train`` metadata dict).

    Each point is a length bucket, drawn at the middle of its range of lengths. Returns
    ``(figure, axes)``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, metadata in results.items():
        rows = metadata["exact_match_by_length"]
        ax.plot(
            [(row["first"] + row["last"]) / 2 for row in rows],
            [100 * row["exact_match"] for row in rows],
            marker="o",
            label=label,
        )
    ax.set_xlabel("input length (characters)")
    ax.set_ylabel("exact match on held-out inputs (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure, ax
