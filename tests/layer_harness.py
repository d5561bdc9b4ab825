"""One harness for every hand-written layer and model, on every Keras backend.

``check_layer(cls, init_kwargs, args, kwargs)`` builds ``cls(**init_kwargs)``, calls it as
``layer(*args, **kwargs)`` on NumPy inputs and makes the checks of KerasHub's
``run_layer_test`` (and of its serialization, saving and precision tests), and a few more:

1. **config**: every ``__init__`` argument is stored under its own name and appears in
   ``get_config()``; ``from_config`` rebuilds a layer with equal arguments, the same JSON
   config and the same attributes. A field missing from ``get_config`` fails here even when
   the test passes its default value.
2. **serialization**: ``keras.saving.serialize_keras_object``, through JSON, and
   ``deserialize_keras_object`` give back the same config.
3. **shapes**: a symbolic call (``KerasTensor`` inputs) gives the shapes and dtypes of the
   real outputs, and ``compute_output_shape``, where the layer defines it, agrees with them.
4. **compiled**: the output is the same eagerly and compiled with XLA
   (:func:`attention_lab.backend.compile_function`), within ``COMPILED_TOLERANCE``.
5. **training call**: inference is deterministic; where the layer holds a dropout of rate
   > 0, ``training=True`` changes the output, two training calls draw different masks, and
   the same global seed (``keras.utils.set_random_seed``) before building reproduces them;
   where it holds none, ``training=True`` changes nothing.
6. **gradients**: one SGD step of ``model.fit`` moves every trainable variable (none is
   cut off from the loss).
7. **saving**: a ``.keras`` file (the model itself, or a functional model around a layer)
   reloads into an object of the same class whose outputs equal the original's exactly.
8. **mixed precision** (``mixed_bfloat16``): variables stay float32, every sublayer computes
   in bfloat16, floating outputs are bfloat16 (or float32 where the layer documents it,
   ``float32_outputs``), finite, and within ``BF16_TOLERANCE`` of the float32 outputs of the
   same weights.

Nothing here is TensorFlow-specific: ``tests/test_backends_layers.py`` runs the same checks
under JAX and PyTorch.
"""

from __future__ import annotations

import inspect
import json

import keras
import numpy as np
from keras import ops, tree

from attention_lab import backend

# float32: XLA may fuse and reorder sums; a few ulps of outputs of order 1.
COMPILED_TOLERANCE = 1e-5
# bfloat16 keeps 8 significant bits (eps 2**-7 = 0.0078): allow four eps, relative to the
# largest float32 output, for a handful of roundings through the layer.
BF16_TOLERANCE = 4 * 2**-7
SEED = 1234


def _numpy(outputs) -> list[np.ndarray]:
    return [np.asarray(ops.convert_to_numpy(t)) for t in tree.flatten(outputs)]


def _dtype(x) -> str:
    return keras.backend.standardize_dtype(x.dtype)


def _sublayers(layer) -> list[keras.layers.Layer]:
    # Keras has no public walk over nested sublayers; KerasHub's harness uses this one too.
    return list(layer._flatten_layers(include_self=False, recursive=True))


def _dropout_rates(layer) -> list[float]:
    return [s.rate for s in _sublayers(layer) if isinstance(s, keras.layers.Dropout)]


def _init_parameters(cls) -> list[str]:
    skip = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    signature = inspect.signature(cls.__init__)
    return [p.name for p in list(signature.parameters.values())[1:] if p.kind not in skip]


def _json(config) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def _assert_same(a, b, atol=0.0, what="outputs"):
    a, b = _numpy(a), _numpy(b)
    assert len(a) == len(b), f"{what}: {len(a)} tensors against {len(b)}"
    for x, y in zip(a, b, strict=True):
        assert x.shape == y.shape, f"{what}: shapes {x.shape} and {y.shape}"
        np.testing.assert_allclose(x, y, atol=atol, rtol=0, err_msg=what)


