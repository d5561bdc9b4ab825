"""Command-line options that several ``attention-lab`` commands share."""

from __future__ import annotations

from attention_lab.runtime import PRECISION_CHOICES, XLA_CHOICES


def add_plan_options(parser, xla_default: str = "auto", xla_help: str | None = None) -> None:
    """``--precision`` and ``--xla``, read by :func:`attention_lab.runtime.choose_plan`."""
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="auto: bfloat16 where the hardware computes it natively, else float32",
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
