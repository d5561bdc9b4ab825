"""The few things Keras 3 does not abstract over its backends, in one place.

attention_lab's layers and models are written in ``keras.ops`` and run on TensorFlow (the
default), JAX and PyTorch alike; ``KERAS_BACKEND`` chooses, before Keras is imported. What
differs between the backends, and is needed outside of ``model.fit``, lives here:

- :func:`compile_function`: a function compiled for the backend, with or without XLA
  (TensorFlow: ``tf.function``, XLA with ``jit_compile=True``; JAX: ``jax.jit``, which is
  always XLA; PyTorch: eager, or ``torch.compile``);
- :func:`is_traced`: whether a tensor is symbolic (being traced or compiled) rather than a
  concrete value that can be checked in NumPy;
- :func:`graph_assert_in_range`: the run-time range check TensorFlow graphs can carry;
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


def is_traced(x) -> bool:
    """True when ``x`` has no concrete value yet (inside ``tf.function``, ``jax.jit``, ...)."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly() or keras.backend.is_keras_tensor(x)
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer) or keras.backend.is_keras_tensor(x)
    if backend == "torch":
        import torch
        from keras.src.backend.common.symbolic_scope import in_symbolic_scope

        # Keras traces a PyTorch model symbolically by calling it on placeholder tensors.
        return (
            torch.compiler.is_compiling() or in_symbolic_scope() or keras.backend.is_keras_tensor(x)
        )
    return keras.backend.is_keras_tensor(x)


def graph_assert_in_range(ids, upper: int, message: str) -> None:
    """Add a run-time check ``0 <= ids < upper`` to a TensorFlow graph (a no-op elsewhere).

    XLA drops such assertions, and JAX and PyTorch graphs cannot raise from data: compiled
    callers validate their inputs before the call (see
    :func:`attention_lab.layers.embeddings.check_ids_in_range`).
    """
    if name() != "tensorflow":
        return
    import tensorflow as tf

    tf.debugging.assert_non_negative(ids, message=message)
    tf.debugging.assert_less(ids, tf.cast(upper, ids.dtype), message=message)


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
