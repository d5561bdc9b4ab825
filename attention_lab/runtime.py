"""Which precision and compile path to run BERT with, per device, and why.

Two knobs decide the speed of the same model: the Keras dtype policy (``"float32"`` or
``"mixed_bfloat16"``: bfloat16 matmuls, float32 variables, softmax and LayerNorm statistics)
and whether ``tf.function`` compiles with XLA (``jit_compile=True``).

On this project's CPU (AMD EPYC, AVX-512 with BF16 dot products, no AMX), measured side by
side in ``docs/benchmarks.md`` (``python -m benchmarks``):

* float32 is the default on CPU: it is the precision in which ``attention-lab parity`` holds
  (1e-4 on hidden states, 1e-5 on attention), eager, in ``tf.function`` (tests/test_runtime.py)
  and with XLA. It runs as a plain ``tf.function`` (oneDNN kernels), without XLA: in two
  runs of the benchmark that was faster for a training step (2.09 and 2.04 examples/s at
  16 × 150, against 1.65 and 1.62 with XLA) and as fast for inference within the runs'
  noise (ours tf.function / ours XLA 1.00 and 1.01 at 8 × 128, 1.02 and 0.93 at 16 × 150).
* bfloat16 (opt-in, ``mixed_precision=True``) runs without XLA: TensorFlow's oneDNN kernels
  use the CPU's bfloat16 dot-product instructions, while XLA's CPU backend computes bfloat16
  matmuls no faster than float32. It stays within bfloat16 rounding of float32 (cosine
  similarity above 0.999 on real weights, tests/test_benchmarks.py), not within float32 parity.

On a GPU the default is mixed bfloat16 with XLA (tensor cores, fused kernels); no GPU was
available to measure it for this project.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExecutionPlan:
    """A dtype policy for the model and the ``jit_compile`` flag for its ``tf.function``."""

    dtype_policy: str
    jit_compile: bool

    def compile(self, fn):
        """``fn`` wrapped in ``tf.function`` with this plan's ``jit_compile``."""
        import tensorflow as tf

        return tf.function(fn, jit_compile=self.jit_compile)


def cpu_plan(mixed_precision: bool = False) -> ExecutionPlan:
    """The fastest measured path on CPU for the requested precision."""
    if mixed_precision:
        return ExecutionPlan("mixed_bfloat16", jit_compile=False)
    return ExecutionPlan("float32", jit_compile=False)


def gpu_plan(mixed_precision: bool = True) -> ExecutionPlan:
    """XLA on a GPU, in mixed bfloat16 unless float32 is asked for."""
    return ExecutionPlan("mixed_bfloat16" if mixed_precision else "float32", jit_compile=True)


def default_plan(mixed_precision: bool | None = None) -> ExecutionPlan:
    """The library's default: float32 on CPU (exact parity), mixed bfloat16 on a GPU."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return gpu_plan(True if mixed_precision is None else mixed_precision)
    return cpu_plan(bool(mixed_precision))
