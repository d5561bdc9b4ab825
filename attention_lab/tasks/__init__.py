"""Seeded synthetic sequence-to-sequence tasks that need no download (chapter section 3).

``dates`` turns human-readable dates into ISO dates (readable alignments); ``reverse``
reverses letter strings of length 5–60 (long inputs, where a fixed-size summary breaks down).
"""

from __future__ import annotations

from attention_lab.errors import AttentionLabError
from attention_lab.tasks.dates import DATES
from attention_lab.tasks.reverse import REVERSE
from attention_lab.tasks.task import Seq2SeqTask

TASKS: dict[str, Seq2SeqTask] = {task.name: task for task in (DATES, REVERSE)}


def get_task(name: str) -> Seq2SeqTask:
    """The task called ``name``; an :class:`AttentionLabError` listing the choices otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise AttentionLabError(
            f"unknown seq2seq task {name!r}; choose one of {', '.join(sorted(TASKS))}"
        ) from None


__all__ = ["DATES", "REVERSE", "TASKS", "Seq2SeqTask", "get_task"]
