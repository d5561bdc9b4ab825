"""Fine-tuning on JAX (XLA-compiled steps) and PyTorch, with TensorFlow out of reach.

Each backend runs in its own Python process (this file run as a script, ``import tensorflow``
failing there as on a machine without it), side by side. Each one fine-tunes the pre-built
classifier of a tiny transformers-made checkpoint with
:func:`~attention_lab.training.fit.fit_classifier`, from the ``PyDataset`` batches that
``ArrayBatches.for_fit`` hands ``fit`` on these backends (no ``tf.data``): under JAX with
``jit_compile=True`` (every step through ``jax.jit``), under PyTorch eagerly. It saves the
model with ``save_bert`` and writes its logits; this process, on TensorFlow, loads that folder
and must compute the same logits, as must transformers. Under JAX the ``attention-lab
finetune`` and ``evaluate`` commands also run on a tiny IMDb archive (``--data``).
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
EPOCHS = 3
TOLERANCE = 1e-5  # float32 logits of one model on two backends


def _worker(backend_name: str, checkpoint: Path, archive: Path, out: Path) -> None:
    """Runs in the other backend's process; writes ``result.json`` and ``logits.npy``."""
    import keras
    from tiny_runs import toy_sentiment

    from attention_lab import backend
    from attention_lab.cli.main import main
    from attention_lab.convert import load_bert, save_bert
    from attention_lab.training.data import TrainingStream
    from attention_lab.training.evaluation import predict_logits
    from attention_lab.training.fit import TrainingConfig, fit_classifier

    assert backend.name() == backend_name
    keras.utils.set_random_seed(0)
    model = load_bert(checkpoint, head="prebuilt", num_labels=2).model
    train, validation = toy_sentiment(64, seed=1), toy_sentiment(32, seed=2)
    config = TrainingConfig(epochs=EPOCHS, batch_size=8, learning_rate=3e-3, warmup_fraction=0.0)
    jit = backend_name == "jax"
    record = fit_classifier(
        model, train, validation, out / "checkpoints", config, jit_compile=jit, progress=False
    )
    fed = TrainingStream(train, 8, seed=0).for_fit()
    result = {
        "history": record["history"],
        "jit_compile": model.jit_compile,
        "fed_to_fit": type(fed).__name__,
        "is_py_dataset": isinstance(fed, keras.utils.PyDataset),
    }
    save_bert(model, out / "trained", tokenizer_dir=checkpoint)
    np.save(out / "logits.npy", predict_logits(model, validation))
    if backend_name == "jax":
        run = out / "run"
        result["finetune"] = main(
            ["finetune", "--model", str(checkpoint), "--head", "prebuilt", "--data", str(archive),
             "--out", str(run), "--epochs", "1", "--batch-size", "8", "--max-len", "32",
             "--precision", "float32", "--xla", "on", "--no-progress"]
        )  # fmt: skip
        result["evaluate"] = main(
            ["evaluate", "--checkpoint", str(run), "--data", str(archive), "--xla", "on",
             "--precision", "float32", "--no-progress"]
        )  # fmt: skip
        result["run"] = json.loads((run / "run.json").read_text())
    (out / "result.json").write_text(json.dumps(result))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from glove_imdb_data import write_tiny_imdb_archive
    from tiny_runs import write_tiny_checkpoint

    root = tmp_path_factory.mktemp("training")
    checkpoint = write_tiny_checkpoint(root / "bert", seed=4)
    archive = write_tiny_imdb_archive(root / "aclImdb_v1.tar.gz", per_folder=12)
    processes = {}
    for name in BACKENDS:
        (root / name).mkdir()
        env = {**os.environ, "KERAS_BACKEND": name, "ATTENTION_LAB_CACHE": str(root / "cache")}
        processes[name] = subprocess.Popen(
            [sys.executable, __file__, name, str(checkpoint), str(archive), str(root / name)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    logs = {name: p.communicate(timeout=600)[0] for name, p in processes.items()}
    return root, {name: (p.returncode, logs[name]) for name, p in processes.items()}


def _result(runs, backend_name: str) -> tuple[Path, dict]:
    root, statuses = runs
    status, log = statuses[backend_name]
    assert status == 0, f"the {backend_name} process failed:\n{log[-4000:]}"
    folder = root / backend_name
    return folder, json.loads((folder / "result.json").read_text())


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_prebuilt_classifier_learns_from_a_py_dataset_on(backend_name, runs):
    _, result = _result(runs, backend_name)
    losses = [epoch["loss"] for epoch in result["history"]]
    assert len(losses) == EPOCHS and losses[-1] < losses[0] - 0.05, losses
    assert result["history"][-1]["val_accuracy"] > 0.8
    assert result["is_py_dataset"] and result["fed_to_fit"] == "TrainingStream"
    assert result["jit_compile"] is (backend_name == "jax")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_saved_folder_gives_the_same_logits_on_tensorflow_and_transformers(backend_name, runs):
    import torch
    import transformers
    from tiny_runs import toy_sentiment

    from attention_lab.convert import load_bert
    from attention_lab.training.evaluation import predict_logits

    folder, _ = _result(runs, backend_name)
    validation = toy_sentiment(32, seed=2)
    expected = np.load(folder / "logits.npy")
    loaded = load_bert(folder / "trained")
    assert loaded.head == "prebuilt"
    np.testing.assert_allclose(predict_logits(loaded.model, validation), expected, atol=TOLERANCE)
    hf = transformers.BertForSequenceClassification.from_pretrained(folder / "trained").eval()
    features = {k: torch.from_numpy(v.astype(np.int64)) for k, v in validation.features.items()}
    with torch.no_grad():
        theirs = hf(**features).logits.numpy()
    np.testing.assert_allclose(theirs, expected, atol=TOLERANCE)


def test_the_finetune_and_evaluate_commands_run_on_jax_with_xla(runs):
    folder, result = _result(runs, "jax")
    assert result["finetune"] == 0 and result["evaluate"] == 0
    run = result["run"]
    assert run["status"] == "complete" and run["machine"]["backend"] == "jax"
    assert run["settings"]["xla"] is True
    assert (folder / "run" / "evaluation-test.json").is_file()


if __name__ == "__main__":
    sys.modules["tensorflow"] = None  # import tensorflow now fails, as where it is absent
    sys.path.insert(0, str(Path(__file__).parent))
    _worker(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