class LayerCase:
    """A layer class, its arguments and its inputs; builds fresh instances on demand.

    ``float32_outputs`` are the indices (in ``keras.tree.flatten`` order) of outputs that stay
    float32 under mixed precision.
    """

    def __init__(self, cls, init_kwargs, args, kwargs=None, float32_outputs=()):
        self.cls, self.init_kwargs = cls, dict(init_kwargs)
        self.args, self.kwargs = tuple(args), dict(kwargs or {})
        self.float32_outputs = tuple(float32_outputs)

    def check(self, directory, compiled: bool = True):
        """Every check of the module docstring; returns the eager float32 outputs.

        ``directory`` is where the ``.keras`` file goes; ``compiled=False`` skips the XLA
        check (``torch.compile`` takes seconds per layer).
        """
        check_config(self)
        layer = self.make()
        outputs = self.call(layer)
        assert layer.built and layer.weights, "the layer did not build its weights on first call"
        check_shapes(self, layer, outputs)
        if compiled:
            check_compiled(self, layer, outputs)
        check_training_call(self, layer, outputs)
        check_saving(self, layer, outputs, directory)
        check_mixed_precision(self, layer, outputs, self.float32_outputs)
        check_gradients(self, layer)
        return outputs

    def make(self, **overrides):
        return self.cls(**{**self.init_kwargs, **overrides})

    def call(self, layer, **call_kwargs):
        return layer(*self.args, **self.kwargs, **call_kwargs)

    def built_copy(self, layer, **overrides):
        """A new instance with ``layer``'s weights."""
        copy = self.make(**overrides)
        self.call(copy)
        copy.set_weights(layer.get_weights())
        return copy

    def symbolic(self):
        """``KerasTensor``s of the inputs' shapes and dtypes, in the call's structure."""
        return tree.map_structure(
            lambda x: keras.KerasTensor(np.shape(x), np.asarray(x).dtype), (self.args, self.kwargs)
        )

    def functional(self, layer):
        """A functional model around ``layer``, with one ``keras.Input`` per input tensor."""
        inputs = tree.map_structure(
            lambda x: keras.Input(shape=np.shape(x)[1:], dtype=np.asarray(x).dtype),
            (self.args, self.kwargs),
        )
        args, kwargs = inputs
        return keras.Model(tree.flatten(inputs), layer(*args, **kwargs))

    def flat_inputs(self):
        return tree.flatten((self.args, self.kwargs))


def check_config(case: LayerCase) -> None:
    layer = case.make()
    config = layer.get_config()
    for name in _init_parameters(case.cls):
        assert hasattr(layer, name), f"__init__ argument {name!r} is not stored on the layer"
        assert name in config, f"__init__ argument {name!r} is missing from get_config()"
        if name in case.init_kwargs:
            assert getattr(layer, name) == case.init_kwargs[name], (
                f"{name!r} is stored as another value"
            )
    revived = case.cls.from_config(config)
    for name in _init_parameters(case.cls):
        assert getattr(revived, name) == getattr(layer, name), f"{name!r} lost in from_config"
    assert _json(revived.get_config()) == _json(config), "get_config() does not round-trip"
    assert set(dir(revived)) == set(dir(layer)), "from_config() builds different attributes"

    serialized = json.loads(_json(keras.saving.serialize_keras_object(layer)))
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is case.cls
    assert _json(restored.get_config()) == _json(config), "serialization does not round-trip"


