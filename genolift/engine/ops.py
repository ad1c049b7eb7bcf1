"""genolift graph operations (forward pass), written once against the backend seam.

One implementation per operation of the support table (:data:`..model.support.OPS`),
which also says how DeepLIFT treats it: ``linear`` (multipliers follow the
chain rule), ``elementwise`` (a one-input nonlinearity: Rescale), ``maxpool``
(cross-max rule), ``product`` (two changing inputs, elementwise or an
``einsum`` contraction: the Shapley split) or
``softmax`` (a final softmax is stripped by the target; one inside the network
is rewritten by the model reader into exp / sum / reciprocal / product).

:data:`~.elementwise.ELEMENTWISE` holds the nonlinearities (with their
derivatives), :data:`FORWARD` every operation; ``forward(xp, node, inputs, consts)``
returns the output tensor, ``xp`` being a backend module
(:mod:`genolift.engine.backends`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import UnsupportedLayerError
from ..model.support import OPS
from . import recurrent
from .elementwise import ELEMENTWISE, derivative, nonlinearity  # noqa: F401  (re-exported: the one table)


def _conv1d(xp, node, inputs, consts):
    x = inputs[0]
    kernel, bias = consts
    p = node.params
    padding = p["padding"]
    if padding == "causal":
        x = xp.pad(x, [(0, 0), (p["dilation"] * (xp.shape(kernel)[0] - 1), 0), (0, 0)])
        padding = "valid"
    return xp.bias_add(xp.conv1d(x, kernel, p["strides"], padding, p["dilation"], p.get("groups", 1)), bias)


def _dense(xp, node, inputs, consts):
    kernel, bias = consts
    return xp.bias_add(xp.dense(inputs[0], kernel), bias)


def _affine(xp, node, inputs, consts):
    x = inputs[0]
    scale, shift = consts
    rank = len(xp.shape(x))
    axis = node.params["axis"] % rank
    shape = [1] * rank
    shape[axis] = -1
    return x * xp.reshape(scale, shape) + xp.reshape(shift, shape)


def _pool(kind: str):
    def forward(xp, node, inputs, consts):
        p = node.params
        return getattr(xp, kind)(inputs[0], p["pool"], p["strides"], p["padding"])

    return forward


def _global_mean(xp, node, inputs, consts):
    return xp.mean(inputs[0], axis=1, keepdims=node.params.get("keepdims", False))


def _global_max(xp, node, inputs, consts):
    """Max over the length axis as a max pool of the full length (first maximum wins ties)."""
    x = inputs[0]
    length = xp.shape(x)[1]
    y = xp.max_pool1d(x, length, length, "valid")
    return y if node.params.get("keepdims", False) else y[:, 0]


def _flatten(xp, node, inputs, consts):
    x = inputs[0]
    return xp.reshape(x, [-1, int(np.prod(xp.shape(x)[1:]))])


def _reshape(xp, node, inputs, consts):
    return xp.reshape(inputs[0], [-1, *node.params["target_shape"]])


def _permute(xp, node, inputs, consts):
    return xp.transpose(inputs[0], [0, *node.params["dims"]])


def _crop(xp, node, inputs, consts):
    a, b = node.params["cropping"]
    x = inputs[0]
    return x[:, a: xp.shape(x)[1] - b]


def _pad(xp, node, inputs, consts):
    a, b = node.params["padding"]
    return xp.pad(inputs[0], [(0, 0), (a, b), (0, 0)])


def _concat(xp, node, inputs, consts):
    return xp.concat(inputs, axis=node.params.get("axis", -1))


def _softmax(xp, node, inputs, consts):
    return xp.softmax(inputs[0], axis=node.params.get("axis", -1))


def _identity(xp, node, inputs, consts):
    return inputs[0]


def _reduce(kind: str):
    def forward(xp, node, inputs, consts):
        return getattr(xp, kind)(inputs[0], axis=node.params["axis"], keepdims=node.params.get("keepdims", True))

    return forward


def _take(xp, node, inputs, consts):
    """One index of an axis, the axis dropped (a time step of a sequence)."""
    return xp.take(inputs[0], node.params["index"], axis=node.params["axis"])


def _stack(xp, node, inputs, consts):
    return xp.stack(inputs, axis=node.params.get("axis", 1))


def _scale_shift(xp, node, inputs, consts):
    """x · scale + shift with constant arrays that broadcast against x without its batch axis."""
    scale, shift = consts
    return inputs[0] * scale + shift


def _add(xp, node, inputs, consts):
    """Sum of the inputs (broadcasting, as keras.ops.add)."""
    out = inputs[0]
    for x in inputs[1:]:
        out = out + x
    return out


def _relative_shift(xp, node, inputs, consts):
    """(..., T, 2T − 1) logits over relative distances → (..., T, T), out[…, i, j] = x[…, i, j − i + T − 1]."""
    x = inputs[0]
    shape = xp.shape(x)
    t, p = shape[-2], shape[-1]
    rows, cols = np.meshgrid(np.arange(t), np.arange(t), indexing="ij")
    flat = xp.reshape(x, [-1, *shape[1:-2], t * p])
    return xp.take(flat, rows * p + cols - rows + t - 1, axis=-1)


def _center(xp, node, inputs, consts):
    x = inputs[0]
    return x - xp.mean(x, axis=node.params["axis"], keepdims=True)


def _elementwise_forward(kind):
    make = ELEMENTWISE[kind][0]

    def forward(xp, node, inputs, consts):
        return make(xp, node, consts)(inputs[0])

    return forward


#: Operations other than the nonlinearities: kind → forward(xp, node, inputs, consts).
FORWARD: dict[str, Callable] = {
    "input": _identity,
    "identity": _identity,
    "conv1d": _conv1d,
    "dense": _dense,
    "affine": _affine,
    "avgpool1d": _pool("avg_pool1d"),
    "global_avgpool1d": _global_mean,
    "flatten": _flatten,
    "reshape": _reshape,
    "permute": _permute,
    "crop1d": _crop,
    "pad1d": _pad,
    "add": _add,
    "subtract": lambda xp, n, i, c: i[0] - i[1],
    "average": lambda xp, n, i, c: _add(xp, n, i, c) / len(i),
    "concatenate": _concat,
    "maxpool1d": _pool("max_pool1d"),
    "global_maxpool1d": _global_max,
    "softmax": _softmax,
    "center": _center,
    "reduce_mean": _reduce("mean"),
    "reduce_sum": _reduce("sum"),
    "multiply": lambda xp, n, i, c: i[0] * i[1],
    "einsum": lambda xp, n, i, c: xp.einsum(n.params["equation"], i[0], i[1]),
    "einsum_const": lambda xp, n, i, c: xp.einsum(n.params["equation"], i[0], c[0]),
    "relative_shift": _relative_shift,
    "upsample1d": lambda xp, n, i, c: xp.repeat(i[0], n.params["size"], axis=1),
    "reduce_max": _reduce("max"),
    "reduce_min": _reduce("min"),
    "take": _take,
    "stack": _stack,
    "scale_shift": _scale_shift,
    "lstm": recurrent.forward,
    "gru": recurrent.forward,
    **{kind: _elementwise_forward(kind) for kind in ELEMENTWISE},
}


def op_entry(kind: str) -> tuple[Callable, str]:
    """``(forward, rule)`` for an operation kind: its implementation and its row of the support table."""
    if kind not in OPS or kind not in FORWARD:
        raise UnsupportedLayerError(f"operation {kind!r} has no engine implementation")
    return FORWARD[kind], OPS[kind]
