"""The few things Keras 3 does not abstract over its backends, in one place.

attention_lab's layers and models are written in ``keras.ops`` and run on TensorFlow (the
default), JAX and PyTorch alike; ``KERAS_BACKEND`` chooses, before Keras is imported. What
differs between the backends, and is needed outside of ``model.fit``, lives here:

- :func:`compile_function`: a function compiled for the backend, with or without XLA
  (TensorFlow: ``tf.function``, XLA with ``jit_compile=True``; JAX: ``jax.jit``, which is
  always XLA; PyTorch: eager, or ``torch.compile``);
- :func:`accelerator`: ``"gpu"`` when the backend sees a GPU, else ``"cpu"``.

Each backend's own module is imported only inside the branch that uses it.
"""

from __future__ import annotations

from collections.abc import Callable

import keras


def name() -> str:
    """``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    return keras.backend.backend()


def compile_function(fn: Callable, jit_compile: bool) -> Callable:
    """``fn`` compiled for the active backend; ``jit_compile`` asks for XLA (or its peer).

    Without ``jit_compile``, TensorFlow still builds a graph (``tf.function``: oneDNN kernels,
    no retracing for shapes seen before), JAX and PyTorch run op by op.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
    if not jit_compile:
        return fn
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "torch":
        import torch

        return torch.compile(fn)
    return fn


def accelerator() -> str:
    """``"gpu"`` when the active backend sees a GPU, else ``"cpu"``."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "jax":
        import jax

        return "gpu" if any(d.platform == "gpu" for d in jax.devices()) else "cpu"
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"