def check_shapes(case: LayerCase, layer, outputs) -> None:
    real = [(tuple(x.shape), _dtype(x)) for x in tree.flatten(outputs)]
    args, kwargs = case.symbolic()
    spec = case.make(dtype=layer.dtype_policy)(*args, **kwargs)
    spec = [(tuple(s.shape), s.dtype) for s in tree.flatten(spec)]
    if backend.name() == "torch" and layer.dtype_policy.name != "float32":
        # Keras's symbolic call on PyTorch gives a nested Dense under a mixed policy its
        # variable dtype (float32) while the real call computes in bfloat16: shapes only.
        spec, real = [s for s, _ in spec], [s for s, _ in real]
    assert spec == real, "the symbolic call does not give the real output shapes and dtypes"
    if type(layer).compute_output_shape is not keras.layers.Layer.compute_output_shape:
        shapes = layer.compute_output_shape(np.shape(tree.flatten(case.args)[0]))
        shapes = shapes if len(real) > 1 else [shapes]
        assert [tuple(s) for s in shapes] == [tuple(x.shape) for x in tree.flatten(outputs)], (
            "compute_output_shape does not give the real output shapes"
        )


def check_compiled(case: LayerCase, layer, outputs) -> None:
    def forward(*flat):
        args, kwargs = tree.pack_sequence_as((case.args, case.kwargs), list(flat))
        return layer(*args, **kwargs)

    compiled = backend.compile_function(forward, jit_compile=True)
    _assert_same(compiled(*case.flat_inputs()), outputs, COMPILED_TOLERANCE, "eager vs XLA")


def check_training_call(case: LayerCase, layer, outputs) -> None:
    _assert_same(case.call(layer, training=False), outputs, what="two inference calls")
    if not any(rate > 0 for rate in _dropout_rates(layer)):
        _assert_same(case.call(layer, training=True), outputs, what="training without dropout")
        return

    def seeded_training_calls():
        keras.utils.set_random_seed(SEED)
        copy = case.built_copy(layer)
        return case.call(copy, training=True), case.call(copy, training=True)

    first, second = seeded_training_calls()
    changed = [
        not np.array_equal(a, b) for a, b in zip(_numpy(first), _numpy(outputs), strict=True)
    ]
    assert any(changed), "dropout > 0 but training=True leaves the output unchanged"
    redrawn = [not np.array_equal(a, b) for a, b in zip(_numpy(first), _numpy(second), strict=True)]
    assert any(redrawn), "two training calls drew the same dropout mask"
    again, _ = seeded_training_calls()
    _assert_same(again, first, what="training calls under the same seed")


def check_gradients(case: LayerCase, layer) -> None:
    copy = case.built_copy(layer)
    model = copy if isinstance(copy, keras.Model) else case.functional(copy)
    x = case.args[0] if model is copy else case.flat_inputs()
    outputs = model(x)
    rng = np.random.default_rng(0)
    targets = tree.map_structure(
        lambda t: rng.normal(size=tuple(t.shape)).astype("float32"), outputs
    )
    if isinstance(targets, tuple):
        targets = list(targets)
    before = {v.path: np.array(v.numpy()) for v in copy.trainable_variables}
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)
    model.fit(x, targets, batch_size=len(tree.flatten(case.args)[0]), epochs=1, verbose=0)
    frozen = [p for p in before if np.array_equal(before[p], _by_path(copy, p))]
    assert not frozen, f"no gradient reaches {frozen}"


def _by_path(layer, path):
    return next(np.asarray(v.numpy()) for v in layer.trainable_variables if v.path == path)


def check_saving(case: LayerCase, layer, outputs, directory) -> None:
    path = f"{directory}/{case.cls.__name__}.keras"
    if isinstance(layer, keras.Model):
        layer.save(path)
        restored = keras.models.load_model(path)
        assert type(restored) is case.cls
        _assert_same(case.call(restored), outputs, what=".keras reload")
        return
    case.functional(layer).save(path)
    restored = keras.models.load_model(path)
    inner = [s for s in restored.layers if type(s) is case.cls]
    assert len(inner) == 1, f"{case.cls.__name__} not found in the reloaded model"
    _assert_same(restored(case.flat_inputs()), outputs, what=".keras reload")


