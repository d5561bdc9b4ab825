"""The machine's own matmul ceiling, measured in the same run as the models.

One matmul the size of BERT-Base's feed-forward layer at batch 8 × 128 (``m`` tokens ×
``k`` = 768 into ``n`` = 3072 outputs) is timed in TensorFlow (oneDNN, no XLA), TensorFlow
with XLA, and PyTorch, in float32 and bfloat16; the ceiling of a precision is the fastest of
them. A model's achieved GFLOP/s divided by that ceiling says how much of the hardware's
matmul speed it turns into useful work.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.flops import matmul_flops
from benchmarks.timing import Timing, alternate


def matmul_contenders(m: int, k: int, n: int) -> dict[str, Callable[[], object]]:
    import tensorflow as tf
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    contenders = {}
    for dtype in ("float32", "bfloat16"):
        ta, tb = tf.cast(a, dtype), tf.cast(b, dtype)
        plain = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)[:1]))
        xla = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)[:1]), jit_compile=True)
        contenders[f"tensorflow {dtype}"] = lambda p=plain, x=ta, y=tb: p(x, y).numpy()
        contenders[f"tensorflow XLA {dtype}"] = lambda p=xla, x=ta, y=tb: p(x, y).numpy()
        torch_dtype = getattr(torch, dtype)
        pa, pb = torch.from_numpy(a).to(torch_dtype), torch.from_numpy(b).to(torch_dtype)
        contenders[f"torch {dtype}"] = lambda x=pa, y=pb: float(torch.mm(x, y)[0, 0])
    return contenders


def measure_ceiling(
    m: int, k: int, n: int, warmup: int, repeats: int, log=print
) -> tuple[dict[str, Timing], dict[str, float]]:
    """Timings of every matmul contender and the ceiling GFLOP/s per precision."""
    timings = alternate(matmul_contenders(m, k, n), 1, warmup, repeats, log=log)
    flops = matmul_flops(m, k, n)
    ceiling = {
        dtype: max(flops / t.median_s / 1e9 for name, t in timings.items() if name.endswith(dtype))
        for dtype in ("float32", "bfloat16")
    }
    return timings, ceiling
