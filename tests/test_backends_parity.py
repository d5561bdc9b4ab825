"""The parity report on JAX and PyTorch, with TensorFlow out of reach: the same pass rule.

Keras reads ``KERAS_BACKEND`` when it is first imported, so each backend runs in its own
Python process: this file run as a script, in which ``import tensorflow`` fails as it does on
a machine without TensorFlow. The processes of both backends run side by side. Each one runs
``run_parities`` (ours eager and compiled: ``jax.jit`` under JAX, ``torch.compile`` under
PyTorch) on checkpoints that ``transformers`` made, measures ours in bfloat16, checks that a
weight changed in a folder written by ``save_bert`` on that backend fails the report, and
prints ``--json`` through the command line; it also runs the pre-training heads' forward
parity and the gradient report (``tests/test_parity_gradients.py``) of both heads' losses,
with the decoder untied on purpose once; this process reads their reports and applies the
same checks as ``tests/test_parity.py``.

The real all-MiniLM-L6-v2 runs on both backends in the slow tests (PyTorch eager only:
``torch.compile`` of the whole 6-layer model costs about a CPU minute here; it passed, see
docs/results.md, "Parity on every backend").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

BACKENDS = ("jax", "torch")
TIMEOUT = 600
EAGER, BOTH, COMPILED = (False,), (False, True), (True,)
# Which checkpoints run eager and compiled on each backend. Every backend runs both modes on
# the classifier ("head": pooled output and logits too); torch.compile costs about 25 CPU
# seconds per model here, so PyTorch compiles that one only.
TINY_MODES = {
    "jax": {"plain": BOTH, "head": BOTH, "odd": COMPILED},
    "torch": {"plain": EAGER, "head": BOTH, "odd": EAGER},
}
MINILM_MODES = {"jax": BOTH, "torch": EAGER}


def _worker(backend_name: str, checkpoints: Path, out: Path, minilm: str | None) -> None:
    """Runs in the other backend's process; writes ``{backend}.json`` into ``out``."""
    import contextlib
    import io

    from attention_lab import backend
    from attention_lab.cli.main import main
    from attention_lab.convert import load_bert, save_bert
    from attention_lab.parity import run_parities, run_parity

    assert backend.name() == backend_name
    results = {}
    if minilm is not None:
        reports = run_parities(minilm, xla=MINILM_MODES[backend_name])
        results["minilm"] = [r.to_dict() for r in reports]
        results["minilm_table"] = reports[-1].format_table()
    else:
        for name, modes in TINY_MODES[backend_name].items():
            results[name] = [r.to_dict() for r in run_parities(checkpoints / name, xla=modes)]
        cheap = backend_name == "jax"  # jax.jit is cheaper than JAX's op-by-op eager
        results["bfloat16"] = run_parity(
            checkpoints / "head", xla=cheap, precision="bfloat16"
        ).to_dict()
        model = load_bert(checkpoints / "plain").model
        beta = model.encoder_layers[0].output_LayerNorm.beta
        beta.assign(beta.numpy() + 0.01)
        folder = save_bert(model, out / "changed")
        results["changed"] = run_parity(checkpoints / "plain", ours=folder, xla=cheap).to_dict()
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            status = main(["parity", str(checkpoints / "plain"), "--json"] + ["--xla"] * cheap)
        results["cli"] = {"status": status, "summary": json.loads(printed.getvalue())}
        results.update(_pretraining(checkpoints, cheap))
    (out / f"{backend_name}.json").write_text(json.dumps(results))


def _fit_the_stream(vocab: Path) -> dict:
    """Two epochs of ``fit`` on :class:`PreTrainingBatches` through ``stream``: the PyDataset
    itself on this backend, sentence pairs and masks drawn anew each epoch."""
    import keras
    import numpy as np
    from tiny_runs import WORDS, tiny_config

    from attention_lab.models.bert_pretraining import BertForPreTraining
    from attention_lab.tokenization import BertTokenizer
    from attention_lab.training.pretraining import PreTrainingBatches, masked_lm_loss, stream

    rng = np.random.default_rng(0)
    documents = [[" ".join(rng.choice(WORDS, 5)) for _ in range(4)] for _ in range(12)]
    batches = PreTrainingBatches(
        documents, BertTokenizer.from_pretrained(vocab), batch_size=12, max_length=16
    )
    data = stream(batches)
    model = BertForPreTraining(tiny_config())
    model.build()
    nsp = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer="adam",
        loss={"prediction_logits": masked_lm_loss, "seq_relationship_logits": nsp},
    )
    history = model.fit(data, epochs=2, verbose=0)
    return {
        "type": type(data).__name__,
        "epoch": batches.epoch,
        "losses": [float(x) for x in history.history["loss"]],
    }


