"""Parity holds however the CPU's kernels round, on real IMDb reviews up to 512 tokens.

oneDNN promises identical results only on the same CPU type and thread count, so the report
must pass for any correct rounding. Each setting below runs in a fresh process (oneDNN and
the thread pools are configured once, at start-up) and checks eager and XLA there:

- ``TF_ENABLE_ONEDNN_OPTS`` 1 or 0: oneDNN's kernels or Eigen's;
- ``ONEDNN_MAX_CPU_ISA=AVX2`` (with XLA's ``--xla_cpu_max_isa=AVX2``) or the CPU's full ISA;
- 1 or 2 intra-op threads (TensorFlow and PyTorch alike), which changes how sums are split.

Four processes cover every pair of values of the three settings (an orthogonal array); each
compares eager and XLA with one reference run, which keeps the cost to about two minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

# (TF_ENABLE_ONEDNN_OPTS, max ISA or None for the CPU's own, intra-op threads)
SETTINGS = [("1", None, 2), ("0", None, 1), ("1", "AVX2", 1), ("0", "AVX2", 2)]

WORKER = """
import json, sys
model, texts, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
import tensorflow as tf
import torch
tf.config.threading.set_intra_op_parallelism_threads(threads)
torch.set_num_threads(threads)
from attention_lab.parity import read_texts, run_parities
reports = run_parities(model, texts=read_texts(texts), max_length=512, xla=(False, True))
print("RESULTS " + json.dumps([report.to_dict() for report in reports]))
"""


def imdb_texts(archive, path):
    """Two real test reviews: one far over 512 tokens, one short (so most of its row is padding)."""
    from attention_lab.data.imdb import read_imdb

    reviews = [t.decode("utf-8").replace("\t", " ") for t in read_imdb("test", archive).texts]
    chosen = [
        next(r for r in reviews if len(r) > 4000),  # about 1,000 tokens: truncated to 512
        next(r for r in reviews if len(r) < 400),
    ]
    path.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def review_file(imdb_archive, tmp_path_factory):
    return imdb_texts(imdb_archive, tmp_path_factory.mktemp("imdb") / "reviews.txt")


def _run(model, texts, onednn, isa, threads):
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa is not None:
        env["ONEDNN_MAX_CPU_ISA"] = isa
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_cpu_max_isa={isa}".strip()
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(model), str(texts), str(threads)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[0].removeprefix("RESULTS "))


@pytest.mark.slow
def test_parity_holds_whatever_the_kernels(minilm_dir, review_file):
    fingerprints = set()
    for onednn, isa, threads in SETTINGS:
        setting = f"TF_ENABLE_ONEDNN_OPTS={onednn} ISA={isa or 'native'} threads={threads}"
        for report in _run(minilm_dir, review_file, onednn, isa, threads):
            mode = "xla" if report["xla"] else "eager"
            assert report["passed"], (setting, mode, report["rows"])
            assert report["batch_shape"] == [2, 512] and report["truncated"] == 1
            assert report["padded_tokens"] > 0 and report["max_padded_key_weight"] <= 1e-12
            fingerprints.add(tuple(row["max_abs_diff"] for row in report["rows"]))
    # The settings really change the rounding: the differences are not all the same numbers.
    assert len(fingerprints) > 1
