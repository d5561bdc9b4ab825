"""The four stages of the GPU run (:mod:`benchmarks.gpu_run`), each run in its own process.

``python -m benchmarks.gpu_stages NAME --payload P --work W --deadline T [--smoke]`` runs one
stage under the Keras backend and JAX matmul precision that :data:`STAGE_ENV` gives it (the
runner sets them, before Keras is imported) and writes its results to ``W/NAME.json``, again
after every unit of work, so that a stage stopped at its deadline keeps what it measured.

- ``parity``: MiniLM, ours on the GPU against Hugging Face's float32, bfloat16 autocast and
  float64 runs (on the CPU), with the pass rule of :mod:`attention_lab.parity.report`:
  float32 with TF32 off (JAX's matmul precision ``highest``) and mixed bfloat16, eager and
  XLA, on the default batch and on eight IMDb reviews of up to 512 tokens. Then, for
  information, float32 with TF32 matmuls, which the float32 rule is not meant to pass.
- ``finetune``: the pre-built classifier on MiniLM, trained with
  :func:`~attention_lab.training.fit.fit_classifier` under the library's GPU plan
  (:func:`attention_lab.runtime.choose_plan`: mixed bfloat16, XLA) and the chapter's settings
  (:class:`~attention_lab.training.fit.TrainingConfig`: 3 epochs, batch 16, 2e-5) on the
  80/20 split of :mod:`attention_lab.training.finetune`, validated after each epoch, then
  tested on all 25,000 test reviews. It stops early at its deadline, keeping time to test.
- ``speed-ours``: BERT-Base (random weights) under JAX and XLA, float32 and mixed bfloat16:
  the forward pass (``jax.jit`` of ``stateless_call``, timed until the outputs are ready) and
  Keras's own ``fit`` step (:func:`~attention_lab.training.fit.compile_classifier`: AdamW,
  warm-up and decay, clipping), timed from one step's end (its loss read) to the next.
- ``speed-torch``: transformers' ``BertModel`` and ``BertForSequenceClassification``, eager
  and under ``torch.compile``, each in float32 and under bfloat16 autocast; the usual
  training loop (AdamW, clipping, the loss read back).

float32 matmuls may use TF32 in both speed stages, as the frameworks do by default for speed
(JAX ``tensorfloat32``, PyTorch ``allow_tf32``). A unit (one contender, one shape, forward or
train) starts only when at least as much time is left as the longest unit of its kind took
so far (before the first: :data:`FIRST_UNIT_S`); one that would not fit is recorded as
skipped, and one that fails as failed, with its error, and the others still run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from benchmarks.gpu_payload import IMDB, MODEL_DIR, PARITY_MAX_LEN, REVIEWS, read_encoded

SPEED_SHAPES = ((32, 512), (16, 150))  # keras-io's benchmark shape, then the chapter's
SMOKE_SHAPES = ((2, 16),)
FORWARD_REPEATS, TRAIN_REPEATS, WARMUP = 20, 15, 3
TORCH_CONTENDERS = {  # name: (torch.compile, bfloat16 autocast)
    "PyTorch eager fp32": (False, False),
    "PyTorch eager bf16 autocast": (False, True),
    "torch.compile fp32": (True, False),
    "torch.compile bf16 autocast": (True, True),
}
# The smoke run keeps its CPU time small: XLA only in parity (tests/test_backends_parity.py
# runs the eager path on JAX), one precision of ours, and PyTorch's two switches each way.
SMOKE_PARITY_MODES = (True,)
SMOKE_OURS = ("bfloat16",)
SMOKE_TORCH = ("PyTorch eager fp32", "torch.compile bf16 autocast")
# Time a unit is expected to need on the GPU before one of its kind has run (compiling).
FIRST_UNIT_S = {"train": 60.0, "forward": 30.0}
TEST_RESERVE_S = 60  # time the fine-tuning keeps for the test pass

# Each stage's process: its Keras backend, and JAX's float32 matmuls (parity: full float32;
# speed: TF32 allowed, as on PyTorch's side).
STAGE_ENV = {
    "parity": {"KERAS_BACKEND": "jax", "JAX_DEFAULT_MATMUL_PRECISION": "highest"},
    "finetune": {"KERAS_BACKEND": "jax"},
    "speed-ours": {"KERAS_BACKEND": "jax", "JAX_DEFAULT_MATMUL_PRECISION": "tensorfloat32"},
    "speed-torch": {"KERAS_BACKEND": "torch"},
}
NO_TENSORFLOW = "GPU_RUN_NO_TENSORFLOW"  # set: ``import tensorflow`` fails, as on the machine


class Recorder:
    """A stage's results, rewritten to ``path`` after every change."""

    def __init__(self, path: Path, **fields):
        self.path, self.data = path, {"started": time.time(), **fields}
        self.save()

    def __setitem__(self, key, value):
        self.data[key] = value
        self.save()

    def append(self, key, value):
        self.data.setdefault(key, []).append(value)
        self.save()

    def save(self):
        from attention_lab.io import atomic_write_json

        atomic_write_json(self.path, self.data)


