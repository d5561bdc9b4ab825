"""Entry point of ``attention-lab`` (and ``python -m attention_lab``).

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function taking the
parsed arguments and returning an exit status. Errors on bad input (``AttentionLabError``)
are printed as one line and exit with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import re
import sys

from attention_lab.cli.startup import import_keras
from attention_lab.errors import AttentionLabError, describe_os_error, shorten_words

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


class _OneLineParser(argparse.ArgumentParser):
    """argparse's refusals as one line (``attention-lab CMD: error: ...``, exit 2), without
    the usage block: the same form as every other refusal."""

    def error(self, message: str):
        message = shorten_words(" ".join(message.split()))
        # "argument --limit: must be at least 1" -> "--limit must be at least 1"
        message = re.sub(r"^argument ([^:/ ]+)(/[^: ]+)?: ", r"\1 ", message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# The modules that define run folders' records: a run is never replaced, nor joined by a file.
# seq2seq runs on TensorFlow only, and is imported (to register its record) only there.
RUN_FORMATS = {
    "attention_lab.training.run_folder": None,
    "attention_lab.training.seq2seq": "tensorflow",
}


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
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


# What Ctrl-C leaves: where rerunning continues the work, the message says so.
RESUMES = {
    "finetune": "run the same command again to resume from the last saved step",
    "glove train": "run the same command with --resume to continue from the last epoch",
    "pretrain": "run the same command again to resume from its last backup",
}


def _error(command: str, message: str) -> int:
    message = shorten_words(" ".join(str(message).split()))  # one line, no 100 kB inputs
    print(f"attention-lab {command}: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    from attention_lab.io import set_command

    args = build_parser().parse_args(argv)
    import_keras()
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    for module, only_on in RUN_FORMATS.items():  # they register their files with attention_lab.io
        if only_on in (None, backend):
            importlib.import_module(module)
    command = " ".join(filter(None, [args.command, getattr(args, "action", None)]))
    set_command(f"attention-lab {command}")
    try:
        return int(args.func(args) or 0)
    except AttentionLabError as err:
        return _error(args.command, str(err))
    except OSError as err:  # a full disk, a read-only folder, /proc: one line, files intact
        return _error(args.command, describe_os_error(err))
    except KeyboardInterrupt:
        then = RESUMES.get(command, "nothing half-written was kept; run the command again")
        print(f"attention-lab {args.command}: interrupted; {then}", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``attention-lab`` command (and ``python -m attention_lab``): :func:`main`, then the
    process ends at once. Everything is written and closed by then; what Python would still do
    is tear TensorFlow's objects down one by one, which takes about a second
    (``docs/benchmarks.md``, "Time to the first answer")."""
    status = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    entry()
