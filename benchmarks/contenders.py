"""The contenders: ours (eager, tf.function, XLA, bfloat16), Hugging Face's PyTorch BertModel
(float32 and bfloat16 autocast) and KerasHub's BertBackbone (TensorFlow backend, XLA).

Ours run the encoder block that :func:`attention_lab.runtime.encoder_block` picks for each
mode (as :func:`attention_lab.runtime.choose_plan` does); the ``plain`` and ``fused`` modes run
the other block of
:mod:`attention_lab.models.bert` and :mod:`attention_lab.models.bert_fused`, so that each
run measures what the fused block gains or loses in every mode.

Every model is built from the same :class:`~attention_lab.models.bert.BertConfig` with random
weights (speed does not depend on the values). Inputs are random token ids with every position
real (attention mask all ones) and token types 0, identical for all contenders.

Each ``*_forward`` builder returns ``run(workload) -> callable``; each ``*_train`` builder
returns a callable doing one fine-tuning step: forward in training mode (dropout on), sparse
cross-entropy on a 2-class head over the pooled ``[CLS]`` output, backward, AdamW update.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the bf16 profile's baseline worker imports this with an older library
    from attention_lab.models.bert import BertConfig

LEARNING_RATE = 2e-5
NUM_LABELS = 2


def pin_threads(threads: int) -> None:
    """Give TensorFlow, XLA and PyTorch the same number of compute threads.

    Must run before TensorFlow executes anything. Inter-op parallelism is 1 everywhere, so
    ``threads`` is the whole budget of each framework.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import tensorflow as tf
    import torch

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


