"""What the numbers were measured on: CPU model, cores, the SIMD/matrix flags that matter for
bfloat16 (AVX-512 BF16, AMX), load, library versions, date."""

from __future__ import annotations

import datetime
import os
import platform

from attention_lab.runtime import this_cpu

# CPU flags that decide which matmul kernels oneDNN and XLA can use.
FLAGS_OF_INTEREST = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def cpu_info() -> dict:
    cpu = this_cpu()
    return {
        "model": cpu.model,
        "logical_cpus": os.cpu_count(),
        "flags": {flag: flag in cpu.flags for flag in FLAGS_OF_INTEREST},
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def versions() -> dict:
    import keras
    import keras_hub
    import tensorflow as tf
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_hub": keras_hub.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
