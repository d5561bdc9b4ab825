"""Which precision and compile path BERT runs with, and why: the one plan the library uses.

Two knobs decide the speed of the same model: the Keras dtype policy and whether the step is
compiled with XLA (``jit_compile``). :func:`choose_plan` turns the user's ``--precision`` and
``--xla`` (each ``"auto"`` by default) into a :class:`Plan` and says why, so that fine-tuning,
evaluation, prediction and the benchmarks all run the same way:

- **precision** ``"auto"``: bfloat16 mixed precision (``"mixed_bfloat16"``: bfloat16 matmuls,
  float32 variables, softmax, LayerNorm and GELU) where the hardware computes bfloat16 dot
  products natively: a GPU, or a CPU with AMX or AVX-512 BF16 instructions, on which oneDNN
  runs bfloat16 matmuls at about twice its float32 rate. Elsewhere float32, since emulated
  bfloat16 is slower than float32. float32 is also the precision in which the parity report's
  tolerances hold; bfloat16 stays within bfloat16 rounding of it (``attention-lab parity
  --precision bfloat16``).
- **XLA** ``"auto"``: on a GPU (fused kernels), not on a CPU, where TensorFlow's graph of oneDNN
  kernels ran the training step faster than XLA's CPU backend, which also does not use the
  bfloat16 dot-product instructions.
- **the encoder block**: ``"fused"`` (:mod:`attention_lab.models.bert_fused`) in a TensorFlow
  graph without XLA, whose optimizer fuses its 2-D matmuls with their bias and GELU; elsewhere
  ``"eager"``, the definition in :mod:`attention_lab.models.bert` (XLA fuses by itself).

The measurements behind these choices are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

from attention_lab.errors import AttentionLabError

# --precision -> the Keras dtype policy it runs under.
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
PRECISION_CHOICES = ("auto", *POLICIES)
XLA_CHOICES = ("auto", "on", "off")


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

    def compile(self, fn):
        """``fn`` compiled for the active backend, with XLA when :attr:`jit_compile`."""
        from attention_lab import backend

        return backend.compile_function(fn, self.jit_compile)

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


def choose_plan(precision: str = "auto", xla: str = "auto", device: str | None = None) -> Plan:
    """The plan for ``--precision`` and ``--xla`` on ``device`` (``"cpu"``/``"gpu"``; found
    from the active backend when None)."""
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
    if precision == "auto":
        native = "GPU" if device == "gpu" else native_bfloat16_cpu()
        precision = "bfloat16" if native else "float32"
        reasons.append(
            f"bfloat16: this {native if native == 'GPU' else f'CPU ({native})'} computes "
            "bfloat16 natively"
            if native
            else "float32: this CPU has no native bfloat16 (AMX or AVX-512 BF16)"
        )
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
    implementation = "fused" if backend.name() == "tensorflow" and not jit else "eager"
    reasons.append(
        "fused block: TensorFlow's graph fuses its matmuls with bias and GELU"
        if implementation == "fused"
        else "eager block: the definition, nothing to fuse by hand"
    )
    return Plan(precision, jit, "; ".join(reasons), implementation)
