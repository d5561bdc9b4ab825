"""Which precision and compile path to run BERT with, per device, and why.

Two knobs decide the speed of the same model: the Keras dtype policy (``"float32"`` or
``"mixed_bfloat16"``: bfloat16 matmuls, float32 variables, softmax and LayerNorm statistics)
and whether ``tf.function`` compiles with XLA (``jit_compile=True``).

Measured on this project's CPU (AMD EPYC with AVX-512 BF16, no AMX; docs/benchmarks.md):

* float32: XLA is the fastest path (it fuses the elementwise work between the matmuls).
* bfloat16: TensorFlow's oneDNN kernels (no XLA) run bfloat16 matmuls with the CPU's
  bfloat16 dot-product instructions; XLA's CPU backend does not, so without XLA is faster.

On a GPU, XLA with mixed bfloat16 is the usual best choice (tensor cores, fused kernels);
it could not be measured here (no GPU was lent to this task).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExecutionPlan:
    """A dtype policy for the model and the ``jit_compile`` flag for its ``tf.function``."""

    dtype_policy: str
    jit_compile: bool


def cpu_plan(mixed_precision: bool = False) -> ExecutionPlan:
    """The fastest measured path on CPU for the requested precision."""
    if mixed_precision:
        return ExecutionPlan("mixed_bfloat16", jit_compile=False)
    return ExecutionPlan("float32", jit_compile=True)


def gpu_plan(mixed_precision: bool = True) -> ExecutionPlan:
    """XLA on a GPU, in mixed bfloat16 unless float32 is asked for."""
    return ExecutionPlan("mixed_bfloat16" if mixed_precision else "float32", jit_compile=True)


def default_plan(mixed_precision: bool | None = None) -> ExecutionPlan:
    """The library's default: float32 on CPU (exact parity), mixed bfloat16 on a GPU."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return gpu_plan(True if mixed_precision is None else mixed_precision)
    return cpu_plan(bool(mixed_precision))