def check_mixed_precision(case: LayerCase, layer, outputs, float32_outputs=()) -> None:
    mixed = case.built_copy(layer, dtype="mixed_bfloat16")
    assert {_dtype(v) for v in mixed.weights} <= {"float32"}, "variables are not float32"
    wrong = [s.name for s in _sublayers(mixed) if s.compute_dtype != "bfloat16"]
    assert not wrong, f"sublayers not under the layer's policy: {wrong}"
    result = case.call(mixed)
    flat = tree.flatten(result)
    for i, tensor in enumerate(flat):
        expected = "float32" if i in float32_outputs else "bfloat16"
        assert _dtype(tensor) == expected, f"output {i} is {_dtype(tensor)}, not {expected}"
    check_shapes(case, mixed, result)
    for i, (low, ref) in enumerate(zip(_numpy(result), _numpy(outputs), strict=True)):
        low = low.astype(np.float32)
        assert np.isfinite(low).all(), f"output {i} is not finite in mixed_bfloat16"
        error = float(np.abs(low - ref).max()) / float(np.abs(ref).max())
        assert error <= BF16_TOLERANCE, f"output {i}: bfloat16 off by {error:.4f} (relative)"


def check_layer(
    cls,
    init_kwargs: dict,
    args: tuple,
    kwargs: dict | None = None,
    *,
    directory,
    float32_outputs: tuple[int, ...] = (),
    compiled: bool = True,
):
    """Run every check on ``cls(**init_kwargs)`` called as ``layer(*args, **kwargs)``.

    ``args``/``kwargs`` hold NumPy arrays (or dicts of them, for the models);
    ``directory`` is where the ``.keras`` file goes; ``float32_outputs`` are the indices
    (in ``keras.tree.flatten`` order) of outputs that stay float32 under mixed precision;
    ``compiled=False`` skips the XLA check (``torch.compile`` takes seconds per layer).
    Returns the eager float32 outputs.
    """
    return LayerCase(cls, init_kwargs, args, kwargs, float32_outputs).check(directory, compiled)


def layer_cases() -> dict[str, LayerCase]:
    """Every hand-written layer at a tiny size, on a config whose every field is away from its
    default, with non-zero dropout so that the training-call check sees dropout at work."""
    from attention_lab.layers.bahdanau import BahdanauAttention
    from attention_lab.models.bert import (
        BertConfig,
        BertEmbeddings,
        BertPooler,
        MultiHeadSelfAttention,
        TransformerEncoderBlock,
        additive_attention_mask,
    )
    from attention_lab.models.bert_fused import FusedTransformerEncoderBlock

    rng = np.random.default_rng(0)
    batch, length, hidden = 2, 7, 16
    config = BertConfig(
        vocab_size=50,
        hidden_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=32,
        hidden_act="gelu_new",
        hidden_dropout_prob=0.2,
        attention_probs_dropout_prob=0.3,
        max_position_embeddings=16,
        type_vocab_size=3,
        initializer_range=0.03,
        layer_norm_eps=1e-6,
    )
    states = rng.normal(size=(batch, length, hidden)).astype("float32")
    padding = np.array([[1] * 7, [1] * 4 + [0] * 3], dtype="int32")
    mask = np.asarray(ops.convert_to_numpy(additive_attention_mask(padding)))
    return {
        "multi_head_attention": LayerCase(
            MultiHeadSelfAttention, {"config": config}, (states, mask), float32_outputs=(1,)
        ),
        "encoder_block": LayerCase(
            TransformerEncoderBlock, {"config": config}, (states, mask), float32_outputs=(1,)
        ),
        "fused_encoder_block": LayerCase(
            FusedTransformerEncoderBlock, {"config": config}, (states, mask), float32_outputs=(1,)
        ),
        "embeddings": LayerCase(
            BertEmbeddings,
            {"config": config},
            (rng.integers(0, 50, size=(batch, length)).astype("int32"), padding),
        ),
        "pooler": LayerCase(BertPooler, {"config": config}, (states,)),
        "bahdanau": LayerCase(
            BahdanauAttention,
            dict(units=5),
            (rng.normal(size=(batch, 6)).astype("float32"), states),
            dict(mask=padding.astype(bool)),
        ),
    }
