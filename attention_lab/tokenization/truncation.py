"""Truncation: how many tokens of each text to keep, and the windows of a long text.

Chapter section 4 names the three strategies for a pair of texts; ``max_length`` counts the
special tokens, so the texts share ``room = max_length - 3`` (``- 2`` for one text):

- ``"longest_first"`` (or ``True``): the shorter text stays whole if it fills at most half the
  room, else each text keeps half (the longer one the odd token; the first text counts as the
  shorter on a tie); for one text it keeps the first tokens, as ``"first"`` does;
- ``"only_first"`` / ``"only_second"``: only that text is cut, and it must be long enough;
- ``"last"``: keep the last tokens of a single text (the chapter's exercise);
- ``"head+tail"``: keep the first ``head_tokens`` and the last tokens of a single text, the best
  strategy for long IMDb reviews in Sun et al. (2019), "How to Fine-Tune BERT for Text
  Classification" (they keep 128 + 382 of 510; the default head is a quarter of the room).

The first three are Hugging Face's rules (``tokenizers``' ``truncate_encodings``), and so are
the **overflow windows** of :func:`windows`: a text of ``n`` tokens cut to ``keep`` gives the
kept window first, then further windows that each start ``stride`` tokens before the end of the
one before, until the text is covered: a whole review read by a model of 150 positions, in
overlapping pieces. ``side="left"`` cuts from the start instead (``truncation_side``).
"""

from __future__ import annotations

from attention_lab.errors import AttentionLabError

PAIR_STRATEGIES = ("longest_first", "only_first", "only_second")
SINGLE_STRATEGIES = ("first", "last", "head+tail")
SIDES = ("right", "left")


def resolve_strategy(truncation, pair: bool) -> str | None:
    """The strategy's name (``"first"`` becomes ``"longest_first"``), or ``None``: no cut."""
    if truncation is True:
        return "longest_first"
    if truncation is False or truncation is None or truncation == "do_not_truncate":
        return None
    allowed = PAIR_STRATEGIES + ("first",) if pair else PAIR_STRATEGIES + SINGLE_STRATEGIES
    if truncation not in allowed:
        raise AttentionLabError(
            f"unknown truncation {truncation!r}{' for a pair of texts' if pair else ''}; choose "
            f"one of {', '.join(allowed)} (or True / False)"
        )
    return "longest_first" if truncation == "first" else truncation


def check_side(side: str, name: str) -> str:
    if side not in SIDES:
        raise AttentionLabError(f"{name} should be 'right' or 'left', not {side!r}")
    return side


def keep_lengths(len_a: int, len_b: int | None, room: int, strategy: str) -> tuple[int, int]:
    """Tokens to keep of the first and the second text (``len_b=None``: a single text)."""
    b = 0 if len_b is None else len_b
    if room == 0:  # only the special tokens fit, whatever the strategy
        return 0, 0
    excess = len_a + b - room
    if excess <= 0:
        return len_a, b
    if strategy == "only_second" and len_b is None:
        raise AttentionLabError(
            "truncation 'only_second' needs a text_pair to cut; use 'only_first' or 'first'"
        )
    if strategy in ("longest_first", "last"):
        if len_b is None:
            return room, 0
        short = min(len_a, b)
        keep_short, keep_long = short, room - short
        if short > room - short:
            keep_short = room // 2
            keep_long = keep_short + room % 2
        return (keep_short, keep_long) if len_a <= b else (keep_long, keep_short)
    index = 0 if strategy == "only_first" else 1
    target = (len_a, b)[index]
    if target <= excess:
        raise AttentionLabError(
            f"truncation {strategy!r} cannot fit max_length: the {('first', 'second')[index]} "
            f"text has {target} tokens but {excess} must go; raise max_length or use "
            "'longest_first'"
        )
    return (len_a - excess, b) if index == 0 else (len_a, b - excess)


def windows(length: int, keep: int, stride: int = 0, side: str = "right") -> list[slice]:
    """The kept window of a text of ``length`` tokens cut to ``keep``, then the overflowing ones.

    >>> windows(6, 3, stride=1)
    [slice(0, 3, None), slice(2, 5, None), slice(4, 6, None)]
    """
    if keep >= length:
        return [slice(0, length)]
    if keep == 0:  # nothing kept: the whole text overflows
        return [slice(0, 0), slice(0, length)]
    if stride >= keep:
        raise AttentionLabError(
            f"stride={stride} must be smaller than the {keep} tokens kept of a text; lower "
            "stride or raise max_length"
        )
    step, cuts = keep - stride, []
    if side == "right":
        for start in range(0, length, step):
            cuts.append(slice(start, min(start + keep, length)))
            if start + keep >= length:
                break
    else:
        for stop in range(length, 0, -step):
            cuts.append(slice(max(stop - keep, 0), stop))
            if stop <= keep:
                break
    return cuts


def head_and_tail(length: int, room: int, head_tokens: int | None) -> tuple[slice, slice]:
    """The two windows of ``"head+tail"``: ``head_tokens`` (default a quarter of the room) and
    the last ``room - head`` tokens."""
    head = room // 4 if head_tokens is None else head_tokens
    return slice(0, head), slice(length - (room - head), length)
