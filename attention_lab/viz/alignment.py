"""The alignment of an encoder-decoder with attention as a heatmap (Bahdanau et al., 2015,
figure 3; chapter section 3, "Attention").

Row *t* is the attention of output step *t* over the source characters and sums to 1. For
dates, the digits of the ISO year should light up the year in the source, the month digits
the month's name or number, and so on. As the chapter warns, attention weights show where
the decoder looks, not why it writes what it writes.
"""

from __future__ import annotations

from attention_lab.errors import AttentionLabError
from attention_lab.viz.heatmap import plot_heatmap


def plot_alignment(translation, ax=None):
    """Heatmap of ``translation.alignment``: source characters across, output tokens down.

    ``translation`` is a :class:`attention_lab.models.seq2seq.Translation` from a model with
    attention; spaces of the source are drawn as ``␣``. Returns ``(figure, axes)``.
    """
    if translation.alignment is None:
        raise AttentionLabError(
            "this translation has no alignment: the model was trained without attention"
        )
    return plot_heatmap(
        translation.alignment,
        ["␣" if token == " " else token for token in translation.source_tokens],
        translation.target_tokens,
        ax=ax,
        title=f"{translation.source!r} → {translation.text!r}",
    )
