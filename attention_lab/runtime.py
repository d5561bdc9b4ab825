"""Which precision and compile path BERT runs with, and why: the one plan the library uses.

Two knobs decide the speed of the same model: the Keras dtype policy and whether the step is
compiled with XLA (``jit_compile``). :func:`choose_plan` turns the user's ``--precision`` and
``--xla`` (each ``"auto"`` by default) into a :class:`Plan` and says why, so that fine-tuning,
evaluation, prediction and the benchmarks all run the same way:

- **precision** ``"auto"``: bfloat16 mixed precision (``"mixed_bfloat16"``: bfloat16 matmuls,
  float32 variables, softmax, LayerNorm and GELU) on a GPU, and on a CPU where it is measured
  faster: a short probe (:func:`measure_probe`) times BERT-Base's feed-forward matmul in both
  precisions, the way the library computes it, and bfloat16 is picked only when it runs at
  least ``PROBE_MARGIN`` times float32's rate. A CPU flag is not enough: an Intel Xeon with
  AVX-512 BF16 but no AMX ran bfloat16 slower than float32 in every framework. The probe's
  figures are kept per machine (:func:`cached_probe`) and stated in the plan's reason (a run's
  ``run.json``); ``--precision float32|bfloat16`` overrides it. float32 is also the precision
  in which the parity report's tolerances hold; bfloat16 stays within bfloat16 rounding of it
  (``attention-lab parity --precision bfloat16``).
- **XLA** ``"auto"``: on a GPU (fused kernels), not on a CPU, where TensorFlow's graph of oneDNN
  kernels ran the training step faster than XLA's CPU backend, which also does not use the
  bfloat16 dot-product instructions.
- **the encoder block** (:func:`encoder_block`): ``"fused"``
  (:mod:`attention_lab.models.bert_fused`) on TensorFlow without XLA, eager or in a graph;
  elsewhere ``"eager"``, the definition in :mod:`attention_lab.models.bert` (XLA fuses by
  itself).

The measurements behind these choices are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_write_json, cache_root

# --precision -> the Keras dtype policy it runs under.
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
PRECISION_CHOICES = ("auto", *POLICIES)
XLA_CHOICES = ("auto", "on", "off")
# bfloat16 keeps 8 significand bits: it is picked only where it is clearly faster.
PROBE_MARGIN = 1.1
PROBE_SHAPE = (1024, 768, 3072)  # BERT-Base's feed-forward matmul at 8 × 128 tokens
PROBE_FILE = "precision_probe.json"


@dataclass(frozen=True)
class Plan:
    """A precision, the ``jit_compile`` flag, the encoder block, and the reason for them."""

    precision: str
    jit_compile: bool
    reason: str
    implementation: str = "eager"

    @property
    def dtype_policy(self) -> str:
        """The Keras dtype policy of :attr:`precision` (``"mixed_bfloat16"``, ...)."""
        return POLICIES[self.precision]

    def compile(self, fn, example=None):
        """``fn`` compiled for the active backend, with XLA when :attr:`jit_compile`; with
        ``example`` (an argument like those to come), traced once for every shape
        (:func:`attention_lab.backend.compile_function`)."""
        from attention_lab import backend

        return backend.compile_function(fn, self.jit_compile, example)

    def describe(self) -> str:
        xla = "XLA on" if self.jit_compile else "XLA off"
        return f"{self.precision}, {xla}, {self.implementation} block ({self.reason})"


@dataclass(frozen=True)
class Cpu:
    """This CPU's model name and its feature flags (``/proc/cpuinfo``)."""

    model: str
    flags: frozenset[str]


def this_cpu(cpuinfo: str | None = None) -> Cpu:
    """The CPU described by ``cpuinfo``, the text of ``/proc/cpuinfo`` (read when None; on
    other systems than Linux: the platform's processor name, no flags)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    models, flags = [], set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            models.append(value.strip())
        elif key.strip() == "flags":
            flags.update(value.split())
    model = models[0] if models else platform.processor() or platform.machine()
    return Cpu(model, frozenset(flags))


def machine() -> dict:
    """The CPU, core count and Keras backend that a run's figures were measured on."""
    from attention_lab import backend

    return {"cpu": this_cpu().model, "cores": os.cpu_count(), "backend": backend.name()}


def native_bfloat16_cpu(cpuinfo: str | None = None) -> str | None:
    """``"AMX"`` or ``"AVX-512 BF16"`` when this CPU computes bfloat16 natively, else None."""
    flags = this_cpu(cpuinfo).flags
    if "amx_bf16" in flags:
        return "AMX"
    if "avx512_bf16" in flags:
        return "AVX-512 BF16"
    return None


def encoder_block(jit_compile: bool) -> str:
    """The encoder block to run: ``"fused"`` (:mod:`attention_lab.models.bert_fused`) on
    TensorFlow without XLA, eager or in a graph, where its one QKV matmul and fused matmul,
    bias and GELU kernels pay (``docs/benchmarks.md``); ``"eager"``, the definition, under XLA
    (which fuses by itself) and on the other backends."""
    from attention_lab import backend

    return "fused" if backend.name() == "tensorflow" and not jit_compile else "eager"


