"""Execute tutorials into their committed ``.ipynb`` twins.

    .venv/bin/python scripts/execute_tutorials.py [--mode full|fast] [NN ...]

Each ``tutorials/NN_*.py`` (jupytext ``py:percent``) runs cell by cell in a fresh kernel with
``ATTENTION_LAB_TUTORIAL_MODE`` set, and the executed notebook replaces ``NN_*.ipynb``. The
lines TensorFlow's C++ runtime writes to stderr while it loads (before its logging is set up,
so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them) are removed from the saved outputs; every
other output, warnings included, is kept. Without ``NN`` arguments, every tutorial runs.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import jupytext
import nbclient

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
TF_STARTUP_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IWE]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*)$"
)


def strip_tf_startup_lines(notebook) -> None:
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                lines = output.text.splitlines(keepends=True)
                output.text = "".join(x for x in lines if not TF_STARTUP_LINE.match(x.rstrip()))
                if not output.text.strip():
                    continue
            kept.append(output)
        cell.outputs = kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("numbers", nargs="*", help="tutorial numbers, e.g. 01 06")
    parser.add_argument("--mode", choices=("full", "fast"), default="full")
    args = parser.parse_args()
    sources = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
    if args.numbers:
        sources = [s for s in sources if s.name[:2] in args.numbers]
        if len(sources) != len(set(args.numbers)):
            parser.error(f"no tutorial for some of {args.numbers} in {TUTORIALS}")
    os.environ["ATTENTION_LAB_TUTORIAL_MODE"] = args.mode
    for source in sources:
        started = time.perf_counter()
        notebook = jupytext.read(source)
        nbclient.NotebookClient(
            notebook,
            timeout=3600,
            kernel_name="python3",
            resources={"metadata": {"path": str(TUTORIALS)}},
        ).execute()
        strip_tf_startup_lines(notebook)
        jupytext.write(notebook, source.with_suffix(".ipynb"))
        print(f"{source.stem}: {args.mode} mode, {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
