"""One shared harness for every hand-written layer.

``check_layer`` runs the four checks each layer must pass: its config round-trips through
``get_config``/``from_config``, it builds, its output is the same eagerly and compiled with
XLA (max abs diff <= 1e-5 in float32), and a copy rebuilt from its config with its weights
gives the same output (save/load).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

XLA_TOLERANCE = 1e-5


def _first(outputs):
    return outputs[0] if isinstance(outputs, tuple | list) else outputs


def _as_numpy(outputs):
    return [np.asarray(t) for t in tf.nest.flatten(outputs)]


def check_layer(layer: keras.layers.Layer, *args, **kwargs):
    """Run the harness on ``layer`` called as ``layer(*args, **kwargs)``; returns eager outputs."""
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config, "get_config() does not round-trip through from_config()"

    eager = layer(*args, **kwargs)
    assert layer.built and layer.weights, "layer did not build its weights on first call"

    compiled = tf.function(lambda *a: layer(*a, **kwargs), jit_compile=True)(*args)
    for a, b in zip(_as_numpy(eager), _as_numpy(compiled), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=XLA_TOLERANCE, rtol=0)

    clone(*args, **kwargs)
    clone.set_weights(layer.get_weights())
    for a, b in zip(_as_numpy(eager), _as_numpy(clone(*args, **kwargs)), strict=True):
        np.testing.assert_array_equal(a, b)
    return eager