def _pretraining(checkpoints: Path, cheap: bool) -> dict:
    """The pre-training heads' forward parity, and the gradients of both heads' losses (the
    classifier's with its AdamW step), also with the decoder untied on purpose."""
    from keras import ops

    from attention_lab.models.bert_pretraining import BertLMPredictionHead
    from attention_lab.parity import run_parity
    from attention_lab.parity.gradients import run_gradient_parity

    results = {
        "stream": _fit_the_stream(checkpoints / "plain-vocab"),
        "heads": run_parity(checkpoints / "pretraining", xla=cheap).to_dict(),
        "gradients": run_gradient_parity(checkpoints / "pretraining").to_dict(),
        "classifier_gradients": run_gradient_parity(checkpoints / "head").to_dict(),
    }
    tied = BertLMPredictionHead.call
    BertLMPredictionHead.call = lambda self, h, table: tied(self, h, ops.stop_gradient(table))
    try:
        results["untied"] = run_gradient_parity(checkpoints / "pretraining").to_dict()
    finally:
        BertLMPredictionHead.call = tied
    return results


def _run_backends(checkpoints: Path, out: Path, minilm: Path | None = None) -> dict:
    """Both backends' processes, side by side; ``{backend: (status, log, results)}``."""
    processes = {}
    for name in BACKENDS:
        folder = out / name
        folder.mkdir()
        command = [sys.executable, __file__, name, str(checkpoints), str(folder)]
        processes[name] = subprocess.Popen(
            command + ([str(minilm)] if minilm else []),
            env={**os.environ, "KERAS_BACKEND": name},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    runs = {}
    for name, process in processes.items():
        log, _ = process.communicate(timeout=TIMEOUT)
        result = out / name / f"{name}.json"
        runs[name] = (
            process.returncode,
            log,
            json.loads(result.read_text()) if result.exists() else None,
        )
    return runs


def _results(runs: dict, backend_name: str) -> dict:
    status, log, results = runs[backend_name]
    assert status == 0, f"the {backend_name} process failed:\n{log[-4000:]}"
    return results


def _assert_passed(summary: dict, backend_name: str, layers: int, xla: bool) -> None:
    """``tests/test_parity.py``'s checks, on a report another backend wrote."""
    from attention_lab.parity.report import ATTENTION_TOLERANCE, CRITERIA, HIDDEN_TOLERANCE

    assert summary["backend"] == backend_name and summary["xla"] is xla
    assert summary["passed"], json.dumps(summary["rows"], indent=1)
    assert len(summary["max_abs_diff"]["hidden_states"]) == layers
    assert summary["max_abs_diff"]["last_hidden_state"] <= HIDDEN_TOLERANCE
    assert summary["max_abs_diff"]["attentions"] <= ATTENTION_TOLERANCE
    assert summary["max_padded_key_weight"] <= 1e-12
    assert summary["precision"] == "float32"
    criteria = CRITERIA["float32"]
    for row in summary["rows"]:  # the rule of this process, row by row
        attention = row["name"].startswith("attentions[")
        limit = criteria.attention if attention else criteria.hidden
        assert row["tolerance"] == limit, row["name"]
        assert row["float64_limit"] == max(
            criteria.float64_factor * row["reference_vs_float64"], criteria.float64_floor
        )
        assert row["ours_vs_float64"] <= row["float64_limit"], row["name"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from hf_checkpoints import save_hf_checkpoint
    from tiny_runs import write_tiny_checkpoint

    root = tmp_path_factory.mktemp("checkpoints")
    write_tiny_checkpoint(root / "plain", seed=11)  # with a vocabulary: real text, a pair
    save_hf_checkpoint(root / "head", head=True, num_labels=2, seed=3)
    save_hf_checkpoint(root / "pretraining", head="BertForPreTraining", seed=6)
    odd = dict(hidden_size=36, num_attention_heads=3, num_hidden_layers=3, intermediate_size=60)
    save_hf_checkpoint(
        root / "odd", type_vocab_size=3, layer_norm_eps=1e-6, hidden_act="relu", seed=5, **odd
    )
    return root


@pytest.fixture(scope="module")
def runs(checkpoints, tmp_path_factory):
    return _run_backends(checkpoints, tmp_path_factory.mktemp("parity"))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_parity_passes_eager_and_compiled_on(backend_name, runs):
    results = _results(runs, backend_name)
    for name, modes in TINY_MODES[backend_name].items():
        reports = results[name]
        assert [r["xla"] for r in reports] == list(modes)
        for summary in reports:
            _assert_passed(summary, backend_name, 3 if name == "odd" else 2, summary["xla"])
    plain = results["plain"][0]
    assert plain["batch_shape"][0] == 4 and plain["padded_tokens"] > 0  # texts, a pair, padding
    for head in results["head"]:
        assert head["max_abs_diff"]["logits"] <= 1e-4
        assert head["max_abs_error_vs_float64"]["ours"]["logits"] <= 2e-5


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_bfloat16_passes_with_bfloat16_rules_on(backend_name, runs):
    summary = _results(runs, backend_name)["bfloat16"]
    assert summary["precision"] == "bfloat16" and summary["backend"] == backend_name
    assert summary["passed"], json.dumps(summary["rows"], indent=1)
    # bfloat16 really ran: far outside float32 parity.
    assert summary["max_abs_diff"]["last_hidden_state"] > 1e-3


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_changed_weight_saved_on_the_backend_fails_on(backend_name, runs):
    summary = _results(runs, backend_name)["changed"]
    assert summary["backend"] == backend_name
    assert not summary["passed"] and summary["first_failure"] == "hidden_states[1]"


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_cli_json_names_the_backend(backend_name, runs):
    cli = _results(runs, backend_name)["cli"]
    assert cli["status"] == 0
    assert cli["summary"]["backend"] == backend_name
    assert cli["summary"]["xla"] is (backend_name == "jax")
    assert cli["summary"]["passed"]


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_pretraining_heads_and_gradients_pass_on(backend_name, runs):
    results = _results(runs, backend_name)
    heads = results["heads"]
    assert heads["passed"] and heads["backend"] == backend_name, json.dumps(heads["rows"])
    assert heads["architecture"] == "BertForPreTraining"
    names = [row["name"] for row in heads["rows"]]
    assert names[-2:] == ["prediction_logits", "seq_relationship_logits"]
    for key in ("gradients", "classifier_gradients"):
        summary = results[key]
        assert summary["backend"] == backend_name and summary["gradients"]
        assert summary["passed"], summary["failure_reason"]
        assert all(row["passed"] for row in summary["rows"] + summary["adamw_rows"])
    assert results["classifier_gradients"]["adamw_rows"]  # one AdamW step, on this backend
    fitted = results["stream"]  # fit read the PyDataset itself, two epochs
    # Keras calls on_epoch_end once before the first epoch too: 1 + 2 epochs
    assert fitted["type"] == "PreTrainingBatches" and fitted["epoch"] == 3
    assert len(fitted["losses"]) == 2 and all(np.isfinite(fitted["losses"]))
    untied = results["untied"]  # the decoder cut from the table: its gradient is wrong
    assert not untied["passed"]
    assert untied["first_failure"] == "bert.embeddings.word_embeddings.weight"
    assert [r["name"] for r in untied["rows"] if not r["passed"]] == [untied["first_failure"]]


@pytest.fixture(scope="module")
def minilm_runs(minilm_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("minilm")
    return _run_backends(out, out, minilm=minilm_dir)


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_real_all_minilm_l6_v2_on(backend_name, minilm_runs):
    results = _results(minilm_runs, backend_name)
    reports = results["minilm"]
    assert [r["xla"] for r in reports] == list(MINILM_MODES[backend_name])
    for summary in reports:
        _assert_passed(summary, backend_name, layers=6, xla=summary["xla"])
        assert summary["max_abs_diff"]["pooler_output"] <= 1e-4
        assert summary["batch_shape"][0] == 4 and summary["padded_tokens"] > 0
    assert "PASSED" in results["minilm_table"]


if __name__ == "__main__":
    sys.modules["tensorflow"] = None  # import tensorflow now fails, as where it is absent
    sys.path.insert(0, str(Path(__file__).parent))
    _worker(
        sys.argv[1],
        Path(sys.argv[2]),
        Path(sys.argv[3]),
        sys.argv[4] if len(sys.argv) > 4 else None,
    )
