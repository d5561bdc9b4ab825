"""``python -m benchmarks.bf16_worker [CODE_DIR]``: one worker process of
:mod:`benchmarks.bf16_profile`.

It builds the contenders it is asked for and runs them one call at a time, on request: one JSON
line in on stdin, one JSON line out on a private copy of stdout (whatever else is printed goes
to stderr). ``CODE_DIR``, when given, holds another version of ``attention_lab/`` (the
"before" of a comparison); it is put first on ``sys.path`` before anything imports the
package, which is why this module imports nothing from the project at its top.

Requests (``cmd`` and its fields): ``init`` (threads, config), ``prepare`` (kind "forward" or
"train", names, batch, length), ``run`` (name), ``profile`` (name, calls), ``ceiling``
(quick), ``parity`` (policy, modes).
"""

from __future__ import annotations

import json
import os
import sys

# ours: (Keras dtype policy, XLA) for each contender name
OURS = {
    "ours mixed_bfloat16": ("mixed_bfloat16", False),
    "ours bfloat16": ("bfloat16", False),
    "ours float32": ("float32", False),
    "ours mixed_bfloat16 XLA": ("mixed_bfloat16", True),
    "ours float32 XLA": ("float32", True),
}
TORCH = {"PyTorch bf16 autocast": True, "PyTorch fp32": False}


def _library(name: str):
    """``name`` from the library this worker imports: ``attention_lab.models.bert`` holds the
    whole model; a baseline from before it kept the config and the classifiers apart."""
    import importlib

    for module in (
        "attention_lab.models.bert",
        "attention_lab.config",
        "attention_lab.models.classifier",
    ):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"{name} is in none of attention_lab's model modules")


def _block(jit: bool) -> dict:
    """The encoder block the runtime plan picks for this backend with or without XLA, as a
    keyword of the model; none for a library from before the fused block was kept apart."""
    from attention_lab.runtime import choose_plan

    plan = choose_plan("float32", "on" if jit else "off", device="cpu")
    return {"implementation": plan.implementation} if hasattr(plan, "implementation") else {}


def _ours_forward(config, policy: str, jit: bool):
    """``run(workload) -> call``: the forward pass as the library compiles it."""
    import keras

    from attention_lab.backend import compile_function

    model = _library("BertModel")(config, dtype=policy, **_block(jit))
    model.build()
    forward = compile_function(lambda x: model(x, training=False)["pooled_output"], jit)
    if keras.backend.backend() == "torch":
        import torch

        no_grad = torch.no_grad
    else:
        from contextlib import nullcontext as no_grad

    def run(workload):
        arrays = workload.arrays()
        arrays.pop("labels")
        inputs = {k: keras.ops.convert_to_tensor(v) for k, v in arrays.items()}

        def call():
            with no_grad():
                return keras.ops.convert_to_numpy(keras.ops.cast(forward(inputs), "float32"))

        return call

    return run


def _ours_train(config, policy: str, workload):
    """One tf.function fine-tuning step (benchmarks.contenders' step) under ``policy``."""
    from benchmarks.contenders import _keras_train_steps, _tf_inputs, _with_labels

    model = _library("BertForSequenceClassification")(
        _with_labels(config), dtype=policy, **_block(False)
    )
    model.build()
    step = _keras_train_steps(model, ("function",))["function"]
    inputs, labels = _tf_inputs(workload)
    return lambda: step(inputs, labels).numpy()


class Contenders:
    """The models of one worker, built once, and their calls for the current workload."""

    def __init__(self, config):
        self.config = config
        self.forward = {}  # name -> run(workload) -> call
        self.calls = {}  # name -> call for the prepared workload

    def prepare(self, kind: str, names: list[str], workload) -> None:
        """Make the calls of ``names`` for ``workload``; training models replace every model
        built before (BERT-Base's models, optimizers and graphs do not all fit in memory)."""
        import gc

        from benchmarks import contenders

        self.calls = {}
        if kind == "train":
            self.forward = {}
        gc.collect()
        torch_steps = None
        for name in names:
            if kind == "forward":
                if name not in self.forward:
                    self.forward[name] = (
                        _ours_forward(self.config, *OURS[name])
                        if name in OURS
                        else contenders.torch_forward(self.config, TORCH[name])
                    )
                self.calls[name] = self.forward[name](workload)
            elif name in TORCH:
                torch_steps = torch_steps or contenders.torch_train(self.config, workload)
                self.calls[name] = torch_steps["bf16" if TORCH[name] else "fp32"]
            else:
                self.calls[name] = _ours_train(self.config, OURS[name][0], workload)


def _profile(name: str, call, calls: int) -> dict:
    import keras

    from benchmarks import op_profile

    on_torch = name in TORCH or keras.backend.backend() == "torch"
    profiler = op_profile.profile_torch if on_torch else op_profile.profile_tf
    return profiler(call, calls).to_dict()


def _ceiling(quick: bool) -> dict:
    from benchmarks.ceiling import measure_ceiling
    from benchmarks.flops import matmul_flops
    from benchmarks.plan import CEILING_SHAPE, QUICK_CEILING_SHAPE

    m, k, n = QUICK_CEILING_SHAPE if quick else CEILING_SHAPE
    timings, _ = measure_ceiling(m, k, n, 1, 2 if quick else 9, log=lambda _: None)
    return {name: matmul_flops(m, k, n) / t.median_s / 1e9 for name, t in timings.items()}


def _init(threads: int, config: dict) -> tuple[Contenders, dict]:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import keras

    import attention_lab

    if keras.backend.backend() == "tensorflow":
        from benchmarks.contenders import pin_threads

        pin_threads(threads)
    else:
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    info = {"attention_lab": attention_lab.__file__, "backend": keras.backend.backend()}
    return Contenders(_library("BertConfig").from_dict(config)), info


def serve(requests, channel) -> None:
    contenders = None
    for line in requests:
        request = json.loads(line)
        command = request.pop("cmd")
        reply = {}
        if command == "init":
            contenders, reply = _init(request["threads"], request["config"])
        elif command == "prepare":
            from benchmarks.contenders import Workload

            workload = Workload(contenders.config, request["batch"], request["length"])
            contenders.prepare(request["kind"], request["names"], workload)
        elif command == "run":
            contenders.calls[request["name"]]()
        elif command == "profile":
            reply = _profile(request["name"], contenders.calls[request["name"]], request["calls"])
        elif command == "ceiling":
            reply = _ceiling(request["quick"])
        elif command == "parity":
            from benchmarks.bf16_accuracy import parity_summary

            reply = parity_summary(request["policy"], request["modes"])
        else:
            reply = {"error": f"unknown command {command!r}"}
        channel.write(json.dumps(reply) + "\n")


def main() -> int:
    if len(sys.argv) > 1:
        sys.path.insert(0, sys.argv[1])
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr
    serve(sys.stdin, channel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
