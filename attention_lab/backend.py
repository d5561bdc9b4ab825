"""The few things Keras 3 does not abstract over its backends, in one place.

attention_lab's layers and models are written in ``keras.ops`` and run on TensorFlow (the
default), JAX and PyTorch alike; ``KERAS_BACKEND`` chooses, before Keras is imported. What
differs between the backends, and is needed outside of ``model.fit``, lives here:

- :func:`compile_function`: a function compiled for the backend, with or without XLA
  (TensorFlow: ``tf.function``, XLA with ``jit_compile=True``; JAX: ``jax.jit``, which is
  always XLA; PyTorch: eager, or ``torch.compile``);
- :func:`accelerator`: ``"gpu"`` when the backend sees a GPU, else ``"cpu"``;
- :func:`value_and_gradients`: a loss of a model's outputs and its gradient for every trainable
  weight (TensorFlow's ``GradientTape``, ``jax.value_and_grad``, ``torch.autograd.grad``).

Each backend's own module is imported only inside the branch that uses it.
"""

from __future__ import annotations

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


def seed_deterministically(seed: int) -> None:
    """Seed Python, NumPy and the backend (``keras.utils.set_random_seed``); on TensorFlow also
    make its kernels deterministic, so a resumed run repeats an uninterrupted one."""
    keras.utils.set_random_seed(seed)
    if name() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