class Budget:
    """Whether the next unit of a kind fits before the deadline (see the module docstring).

    ``first`` is the time a unit needs before any of its kind has run, by step.
    """

    def __init__(self, deadline: float, first: dict[str, float]):
        self.deadline, self.first, self.longest = deadline, first, {}

    def allows(self, kind: str, step: str) -> bool:
        needed = self.longest.get(kind, self.first.get(step, 0.0))
        return self.deadline - time.time() > needed

    def took(self, kind: str, seconds: float) -> None:
        self.longest[kind] = max(self.longest.get(kind, 0.0), seconds)


def versions() -> dict:
    """The libraries of this process, and whether TensorFlow was imported."""
    found = {"python": platform.python_version()}
    for name in ("keras", "jax", "jaxlib", "torch", "transformers", "numpy"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    found["tensorflow_imported"] = sys.modules.get("tensorflow") is not None
    keras = sys.modules.get("keras")
    found["keras_backend"] = keras.backend.backend() if keras is not None else None
    return found


# --- parity -------------------------------------------------------------------------------


def _parity_run(report, batch: str) -> dict:
    ours, reference = report.float64_ratio()
    return {
        "precision": report.criteria.precision,
        "batch": batch,
        "xla": report.xla,
        "passed": report.passed,
        "first_failure": report.first_failure,
        "largest_ours_vs_float64": ours,
        "largest_reference_vs_float64": reference,
        "report": report.to_dict(),
        "table": report.format_table(),
    }


def _require_gpu(smoke: bool) -> None:
    """On the real run, refuse to measure anything if the backend sees no GPU."""
    from attention_lab import backend

    if not smoke and backend.accelerator() != "gpu":
        raise RuntimeError(f"the {backend.name()} backend sees no GPU; nothing was measured")


def _failure() -> str:
    """The current exception, for a unit's record (its traceback goes to the log)."""
    traceback.print_exc()
    return traceback.format_exc().strip().splitlines()[-1]


def parity(payload: Path, work: Path, deadline: float, smoke: bool, record: Recorder) -> None:
    import jax

    from attention_lab.convert import load_bert
    from attention_lab.parity import read_texts, run_parities, run_parity

    _require_gpu(smoke)
    record["devices"] = [str(d) for d in jax.devices()]
    record["matmul_precision"] = jax.config.jax_default_matmul_precision
    model_dir = work / MODEL_DIR
    ours = load_bert(model_dir).model
    reviews = {"texts": read_texts(payload / REVIEWS), "max_length": PARITY_MAX_LEN[smoke]}
    batches = {"reviews": reviews} if smoke else {"default": {}, "reviews": reviews}
    modes = SMOKE_PARITY_MODES if smoke else (False, True)
    for precision in ("float32", "bfloat16"):
        for batch, options in batches.items():
            if time.time() > deadline:
                record.append("skipped", f"{precision} {batch}: time budget")
                continue
            try:
                reports = run_parities(model_dir, ours, modes, precision=precision, **options)
            except Exception:  # noqa: BLE001 - recorded; the other runs go on
                record.append("failed", f"{precision} {batch}: {_failure()}")
                continue
            for report in reports:
                record.append("runs", _parity_run(report, batch))
    if time.time() < deadline:
        with jax.default_matmul_precision("tensorfloat32"):
            report = run_parity(model_dir, ours, xla=True, **reviews)
        record["tf32_information"] = _parity_run(report, "reviews")


# --- fine-tuning --------------------------------------------------------------------------


def finetune(payload: Path, work: Path, deadline: float, smoke: bool, record: Recorder) -> None:
    import keras

    from attention_lab.convert import load_bert
    from attention_lab.runtime import choose_plan
    from attention_lab.training.data import InferenceBatches, train_validation_split
    from attention_lab.training.finetune import SPLIT_SEED, VALIDATION_FRACTION
    from attention_lab.training.fit import TrainingConfig, fit_classifier

    _require_gpu(smoke)
    plan = choose_plan(device="gpu")  # the GPU's plan, in the smoke run too
    smoke_training = TrainingConfig(epochs=1, batch_size=8, learning_rate=1e-3)
    training = smoke_training if smoke else TrainingConfig()
    reserve = TEST_RESERVE_S / (6 if smoke else 1)

    class EpochLog(keras.callbacks.Callback):
        """Records each epoch as it ends; stops training when only the test's time is left."""

        stopped = False

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.time()

        def on_train_batch_end(self, batch, logs=None):
            if time.time() > deadline - reserve:
                self.model.stop_training = self.stopped = True

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            seconds = time.time() - self.epoch_started
            record.append("epochs", {"epoch": epoch + 1, **logs, "seconds": seconds})

    record["plan"] = plan.describe()
    record["training"] = vars(training)
    keras.utils.set_random_seed(training.seed)
    loaded = load_bert(work / MODEL_DIR, head="prebuilt", num_labels=2, dtype=plan.dtype_policy)
    encoded = read_encoded(payload / IMDB, "train")
    test = read_encoded(payload / IMDB, "test")
    test.check(loaded.config, "IMDb test reviews")  # the compiled evaluation cannot check ids
    train, validation = train_validation_split(encoded, VALIDATION_FRACTION, seed=SPLIT_SEED)
    record["reviews"] = {"train": len(train), "validation": len(validation), "test": len(test)}
    record["max_len"] = encoded.max_len
    epoch_log = EpochLog()
    result = fit_classifier(
        loaded.model,
        train,
        validation,
        work / "checkpoints",
        training,
        jit_compile=plan.jit_compile,
        progress=False,
        callbacks=[epoch_log],
    )
    record["fit"] = {**result, "stopped_at_deadline": epoch_log.stopped}
    started = time.time()
    # The validation's compiled steps serve the test pass: the same batches of 64.
    scores = loaded.model.evaluate(
        InferenceBatches(test, 64).for_fit(), return_dict=True, verbose=0
    )
    record["test"] = {**{k: float(v) for k, v in scores.items()}, "seconds": time.time() - started}


# --- speed --------------------------------------------------------------------------------


def _speed_config(smoke: bool):
    from attention_lab.models.bert import BertConfig
    from benchmarks.plan import QUICK_CONFIG

    return QUICK_CONFIG if smoke else BertConfig()  # BERT-Base cased


def _timing(items: int, first: float, seconds: list[float], flops: int) -> dict:
    """Statistics of the timed calls after the warm-up ones."""
    from benchmarks.timing import Timing

    timing = Timing("", items, seconds[WARMUP - 1 :])
    return {
        "first_call_s": first,
        "ms_median": 1e3 * timing.median_s,
        "per_second": timing.throughput,
        "tflops": flops / timing.median_s / 1e12,
        **timing.to_dict(),
    }


def _measure(call, repeats: int) -> tuple[float, list[float]]:
    """``call()`` once (compiling), then ``WARMUP - 1 + repeats`` times: (first, seconds)."""
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    seconds = []
    for _ in range(WARMUP - 1 + repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return first, seconds


def _speed_units(record: Recorder, budget: Budget, smoke: bool, contenders: dict) -> None:
    """Every shape, contender and step (train, then forward) that fits in the budget.

    ``contenders`` maps a name to ``(kind, train, forward)``: the budget's kind of its units,
    and two functions of ``(config, batch, length)`` returning ``(first, seconds)``.
    """
    from benchmarks.flops import bert_forward_flops, bert_train_step_flops

    config = _speed_config(smoke)
    flops = {"train": bert_train_step_flops, "forward": bert_forward_flops}
    for batch, length in SMOKE_SHAPES if smoke else SPEED_SHAPES:
        for name, (kind, train, forward) in contenders.items():
            for step, measure in (("train", train), ("forward", forward)):
                unit = {"shape": [batch, length], "contender": name}
                if not budget.allows(f"{kind} {step}", step):
                    record.append("skipped", {**unit, "step": step, "why": "time budget"})
                    continue
                started = time.time()
                try:
                    first, seconds = measure(config, batch, length)
                except Exception:  # noqa: BLE001 - recorded; the other units go on
                    record.append("failed", {**unit, "step": step, "error": _failure()})
                    continue
                finally:
                    budget.took(f"{kind} {step}", time.time() - started)
                count = flops[step](config, batch, length)
                record.append(step, {**unit, **_timing(batch, first, seconds, count)})


def _inputs(config, batch: int, length: int) -> tuple[dict, object]:
    from benchmarks.contenders import Workload

    arrays = Workload(config, batch, length).arrays()
    return arrays, arrays.pop("labels")


def _ours_train(policy: str):
    """Steps of ``model.fit`` on one batch, each timed from the previous step's end (its
    loss read back): the whole step of Keras's loop, data included."""

    def measure(config, batch, length):
        import keras

        from attention_lab.models.bert import build_classifier
        from attention_lab.training.fit import TrainingConfig, compile_classifier

        arrays, labels = _inputs(config, batch, length)
        steps = WARMUP + TRAIN_REPEATS

        class SameBatch(keras.utils.PyDataset):
            def __len__(self):
                return steps

            def __getitem__(self, index):
                return arrays, labels

        ends = []

        class StepEnds(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                float(logs["loss"])  # waits for the step
                ends.append(time.perf_counter())

        model = build_classifier("prebuilt", config, dtype=policy)
        compile_classifier(model, TrainingConfig(), total_steps=10_000, jit_compile=True)
        started = time.perf_counter()
        model.fit(SameBatch(), epochs=1, verbose=0, shuffle=False, callbacks=[StepEnds()])
        times = np.diff([started, *ends])
        return float(times[0]), [float(t) for t in times[1:]]

    return measure


def _ours_forward(policy: str):
    """``jax.jit`` of the BertModel's ``stateless_call``, until its outputs are ready."""

    def measure(config, batch, length):
        import jax

        from attention_lab.models.bert import BertModel

        arrays, _ = _inputs(config, batch, length)
        model = BertModel(config, dtype=policy)
        model.build()
        weights = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
        )
        forward = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x)[0])
        inputs = jax.device_put(arrays)
        return _measure(lambda: jax.block_until_ready(forward(*weights, inputs)), FORWARD_REPEATS)

    return measure


