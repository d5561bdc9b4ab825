"""Command-line options that several ``attention-lab`` commands share."""

from __future__ import annotations

import argparse
import math

from attention_lab.runtime import PRECISION_CHOICES, XLA_CHOICES


def add_plan_options(parser, xla_default: str = "auto", xla_help: str | None = None) -> None:
    """``--precision`` and ``--xla``, read by :func:`attention_lab.runtime.choose_plan`."""
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="auto: bfloat16 on a GPU; on a CPU, bfloat16 where a short timed probe of the "
        "matmuls (kept per machine) measured it at least 1.1x float32's speed, else float32",
    )
    parser.add_argument(
        "--xla",
        choices=XLA_CHOICES,
        default=xla_default,
        help=xla_help or "compile with XLA (auto: on a GPU; on a CPU oneDNN alone is faster)",
    )


def add_overwrite_option(parser) -> None:
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output folder (only one attention_lab wrote)",
    )


# Types for argparse that check a number at the boundary, before anything is read or written:
# a refused option is one line (``argument --warmup: must be in [0, 1), got 2``) and exit 2.


def at_least(minimum: int):
    """An ``int`` option of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def finite(low: float | None = None, high: float | None = None, above: bool = False):
    """A finite ``float`` option, at least ``low`` (greater than it with ``above``) and below
    ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        low_ok = low is None or (value > low if above else value >= low)
        if not low_ok or (high is not None and value >= high):
            lower = "" if low is None else ("(" if above else "[") + f"{low:g}"
            upper = "" if high is None else f"{high:g})"
            if high is None and above and low == 0:
                wanted = "positive"
            elif high is None:
                wanted = f"{'>' if above else '>='} {low:g}"
            elif low is None:
                wanted = f"< {high:g}"
            else:
                wanted = f"in {lower}, {upper}"
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    parse.__name__ = "finite number"
    return parse
