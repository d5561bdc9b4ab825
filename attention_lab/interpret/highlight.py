"""A text highlighted word by word, as HTML: attributions, relevances or attention weights on
the review as it was written (words and their offsets from :mod:`attention_lab.interpret.words`).

Scores with both signs (attributions) are coloured blue for positive, red for negative,
the strongest word at full colour; scores that are never negative (attention, rollout
relevance) are shades of blue. Each word's score is in its tooltip. The PNG counterpart is
:func:`attention_lab.viz.attention.plot_token_scores`.
"""

from __future__ import annotations

import html

import numpy as np

from attention_lab.errors import AttentionLabError


def _background(score: float, largest: float, signed: bool) -> str:
    strength = min(abs(score) / largest, 1.0)
    red, green, blue = (45, 108, 223) if score >= 0 or not signed else (214, 60, 50)
    return f"rgba({red}, {green}, {blue}, {0.85 * strength:.3f})"


def highlight_html(text: str, words, scores, title: str | None = None) -> str:
    """An HTML fragment: ``text`` with each of ``words`` (:class:`~attention_lab.interpret.Word`)
    on a background coloured by its score; the text between words is kept as it is, and text
    after the last word (cut off by the model's length) is greyed out."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(words) != len(scores):
        raise AttentionLabError(f"{len(words)} words but {len(scores)} scores; pass one per word")
    largest = float(np.abs(scores).max(initial=0.0)) or 1.0
    signed = bool((scores < 0).any())
    parts, position = [], 0
    for word, score in zip(words, scores, strict=True):
        parts.append(html.escape(text[position : word.start]))
        tip = html.escape(f"{word.text}: {score:+.4f}", quote=True)
        parts.append(
            f'<span title="{tip}" style="background: {_background(score, largest, signed)}; '
            f'border-radius: 3px; padding: 0 1px">{html.escape(text[word.start : word.end])}</span>'
        )
        position = word.end
    rest = text[position:]
    if rest.strip():  # cut off by max_len: the model never read it
        parts.append(
            '<span title="not read: after the last token the model saw" style="color: #999">'
            f"{html.escape(rest)}</span>"
        )
    heading = f"<div style='font-weight: bold; margin-bottom: 4px'>{html.escape(title)}</div>"
    return (
        "<div style='font-family: system-ui, sans-serif; line-height: 1.7; max-width: 60em'>"
        f"{heading if title else ''}{''.join(parts)}</div>"
    )


def show_highlight(text: str, words, scores, title: str | None = None):
    """:func:`highlight_html` for a notebook (``IPython.display.HTML``)."""
    from IPython.display import HTML

    return HTML(highlight_html(text, words, scores, title))


def write_highlight(path, text: str, words, scores, title: str):
    """:func:`highlight_html` as a whole HTML page at ``path`` (written atomically)."""
    from attention_lab.io import atomic_write_text
    from attention_lab.viz.attention import check_output_file

    path = check_output_file(path, "attributions.html")
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
        f"{html.escape(title)}</title></head><body>{highlight_html(text, words, scores, title)}"
        "</body></html>\n"
    )
    atomic_write_text(path, page)
    return path
