"""Entry point of ``attention-lab`` (and ``python -m attention_lab``).

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function taking the
parsed arguments and returning an exit status. Errors on bad input (``AttentionLabError``)
are printed as one line and exit with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from attention_lab.cli.startup import import_keras
from attention_lab.errors import AttentionLabError

# Sub-command modules, in the order of the chapter.
COMMANDS = [
    "convert",
    "parity",
    "demo",
    "finetune",
    "evaluate",
    "predict",
    "fill_mask",
    "pretrain",
    "export",
    "attention",
    "imdb",
    "glove",
    "seq2seq",
    "tokenize",
    "train_tokenizer",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attention-lab",
        description="From-scratch Transformers following 'Transfer Learning with BERT'.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"attention_lab.cli.{name}").register(subparsers)
    _plain_text(parser)
    return parser


def _plain_text(parser: argparse.ArgumentParser) -> None:
    """Descriptions taken from docstrings lose reStructuredText's markup (``code`` -> code)."""
    if parser.description:
        parser.description = parser.description.replace("``", "")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _plain_text(child)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import_keras()
    try:
        return int(args.func(args) or 0)
    except AttentionLabError as err:
        message = " ".join(str(err).split())  # one line, whatever the message holds
        print(f"attention-lab {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"attention-lab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