@dataclass(frozen=True)
class Workload:
    """One batch shape: ``batch`` sequences of ``length`` tokens."""

    config: BertConfig
    batch: int
    length: int
    seed: int = 0

    def arrays(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        shape = (self.batch, self.length)
        low = min(1000, self.config.vocab_size - 1)
        return {
            "input_ids": rng.integers(low, self.config.vocab_size, shape).astype(np.int32),
            "attention_mask": np.ones(shape, np.int32),
            "token_type_ids": np.zeros(shape, np.int32),
            "labels": rng.integers(0, NUM_LABELS, (self.batch,)).astype(np.int32),
        }


# --- ours -------------------------------------------------------------------------------


def _tf_inputs(workload: Workload):
    import tensorflow as tf

    arrays = workload.arrays()
    labels = tf.constant(arrays.pop("labels"))
    return {k: tf.constant(v) for k, v in arrays.items()}, labels


# Our modes: (precision, XLA, encoder block); block None is the one the runtime plan picks.
OURS_MODES = {
    "eager": ("float32", False, None),  # not compiled at all
    "function": ("float32", False, None),  # tf.function
    "xla": ("float32", True, None),  # tf.function(jit_compile=True)
    "bf16": ("bfloat16", False, None),  # mixed bfloat16, the library's CPU path
    "bf16-xla": ("bfloat16", True, None),
    "function-plain": ("float32", False, "eager"),
    "bf16-plain": ("bfloat16", False, "eager"),
    "eager-plain": ("float32", False, "eager"),
    "xla-fused": ("float32", True, "fused"),
}
# The contenders' names of our modes.
OURS = {
    "ours eager": "eager",
    "ours tf.function": "function",
    "ours XLA": "xla",
    "ours bf16": "bf16",
    "ours bf16 XLA": "bf16-xla",
    "ours tf.function plain": "function-plain",
    "ours bf16 plain": "bf16-plain",
    "ours eager plain": "eager-plain",
    "ours XLA fused": "xla-fused",
}


def ours_plan(mode: str):
    """The :class:`~attention_lab.runtime.Plan` of one of :data:`OURS_MODES` on a CPU."""
    from attention_lab.runtime import choose_plan

    precision, jit, block = OURS_MODES[mode]
    plan = choose_plan(precision, "on" if jit else "off", device="cpu")
    return replace(plan, implementation=block or plan.implementation)


def ours_forward(config: BertConfig, mode: str) -> Callable[[Workload], Callable[[], object]]:
    """``mode``: one of :data:`OURS_MODES`."""
    import tensorflow as tf

    from attention_lab.models.bert import BertModel

    plan = ours_plan(mode)
    model = BertModel(config, implementation=plan.implementation, dtype=plan.dtype_policy)
    model.build()
    if mode.startswith("eager"):
        call = model
    else:
        forward = lambda inputs: model(inputs, training=False)  # noqa: E731
        call = tf.function(forward, jit_compile=plan.jit_compile)

    def run(workload: Workload):
        inputs, _ = _tf_inputs(workload)
        return lambda: call(inputs)["pooled_output"].numpy()

    return run


def _keras_train_steps(model, modes: tuple[str, ...]) -> dict:
    """One AdamW optimizer for ``model`` and a step function per mode of :data:`OURS_MODES`
    (the ``eager`` modes: not compiled), sharing both."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.AdamW(learning_rate=LEARNING_RATE)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(inputs, labels):
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)  # (batch, NUM_LABELS)
            loss = loss_fn(labels, tf.cast(logits, "float32"))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    def compiled(mode: str):
        if mode.startswith("eager"):
            return step
        return tf.function(step, jit_compile=OURS_MODES[mode][1])

    return {mode: compiled(mode) for mode in modes}


def ours_train(config: BertConfig, modes: tuple[str, ...], workload: Workload) -> dict:
    """Steps of our ``BertForSequenceClassification`` for each mode of :data:`OURS_MODES`;
    the modes of one precision and encoder block share one model and optimizer."""
    from attention_lab.models.bert import BertForSequenceClassification

    groups: dict[tuple[str, str], list[str]] = {}
    for mode in modes:
        plan = ours_plan(mode)
        groups.setdefault((plan.dtype_policy, plan.implementation), []).append(mode)
    inputs, labels = _tf_inputs(workload)
    steps = {}
    for (policy, implementation), group in groups.items():
        model = BertForSequenceClassification(
            _with_labels(config), implementation=implementation, dtype=policy
        )
        model.build()
        for mode, step in _keras_train_steps(model, tuple(group)).items():
            steps[mode] = lambda step=step: step(inputs, labels).numpy()
    return steps


def _with_labels(config: BertConfig) -> BertConfig:
    return type(config).from_dict({**config.to_dict(), "num_labels": NUM_LABELS})


# --- Hugging Face transformers (PyTorch) ------------------------------------------------


def _hf_config(config: BertConfig):
    """The same architecture as a ``transformers.BertConfig``, through save_bert's mapping."""
    import transformers

    from attention_lab.convert.bert_folder import hf_config
    from attention_lab.models.bert import BertForSequenceClassification

    classifier = BertForSequenceClassification(replace(config, num_labels=NUM_LABELS))
    return transformers.BertConfig(**hf_config(classifier))


def _torch_inputs(workload: Workload):
    import torch

    arrays = workload.arrays()
    return {k: torch.from_numpy(v.astype(np.int64)) for k, v in arrays.items()}


def torch_forward(config: BertConfig, bf16: bool) -> Callable[[Workload], Callable[[], object]]:
    """transformers' ``BertModel`` in eval mode, default attention, ``inference_mode``."""
    import torch
    import transformers

    model = transformers.BertModel(_hf_config(config)).eval()

    def run(workload: Workload):
        inputs = _torch_inputs(workload)
        inputs.pop("labels")

        def call():
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                return model(**inputs).pooler_output.float().numpy()

        return call

    return run


def torch_train(config: BertConfig, workload: Workload) -> dict:
    """``BertForSequenceClassification`` steps, "fp32" and "bf16" (autocast over the forward
    pass and loss), sharing one model and AdamW optimizer."""
    import torch
    import transformers

    model = transformers.BertForSequenceClassification(_hf_config(config)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    inputs = _torch_inputs(workload)

    def step(bf16: bool):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        return loss.item()

    return {"fp32": lambda: step(False), "bf16": lambda: step(True)}


# --- KerasHub ---------------------------------------------------------------------------


def _kerashub_backbone(config: BertConfig, name: str):
    import keras_hub

    return keras_hub.models.BertBackbone(
        vocabulary_size=config.vocab_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size,
        dropout=config.hidden_dropout_prob,
        max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size,
        name=name,
    )


def _kerashub_inputs(workload: Workload):
    inputs, labels = _tf_inputs(workload)
    return {
        "token_ids": inputs["input_ids"],
        "segment_ids": inputs["token_type_ids"],
        "padding_mask": inputs["attention_mask"],
    }, labels


def kerashub_forward(config: BertConfig) -> Callable[[Workload], Callable[[], object]]:
    """KerasHub ``BertBackbone`` (random weights, no download), XLA-compiled."""
    import tensorflow as tf

    backbone = _kerashub_backbone(config, "kerashub_forward")
    call = tf.function(lambda inputs: backbone(inputs, training=False), jit_compile=True)

    def run(workload: Workload):
        inputs, _ = _kerashub_inputs(workload)
        return lambda: call(inputs)["pooled_output"].numpy()

    return run


def kerashub_train(config: BertConfig, workload: Workload) -> Callable[[], object]:
    import keras

    backbone = _kerashub_backbone(config, "kerashub_train")
    pooled = backbone.output["pooled_output"]
    dropped = keras.layers.Dropout(config.hidden_dropout_prob)(pooled)
    logits = keras.layers.Dense(NUM_LABELS, name="classifier")(dropped)
    model = keras.Model(backbone.input, logits)
    step = _keras_train_steps(model, ("xla",))["xla"]
    inputs, labels = _kerashub_inputs(workload)
    return lambda: step(inputs, labels).numpy()
