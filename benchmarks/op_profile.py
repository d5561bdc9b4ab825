"""Where one call's time goes, op by op: TensorFlow's profiler and torch.profiler, grouped.

Both profilers record every kernel the call runs with its wall time on the thread that ran
it (TensorFlow: the executor thread, one op at a time with inter-op parallelism 1; PyTorch:
the calling thread and the autograd thread, each op's parallel region included). The ops
are put in the groups of :data:`GROUPS` by their type and name scope, so that the two
frameworks read side by side:

- **matmul**: every matrix product (oneDNN ``_MklMatMul``, ``_MklBatchMatMulV2`` and the
  fused ``_MklNativeFusedMatMul``, which also applies the bias and GELU; ``aten::mm``,
  ``addmm``, ``bmm``), forward and backward;
- **fused attention**: PyTorch's ``scaled_dot_product_attention`` kernel (Q Kᵀ, softmax and
  P V in one), which TensorFlow has no counterpart of;
- **weight casts**: float32 variables cast to bfloat16 at every call (TensorFlow: a ``Cast``
  whose input is a variable read, and its gradient; PyTorch: autocast's copies of 1-D and 2-D
  tensors);
- **activation casts**: the other casts, mostly into and out of the float32 islands;
- **softmax**, **LayerNorm**, **GELU**: the islands themselves (with the score scaling and
  mask addition of the softmax, and their gradients);
- **transpose/reshape** (with the concatenation of the query, key and value kernels),
  **bias add**, **residual add**, **dropout**, **embeddings**,
  **optimizer**, and **other** for the rest.

A group's figure is milliseconds per call, the sum over its ops divided by the number of
profiled calls; ``wall_ms`` is the call's own time under the profiler.
"""

from __future__ import annotations

import glob
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

GROUPS = (
    "matmul",
    "fused attention",
    "weight casts",
    "activation casts",
    "softmax",
    "LayerNorm",
    "GELU",
    "transpose/reshape",
    "bias add",
    "residual add",
    "dropout",
    "embeddings",
    "optimizer",
    "other",
)


@dataclass
class OpProfile:
    """Milliseconds per call by group and by op, and the wall time of a call."""

    calls: int
    wall_ms: float
    groups: dict[str, float] = field(default_factory=dict)
    ops: dict[str, float] = field(default_factory=dict)  # "name (type)" -> ms per call

    @property
    def total_ms(self) -> float:
        """Sum of every op's time: what the ops account for of ``wall_ms``."""
        return sum(self.groups.values())

    def top_ops(self, n: int = 12) -> list[tuple[str, float]]:
        return Counter(self.ops).most_common(n)

    def to_dict(self) -> dict:
        return {
            "calls": self.calls,
            "wall_ms": self.wall_ms,
            "ops_total_ms": self.total_ms,
            "groups_ms": {g: self.groups.get(g, 0.0) for g in GROUPS},
            "top_ops_ms": dict(self.top_ops(25)),
        }


def _collect(entries, calls: int, wall_s: float) -> OpProfile:
    profile = OpProfile(calls=calls, wall_ms=1e3 * wall_s / calls)
    groups, ops = Counter(), Counter()
    for group, label, ms in entries:
        groups[group] += ms / calls
        ops[label] += ms / calls
    profile.groups = {g: groups[g] for g in GROUPS if groups[g]}
    profile.ops = dict(ops)
    return profile


# --- TensorFlow -------------------------------------------------------------------------

_LAYER_SCOPE = re.compile(r"(^|/)layer_\d+(_\d+)?/")
_ATTENTION_SCOPE = re.compile(r"(^|/)attention(_\d+)?/")
_MOVES = ("Transpose", "_MklTranspose", "ConjugateTranspose", "Reshape", "Unpack", "Pack")


def tf_group(name: str, op_type: str, weight_casts: set[str]) -> str:
    """The group of TensorFlow op ``name`` (its node name) of type ``op_type``.

    ``weight_casts`` holds the names of the casts whose input is a variable read.
    """
    forward = name.removeprefix("gradient_tape/")
    if "dropout" in name:
        return "dropout"
    if forward.startswith(("adam_w/", "AdamW/")) or op_type.startswith(("Assign", "Resource")):
        return "optimizer"
    if op_type == "Cast":
        weight = forward in weight_casts or forward.rsplit("/", 1)[0] in weight_casts
        return "weight casts" if weight else "activation casts"
    if "MatMul" in op_type:
        return "matmul"
    if op_type in _MOVES or op_type == "ConcatV2" and _ATTENTION_SCOPE.search(forward):
        return "transpose/reshape"  # ConcatV2: [W^Q | W^K | W^V], built at every call
    if op_type in ("BiasAdd", "BiasAddGrad"):
        return "bias add"
    if "LayerNorm" in forward:
        return "LayerNorm"
    if "/Gelu/" in forward or op_type in ("Erf", "Erfc"):
        return "GELU"
    if "Softmax" in op_type or _ATTENTION_SCOPE.search(forward):
        return "softmax"
    if "embeddings" in forward:
        return "embeddings"
    if op_type in ("AddV2", "AddN") and _LAYER_SCOPE.search(forward):
        return "residual add"
    return "other"


