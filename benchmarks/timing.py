"""Alternating timer: every contender runs once per round, so load spikes hit them all.

Under a shared machine the absolute numbers drift with other people's jobs; timing the
contenders in turn (rotating who goes first each round) spreads that drift evenly, so the
*ratios* measured in one run stay fair. Each contender is warmed up first (tracing, XLA
compilation, oneDNN primitive caches), then timed ``repeats`` times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Timing:
    """Seconds per call of one contender on one measurement, with ``items`` per call."""

    name: str
    items: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return float(np.median(self.seconds))

    @property
    def throughput(self) -> float:
        """Items (sequences or examples) per second at the median call time."""
        return self.items / self.median_s

    @property
    def throughput_range(self) -> tuple[float, float]:
        """Throughput at the 75th and 25th percentile call times (the interquartile range)."""
        q1, q3 = np.percentile(self.seconds, [25, 75])
        return self.items / float(q3), self.items / float(q1)

    def to_dict(self) -> dict:
        low, high = self.throughput_range
        return {
            "median_s": self.median_s,
            "min_s": float(min(self.seconds)),
            "max_s": float(max(self.seconds)),
            "samples_s": [float(s) for s in self.seconds],
            "items_per_call": self.items,
            "throughput_median": self.throughput,
            "throughput_iqr": [low, high],
        }


def alternate(
    contenders: dict[str, Callable[[], object]],
    items: int,
    warmup: int,
    repeats: int,
    log: Callable[[str], None] = print,
) -> dict[str, Timing]:
    """Time each zero-argument callable ``repeats`` times, round-robin, after ``warmup`` calls.

    A callable must return only once its work is finished (results on the host).
    """
    names = list(contenders)
    for name in names:
        started = time.perf_counter()
        for _ in range(warmup):
            contenders[name]()
        log(f"  warm-up {name}: {time.perf_counter() - started:.1f} s")
    timings = {name: Timing(name, items) for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            contenders[name]()
            timings[name].seconds.append(time.perf_counter() - started)
    return timings
