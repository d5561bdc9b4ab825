"""The layers, BertModel and the classifiers on JAX and PyTorch, with TensorFlow out of reach.

Keras reads ``KERAS_BACKEND`` when it is first imported, so each backend runs in its own
Python process: this file run as a script, in which ``import tensorflow`` fails as it does on
a machine without TensorFlow. That process

- runs the layer harness (``tests/layer_harness.py``) on every layer case, compiled with
  XLA under JAX (under PyTorch ``torch.compile`` takes seconds per layer, so there the
  compiled check runs once, on the whole BertModel below);
- loads the weights this TensorFlow process gave a tiny BertModel and both classifiers
  (matched by variable path) and writes their outputs, eager and compiled
  (:func:`attention_lab.backend.compile_function`), which must equal TensorFlow's;
- refuses an out-of-range token id with the error TensorFlow gives.

Both processes run side by side.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hf_checkpoints import TINY_HF

BACKENDS = ("jax", "torch")
TOLERANCE = 1e-5  # float32, three backends' kernels summing in different orders
TINY = {**TINY_HF, "num_labels": 3}


def _batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.integers(1, TINY["vocab_size"], size=(3, 10)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 6:], ids[1, 6:] = 0, 0
    types = np.zeros_like(ids)
    types[2, 5:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _models():
    """A BertModel and both classifiers on TINY, built (keras imported by the caller)."""
    from attention_lab.models.bert import BertConfig, BertModel, build_classifier

    config = BertConfig(**TINY)
    bert = BertModel(config)
    bert.build()
    return {
        "bert": bert,
        "prebuilt": build_classifier("prebuilt", config),
        "custom": build_classifier("custom", config),
    }


def _forward(model, batch):
    outputs = model(batch, output_attentions=True) if model.name == "bert" else model(batch)
    return outputs if isinstance(outputs, dict) else {"logits": outputs}


def _flat(name, outputs):
    from keras import ops, tree

    return {
        f"{name}/{key}/{i}": np.asarray(ops.convert_to_numpy(t))
        for key, value in outputs.items()
        for i, t in enumerate(tree.flatten(value))
    }


def _worker(backend_name: str, weights: Path, folder: Path) -> None:
    """Runs in the other backend's process; writes ``{backend}.npz`` into ``folder``."""
    import keras
    from layer_harness import layer_cases

    from attention_lab import backend
    from attention_lab.errors import AttentionLabError

    assert backend.name() == backend_name
    for name, case in layer_cases().items():
        (folder / name).mkdir()
        case.check(folder / name, compiled=backend_name != "torch")

    weights = np.load(weights)
    batch = _batch()
    outputs = {}
    for name, model in _models().items():
        variables = {v.path: v for v in model.weights}
        saved = {k.split(":", 1)[1] for k in weights.files if k.startswith(f"{name}:")}
        assert set(variables) == saved, f"{name}: variables differ {set(variables) ^ saved}"
        for path, variable in variables.items():
            variable.assign(weights[f"{name}:{path}"])
        outputs.update(_flat(name, _forward(model, batch)))
        if name == "bert":
            compiled = backend.compile_function(lambda b, m=model: _forward(m, b), True)
            outputs.update(_flat("bert_compiled", compiled(batch)))
            bad = {**batch, "input_ids": batch["input_ids"].copy()}
            bad["input_ids"][2, 4] = TINY["vocab_size"]
            try:
                model(bad)
            except AttentionLabError as error:
                assert f"input_ids contains id {TINY['vocab_size']} at index (2, 4)" in str(error)
            else:
                raise AssertionError("an out-of-range id passed the check")
    np.savez(folder / f"{backend_name}.npz", **outputs)
    assert keras.backend.backend() == backend_name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both backends' processes, started together, and TensorFlow's own outputs."""
    folder = tmp_path_factory.mktemp("backends")
    models = _models()
    weights = {f"{n}:{v.path}": np.asarray(v.numpy()) for n, m in models.items() for v in m.weights}
    np.savez(folder / "weights.npz", **weights)
    reference = {}
    for name, model in models.items():
        reference.update(_flat(name, _forward(model, _batch())))
    processes = {}
    for name in BACKENDS:
        (folder / name).mkdir()
        env = {**os.environ, "KERAS_BACKEND": name}
        processes[name] = subprocess.Popen(
            [sys.executable, __file__, name, str(folder / "weights.npz"), str(folder / name)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    outputs = {name: p.communicate(timeout=900)[0] for name, p in processes.items()}
    results = {name: (processes[name].returncode, out) for name, out in outputs.items()}
    return folder, reference, results


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_layers_and_models_equal_tensorflow_on(backend_name, runs):
    folder, reference, results = runs
    status, log = results[backend_name]
    assert status == 0, f"the {backend_name} process failed:\n{log[-4000:]}"
    outputs = np.load(folder / backend_name / f"{backend_name}.npz")
    prefix = "bert_compiled/"
    compiled = {"bert/" + k[len(prefix) :]: k for k in outputs.files if k.startswith(prefix)}
    assert set(outputs.files) - set(compiled.values()) == set(reference)
    assert set(compiled) == {k for k in reference if k.startswith("bert/")}
    for key, expected in reference.items():
        np.testing.assert_allclose(outputs[key], expected, atol=TOLERANCE, rtol=0, err_msg=key)
    for key, name in compiled.items():
        np.testing.assert_allclose(
            outputs[name], reference[key], atol=TOLERANCE, rtol=0, err_msg=name
        )


if __name__ == "__main__":
    sys.modules["tensorflow"] = None  # import tensorflow now fails, as where it is absent
    _worker(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