def _xspace_events(logdir: str):
    """``(name, type, milliseconds)`` of every op event in the profile under ``logdir``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    for path in glob.glob(f"{logdir}/plugins/profile/*/*.xplane.pb"):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            metadata = plane.event_metadata
            for line in plane.lines:
                for event in line.events:
                    label = metadata[event.metadata_id].name
                    # op events are "node_name:OpType"; runtime events have "::", a space
                    # ("EagerLocalExecute: __inference_f_12", the whole call) or no colon
                    if "::" in label or " " in label or ":" not in label:
                        continue
                    name, op_type = label.rsplit(":", 1)
                    yield name, op_type, event.duration_ps / 1e9


def profile_tf(call: Callable[[], object], calls: int) -> OpProfile:
    """Profile ``calls`` calls of ``call`` (already warmed up) with TensorFlow's profiler."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        started = time.perf_counter()
        for _ in range(calls):
            call()
        wall = time.perf_counter() - started
        tf.profiler.experimental.stop()
        events = list(_xspace_events(logdir))
    # a variable's cast reads it through "<cast>/ReadVariableOp"
    reads = {name for name, op_type, _ in events if op_type == "ReadVariableOp"}
    weight_casts = {r.removesuffix("/ReadVariableOp") for r in reads}
    entries = [
        (tf_group(name, op_type, weight_casts), f"{name} ({op_type})", ms)
        for name, op_type, ms in events
        if op_type not in ("ReadVariableOp", "_Arg", "_Retval", "NoOp", "Identity", "Const")
    ]
    return _collect(entries, calls, wall)


# --- PyTorch ----------------------------------------------------------------------------

_TORCH_GROUPS = {
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::_mkldnn_"),
    "fused attention": ("aten::_scaled_dot_product", "aten::_flash_attention"),
    "softmax": ("aten::_softmax", "aten::softmax", "aten::_softmax_backward"),
    "LayerNorm": ("aten::native_layer_norm",),
    "GELU": ("aten::gelu",),
    "dropout": ("aten::native_dropout", "aten::bernoulli", "aten::dropout"),
    "embeddings": ("aten::embedding", "aten::index_select", "aten::embedding_dense_backward"),
}
_TORCH_MOVES = ("aten::clone", "aten::contiguous", "aten::transpose", "aten::permute")
_TORCH_CASTS = ("aten::_to_copy", "aten::to")


def _torch_group(event, ancestors: list[str]) -> str:
    name = event.name
    if any(a.startswith("Optimizer.") for a in (*ancestors, name)):
        return "optimizer"
    for group, prefixes in _TORCH_GROUPS.items():
        if name.startswith(prefixes) or any(a.startswith(prefixes) for a in ancestors[-2:]):
            return group
    if name in ("aten::copy_", *_TORCH_CASTS):
        cast = next((a for a in reversed(ancestors) if a in _TORCH_CASTS + _TORCH_MOVES), None)
        if cast in _TORCH_MOVES:
            return "transpose/reshape"
        shapes = getattr(event, "input_shapes", None) or [[]]
        return "weight casts" if len(shapes[0]) in (1, 2) else "activation casts"
    if name.startswith(_TORCH_MOVES) or name in ("aten::view", "aten::reshape"):
        return "transpose/reshape"
    if name.startswith(("aten::add", "aten::sum")):
        return "residual add"
    return "other"


def profile_torch(call: Callable[[], object], calls: int) -> OpProfile:
    """Profile ``calls`` calls of ``call`` (already warmed up) with torch.profiler, by each
    op's self time (its own kernels, not those of the ops it calls)."""
    import torch

    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities, record_shapes=True) as prof:
        started = time.perf_counter()
        for _ in range(calls):
            call()
        wall = time.perf_counter() - started
    entries = []
    for event in prof.events():
        ancestors, parent = [], event.cpu_parent
        while parent is not None:
            ancestors.insert(0, parent.name)
            parent = parent.cpu_parent
        ms = event.self_cpu_time_total / 1e3
        if ms > 0:
            entries.append((_torch_group(event, ancestors), event.name, ms))
    return _collect(entries, calls, wall)