def speed_ours(payload: Path, work: Path, deadline: float, smoke: bool, record: Recorder) -> None:
    import jax

    from attention_lab.runtime import POLICIES

    _require_gpu(smoke)
    record["devices"] = [str(d) for d in jax.devices()]
    record["matmul_precision"] = jax.config.jax_default_matmul_precision
    contenders = {
        f"ours JAX XLA {precision}": (
            precision,
            _ours_train(POLICIES[precision]),
            _ours_forward(POLICIES[precision]),
        )
        for precision in (SMOKE_OURS if smoke else ("bfloat16", "float32"))
    }
    _speed_units(record, Budget(deadline, {} if smoke else FIRST_UNIT_S), smoke, contenders)


class _Torch:
    """transformers' BERT on one device, eager or compiled, float32 or bfloat16 autocast."""

    def __init__(self, device: str, compiled: bool, bf16: bool, compile_backend: str):
        self.device, self.compiled, self.bf16 = device, compiled, bf16
        self.compile_backend = compile_backend
        self.attention = None  # transformers' attention implementation, once a model is made

    def _autocast(self):
        import torch

        return torch.autocast(self.device, torch.bfloat16, enabled=self.bf16)

    def _prepared(self, module):
        import torch

        module = module.to(self.device)
        if not self.compiled:
            return module
        return torch.compile(module, backend=self.compile_backend, dynamic=False)

    def _inputs(self, config, batch, length) -> dict:
        import torch

        arrays, labels = _inputs(config, batch, length)
        inputs = {k: torch.from_numpy(v.astype(np.int64)) for k, v in arrays.items()}
        inputs["labels"] = torch.from_numpy(labels.astype(np.int64))
        return {k: v.to(self.device) for k, v in inputs.items()}

    def train(self, config, batch, length):
        """The usual loop: AdamW, clipping at 1.0, the loss read back."""
        import torch
        import transformers

        from benchmarks.contenders import LEARNING_RATE, _hf_config

        inputs = self._inputs(config, batch, length)
        model = transformers.BertForSequenceClassification(_hf_config(config)).train()
        self.attention = getattr(model.config, "_attn_implementation", None)
        step_model = self._prepared(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)

        def step():
            optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                loss = step_model(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            loss.item()

        return _measure(step, TRAIN_REPEATS)

    def forward(self, config, batch, length):
        """``BertModel`` in eval mode under ``inference_mode``, until the GPU is done."""
        import torch
        import transformers

        from benchmarks.contenders import _hf_config

        features = self._inputs(config, batch, length)
        features.pop("labels")
        model = self._prepared(transformers.BertModel(_hf_config(config)).eval())

        def call():
            with torch.inference_mode(), self._autocast():
                model(**features)
            if self.device == "cuda":
                torch.cuda.synchronize()

        return _measure(call, FORWARD_REPEATS)


def speed_torch(payload: Path, work: Path, deadline: float, smoke: bool, record: Recorder) -> None:
    import torch

    _require_gpu(smoke)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True  # TF32 allowed, as on our side
    torch.backends.cudnn.allow_tf32 = True
    compile_backend = "eager" if smoke else "inductor"  # smoke: dynamo's tracing, no codegen
    record["device"] = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    record["torch_compile_backend"] = compile_backend
    runners = {
        name: _Torch(device, compiled, bf16, compile_backend)
        for name, (compiled, bf16) in TORCH_CONTENDERS.items()
        if not smoke or name in SMOKE_TORCH
    }
    contenders = {
        name: ("compiled" if r.compiled else "eager", r.train, r.forward)
        for name, r in runners.items()
    }
    _speed_units(record, Budget(deadline, {} if smoke else FIRST_UNIT_S), smoke, contenders)
    record["attention"] = sorted({r.attention for r in runners.values() if r.attention})


STAGES = {
    "parity": parity,
    "finetune": finetune,
    "speed-ours": speed_ours,
    "speed-torch": speed_torch,
}


def run_stage(name: str, payload: Path, work: Path, deadline: float, smoke: bool) -> int:
    """One stage in this process; its results (or its error) in ``work/NAME.json``."""
    record = Recorder(work / f"{name}.json", stage=name, smoke=smoke)
    status = 0
    try:
        STAGES[name](payload, work, deadline, smoke, record)
    except Exception:  # noqa: BLE001 - the error is the stage's result
        record["error"] = traceback.format_exc()
        print(record.data["error"], file=sys.stderr)
        status = 1
    record["versions"] = versions()
    record["seconds"] = time.time() - record.data["started"]
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_stages")
    parser.add_argument("name", choices=STAGES)
    parser.add_argument("--payload", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--deadline", type=float, required=True, help="time.time() to end by")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    return run_stage(args.name, args.payload, args.work, args.deadline, args.smoke)


if __name__ == "__main__":
    if os.environ.get(NO_TENSORFLOW):
        sys.modules["tensorflow"] = None
    raise SystemExit(main())
