"""The few things Keras 3 does not abstract over its backends, in one place.

attention_lab's layers and models are written in ``keras.ops`` and run on TensorFlow (the
default), JAX and PyTorch alike; ``KERAS_BACKEND`` chooses, before Keras is imported. What
differs between the backends, and is needed outside of ``model.fit``, lives here:

- :func:`compile_function`: a function compiled for the backend, with or without XLA
  (TensorFlow: ``tf.function``, XLA with ``jit_compile=True``; JAX: ``jax.jit``, which is
  always XLA; PyTorch: eager, or ``torch.compile``);
- :func:`accelerator`: ``"gpu"`` when the backend sees a GPU, else ``"cpu"``;
- :func:`value_and_gradients`: a loss of a model's outputs and its gradient for every trainable
  weight (TensorFlow's ``GradientTape``, ``jax.value_and_grad``, ``torch.autograd.grad``);
- :func:`keep_freed_memory`: undo what ``tf.data``'s ``from_generator`` does to glibc's
  allocator, which otherwise makes every training step fault in fresh pages.

Each backend's own module is imported only inside the branch that uses it.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Callable

import keras


def name() -> str:
    """``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    return keras.backend.backend()


def compile_function(fn: Callable, jit_compile: bool, example=None) -> Callable:
    """``fn`` compiled for the active backend; ``jit_compile`` asks for XLA (or its peer).

    Without ``jit_compile``, TensorFlow still builds a graph (``tf.function``: oneDNN kernels,
    no retracing for shapes seen before), JAX and PyTorch run op by op. ``example``, one
    argument like those to come (arrays, or a dict of them): TensorFlow traces ``fn`` once for
    every argument of that structure and dtype, whatever its shape (batches of any size and
    length), instead of once for the first shape and again for the shapes after it.
    """
    backend = name()
    if backend == "tensorflow":
        import numpy as np
        import tensorflow as tf

        def any_shape(array):
            array = np.asarray(array)
            return tf.TensorSpec([None] * array.ndim, tf.as_dtype(array.dtype))

        signature = None if example is None else [tf.nest.map_structure(any_shape, example)]
        return tf.function(
            fn, jit_compile=jit_compile, reduce_retracing=True, input_signature=signature
        )
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


def value_and_gradients(model, loss_of: Callable, inputs: dict) -> tuple[object, list]:
    """``loss_of(model(inputs))`` in inference mode, and its gradient for each of
    ``model.trainable_variables`` in that order, as dense tensors of the backend."""
    variables = model.trainable_variables
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss_of(model(inputs, training=False))
        # an embedding lookup gives IndexedSlices; a tied decoder adds a dense part
        return value, [tf.convert_to_tensor(g) for g in tape.gradient(value, variables)]
    if backend == "jax":
        import jax

        frozen = [v.value for v in model.non_trainable_variables]

        def of_weights(trainable):
            outputs, _ = model.stateless_call(trainable, frozen, inputs, training=False)
            return loss_of(outputs)

        return jax.value_and_grad(of_weights)([v.value for v in variables])
    import torch

    value = loss_of(model(inputs, training=False))
    return value, list(torch.autograd.grad(value, [v.value for v in variables]))


# glibc's mallopt parameters (malloc.h) and the largest mmap threshold it accepts on 64-bit
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024
_freed_memory_kept = False


def keep_freed_memory() -> None:
    """Let glibc reuse freed buffers again after TensorFlow's ``from_generator`` has run.

    The first ``tf.data.Dataset.from_generator`` pipeline to run in a process calls
    ``mallopt(M_TRIM_THRESHOLD, 128 KiB)`` (TensorFlow logs "Memory patch applied"). Setting
    any threshold also switches off glibc's adaptive mmap threshold, so from then on every
    buffer above 128 KiB, most activations and gradients of a training step, is mapped when
    allocated and unmapped when freed, and its pages fault in, zeroed, at their next use: much
    of a fine-tuning process's CPU time went to the kernel (measured in ``docs/benchmarks.md``).
    This runs a one-element ``from_generator`` pipeline, so that TensorFlow's setting is made
    now and only once, then raises the mmap threshold to glibc's largest (32 MiB) and the trim
    threshold to 1 GiB: freed buffers stay in the heap for the next step, as glibc's own
    adaptive threshold would have kept them. Once per process; nothing on other backends or C
    libraries.
    """
    global _freed_memory_kept
    if _freed_memory_kept or name() != "tensorflow" or platform.libc_ver()[0] != "glibc":
        return
    import tensorflow as tf

    signature = tf.TensorSpec((), tf.int32)
    for _ in tf.data.Dataset.from_generator(lambda: iter([0]), output_signature=signature):
        pass
    libc = ctypes.CDLL(None)  # the C library this process already runs on
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
    libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    _freed_memory_kept = True


def seed_deterministically(seed: int) -> None:
    """Seed Python, NumPy and the backend (``keras.utils.set_random_seed``); on TensorFlow also
    make its kernels deterministic, so a resumed run repeats an uninterrupted one."""
    keras.utils.set_random_seed(seed)
    if name() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
