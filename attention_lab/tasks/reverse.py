"""Reverse a string of 5–60 lowercase letters (``"abcde"`` → ``"edcba"``).

Every output character depends on one input character far from it, and a 60-letter input
holds about 280 bits: more than a fixed-size summary vector carries reliably, which is where
the encoder-decoder without attention breaks down and the attention model does not.
"""

from __future__ import annotations

import random
import string

from attention_lab.tasks.task import Seq2SeqTask

MIN_LEN, MAX_LEN = 5, 60


def generate(rng: random.Random) -> tuple[str, str]:
    """One ``(letters, reversed letters)`` pair, its length uniform in 5..60."""
    length = rng.randint(MIN_LEN, MAX_LEN)
    source = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
    return source, source[::-1]


REVERSE = Seq2SeqTask(
    name="reverse",
    description=f"reverse {MIN_LEN}-{MAX_LEN} lowercase letters",
    source_alphabet=string.ascii_lowercase,
    target_alphabet=string.ascii_lowercase,
    max_source_len=MAX_LEN,
    max_target_len=MAX_LEN,
    generate=generate,
)