@dataclass(frozen=True)
class Probe:
    """This machine's measured matmul rate (GFLOP/s) in float32 and in bfloat16."""

    float32: float
    bfloat16: float

    @property
    def precision(self) -> str:
        """``"bfloat16"`` where it runs at least ``PROBE_MARGIN`` times float32's rate."""
        return "bfloat16" if self.bfloat16 >= PROBE_MARGIN * self.float32 else "float32"

    def describe(self) -> str:
        return (
            f"measured {self.bfloat16:.0f} GFLOP/s in bfloat16 against {self.float32:.0f} in "
            f"float32 ({self.bfloat16 / self.float32:.2f}×; bfloat16 needs {PROBE_MARGIN}×)"
        )


def measure_probe(shape: tuple[int, int, int] = PROBE_SHAPE, rounds: int = 5) -> Probe:
    """Time one ``(m, k) · (k, n)`` matmul in float32 and in bfloat16, compiled as the library
    compiles a CPU step (:func:`attention_lab.backend.compile_function`, no XLA): one warm-up
    each, then ``rounds`` rounds alternating the two; the median of each."""
    import keras
    import numpy as np

    from attention_lab import backend

    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    matmul = backend.compile_function(keras.ops.matmul, jit_compile=False)
    operands = {
        dtype: (keras.ops.convert_to_tensor(a, dtype), keras.ops.convert_to_tensor(b, dtype))
        for dtype in ("float32", "bfloat16")
    }
    seconds = {dtype: [] for dtype in operands}
    for pair in operands.values():
        keras.ops.convert_to_numpy(matmul(*pair))  # trace and warm up
    for _ in range(rounds):
        for dtype, pair in operands.items():
            start = time.perf_counter()
            keras.ops.convert_to_numpy(matmul(*pair))
            seconds[dtype].append(time.perf_counter() - start)
    flop = 2 * m * k * n
    return Probe(**{d: flop / float(np.median(s)) / 1e9 for d, s in seconds.items()})


def cached_probe() -> Probe:
    """This machine's :class:`Probe`, measured once and kept in ``$ATTENTION_LAB_CACHE``
    (``~/.cache/attention_lab``) under the CPU, its core count and the Keras backend; delete
    the file to measure again."""
    from attention_lab import backend

    cpu = this_cpu()
    flags = hashlib.sha256(" ".join(sorted(cpu.flags)).encode()).hexdigest()[:12]
    key = f"{cpu.model}|{os.cpu_count()} cores|{backend.name()}|flags {flags}"
    path = cache_root() / PROBE_FILE
    try:
        known = json.loads(path.read_text())
        return Probe(**known[key])
    except (OSError, ValueError, KeyError, TypeError):  # none yet, another machine, damaged
        known = {}
    probe = measure_probe()
    if not isinstance(known, dict):
        known = {}
    with contextlib.suppress(OSError):  # a read-only cache: measure again next time
        atomic_write_json(path, {**known, key: asdict(probe)})
    return probe


def choose_plan(
    precision: str = "auto",
    xla: str = "auto",
    device: str | None = None,
    probe: Probe | None = None,
) -> Plan:
    """The plan for ``--precision`` and ``--xla`` on ``device`` (``"cpu"``/``"gpu"``; found
    from the active backend when None). ``precision="auto"`` on a CPU decides by ``probe``
    (this machine's :func:`cached_probe` when None)."""
    if precision not in PRECISION_CHOICES:
        raise AttentionLabError(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISION_CHOICES)}"
        )
    if xla not in XLA_CHOICES:
        raise AttentionLabError(f"unknown --xla {xla!r}; choose one of {', '.join(XLA_CHOICES)}")
    from attention_lab import backend  # imports Keras: only when a plan is made

    if device is None:
        device = backend.accelerator()
    reasons = []
    if precision == "auto" and device == "gpu":
        precision = "bfloat16"
        reasons.append("bfloat16: a GPU computes it natively")
    elif precision == "auto":
        probe = probe or cached_probe()
        precision = probe.precision
        reasons.append(f"{precision}: this CPU {probe.describe()}")
    else:
        reasons.append(f"{precision} as asked")
    if xla == "auto":
        jit = device == "gpu"
        reasons.append(
            "XLA on the GPU" if jit else "no XLA on a CPU: oneDNN's kernels are faster there"
        )
    else:
        jit = xla == "on"
        reasons.append(f"XLA {xla} as asked")
    implementation = encoder_block(jit)
    reasons.append(
        "fused block: one QKV matmul, and TensorFlow fuses its 2-D matmuls with bias and GELU"
        if implementation == "fused"
        else "eager block: the definition (XLA fuses by itself)"
    )
    return Plan(precision, jit, "; ".join(reasons), implementation)
