"""TensorFlow implementations of genolift graph operations (forward pass).

One implementation per operation of the support table (:data:`..model.support.OPS`),
which also says how DeepLIFT treats it: ``linear`` (multipliers follow the
chain rule), ``elementwise`` (a one-input nonlinearity: Rescale), ``maxpool``
(cross-max rule), ``product`` (two changing inputs, elementwise or an
``einsum`` contraction: the Shapley split) or
``softmax`` (a final softmax is stripped by the target; one inside the network
is rewritten by the model reader into exp / sum / reciprocal / product).

:data:`ELEMENTWISE` holds the nonlinearities (with their derivatives),
:data:`FORWARD` every other operation; ``forward(node, inputs, consts)``
returns the output tensor.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from ..errors import UnsupportedLayerError
from ..model.support import OPS


def _conv1d(node, inputs, consts):
    x = inputs[0]
    kernel, bias = consts
    p = node.params
    padding = p["padding"]
    if padding == "causal":
        x = tf.pad(x, [[0, 0], [p["dilation"] * (kernel.shape[0] - 1), 0], [0, 0]])
        padding = "valid"
    groups = p.get("groups", 1)
    if x.dtype == tf.float64 and p["dilation"] > 1 and groups == 1:
        return tf.nn.bias_add(_conv1d_taps(x, kernel, p["strides"], padding, p["dilation"]), bias)
    if groups == 1:
        y = tf.nn.conv1d(x, kernel, p["strides"], padding.upper(), dilations=p["dilation"])
    else:
        xs = tf.split(x, groups, axis=-1)
        ks = tf.split(kernel, groups, axis=-1)
        y = tf.concat(
            [tf.nn.conv1d(a, k, p["strides"], padding.upper(), dilations=p["dilation"]) for a, k in zip(xs, ks)],
            axis=-1,
        )
    return tf.nn.bias_add(y, bias)


def _conv1d_taps(x, kernel, stride: int, padding: str, dilation: int):
    """Dilated conv as a sum over kernel taps (TensorFlow's CPU kernels lack float64 dilated gradients)."""
    k = kernel.shape[0]
    span = dilation * (k - 1) + 1
    length = x.shape[1]
    if padding == "same":
        out_len = -(-length // stride)
        total = max((out_len - 1) * stride + span - length, 0)
        x = tf.pad(x, [[0, 0], [total // 2, total - total // 2], [0, 0]])
    out_len = (x.shape[1] - span) // stride + 1
    taps = [x[:, j * dilation: j * dilation + (out_len - 1) * stride + 1: stride] for j in range(k)]
    return tf.add_n([tf.tensordot(t, kernel[j], [[2], [0]]) for j, t in enumerate(taps)])


def _dense(node, inputs, consts):
    kernel, bias = consts
    x = inputs[0]
    if x.shape.rank == 2:
        return tf.nn.bias_add(tf.matmul(x, kernel), bias)
    return tf.nn.bias_add(tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]]), bias)


def _affine(node, inputs, consts):
    x = inputs[0]
    scale, shift = consts
    axis = node.params["axis"] % x.shape.rank
    shape = [1] * x.shape.rank
    shape[axis] = -1
    return x * tf.reshape(scale, shape) + tf.reshape(shift, shape)


def _pool(fn):
    def forward(node, inputs, consts):
        p = node.params
        return fn(inputs[0], p["pool"], p["strides"], p["padding"].upper())

    return forward


def _global(fn):
    def forward(node, inputs, consts):
        return fn(inputs[0], axis=1, keepdims=node.params.get("keepdims", False))

    return forward


def _global_max(node, inputs, consts):
    """Max over the length axis as a max pool of the full length (first maximum wins ties)."""
    x = inputs[0]
    y = tf.nn.max_pool1d(x, x.shape[1], x.shape[1], "VALID")
    return y if node.params.get("keepdims", False) else y[:, 0]


def _flatten(node, inputs, consts):
    x = inputs[0]
    return tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])


def _reshape(node, inputs, consts):
    return tf.reshape(inputs[0], [-1, *node.params["target_shape"]])


def _permute(node, inputs, consts):
    return tf.transpose(inputs[0], [0, *node.params["dims"]])


def _crop(node, inputs, consts):
    a, b = node.params["cropping"]
    x = inputs[0]
    return x[:, a : x.shape[1] - b]


def _pad(node, inputs, consts):
    a, b = node.params["padding"]
    return tf.pad(inputs[0], [[0, 0], [a, b], [0, 0]])


def _concat(node, inputs, consts):
    return tf.concat(inputs, axis=node.params.get("axis", -1))


def _softmax(node, inputs, consts):
    return tf.nn.softmax(inputs[0], axis=node.params.get("axis", -1))


def _identity(node, inputs, consts):
    return inputs[0]


def _leaky(node):
    slope = node.params.get("negative_slope", 0.2)
    return lambda z: tf.nn.leaky_relu(z, alpha=slope)


def _selu(z):
    return tf.nn.selu(z)


def _prelu(node):
    alpha = node.weights[0]
    return lambda z: tf.nn.relu(z) - tf.cast(alpha, z.dtype) * tf.nn.relu(-z)


def _prelu_slope(node):
    alpha = node.weights[0]
    return lambda z: tf.where(z > 0, tf.ones_like(z), tf.cast(alpha, z.dtype) * tf.ones_like(z))


def _rsqrt(node):
    eps = node.params.get("epsilon", 1e-3)
    return lambda v: tf.math.rsqrt(v + eps)


def _rsqrt_slope(node):
    eps = node.params.get("epsilon", 1e-3)
    return lambda v: -0.5 * tf.math.rsqrt(v + eps) ** 3


def _hard_sigmoid(z):
    """Keras 3's hard sigmoid, relu6(z + 3) / 6: 0 below −3, 1 above 3, linear between."""
    return tf.nn.relu6(z + 3) / 6


def _reduce(fn):
    def forward(node, inputs, consts):
        return fn(inputs[0], axis=node.params["axis"], keepdims=node.params.get("keepdims", True))

    return forward


def _take(node, inputs, consts):
    """One index of an axis, the axis dropped (a time step of a sequence)."""
    return tf.gather(inputs[0], node.params["index"], axis=node.params["axis"])


def _slice(node, inputs, consts):
    """[start, stop) of one axis."""
    x = inputs[0]
    axis = node.params["axis"] % x.shape.rank
    begin, size = [0] * x.shape.rank, [-1] * x.shape.rank
    begin[axis], size[axis] = node.params["start"], node.params["stop"] - node.params["start"]
    return tf.slice(x, begin, size)


def _stack(node, inputs, consts):
    return tf.stack(inputs, axis=node.params.get("axis", 1))


def _scale_shift(node, inputs, consts):
    """x · scale + shift with constant arrays that broadcast against x without its batch axis."""
    scale, shift = consts
    return inputs[0] * scale + shift


def _add(node, inputs, consts):
    """Sum of the inputs (broadcasting, as keras.ops.add)."""
    out = inputs[0]
    for x in inputs[1:]:
        out = out + x
    return out


def _gelu_enf(z):
    """Enformer's GELU approximation, sigmoid(1.702 z) · z."""
    return tf.sigmoid(1.702 * z) * z


def _relative_shift(node, inputs, consts):
    """(..., T, 2T − 1) logits over relative distances → (..., T, T), out[…, i, j] = x[…, i, j − i + T − 1]."""
    x = inputs[0]
    t, p = x.shape[-2], x.shape[-1]
    rows, cols = np.meshgrid(np.arange(t), np.arange(t), indexing="ij")
    flat = tf.reshape(x, [-1, *x.shape[1:-2], t * p])
    return tf.gather(flat, rows * p + cols - rows + t - 1, axis=-1)


def _center(node, inputs, consts):
    x = inputs[0]
    return x - tf.reduce_mean(x, axis=node.params["axis"], keepdims=True)


#: Elementwise nonlinearities: kind → (node → f, node → f' or None for autodiff).
ELEMENTWISE: dict[str, tuple[Callable, Callable | None]] = {
    "relu": (lambda n: tf.nn.relu, lambda n: lambda z: tf.cast(z > 0, z.dtype)),
    "sigmoid": (lambda n: tf.sigmoid, lambda n: lambda z: tf.sigmoid(z) * (1 - tf.sigmoid(z))),
    "tanh": (lambda n: tf.tanh, lambda n: lambda z: 1 - tf.tanh(z) ** 2),
    "softplus": (lambda n: tf.nn.softplus, lambda n: tf.sigmoid),
    "elu": (lambda n: tf.nn.elu, lambda n: lambda z: tf.where(z > 0, tf.ones_like(z), tf.exp(z))),
    "selu": (lambda n: _selu, None),
    "gelu": (lambda n: lambda z: tf.nn.gelu(z, approximate=False), None),
    "exponential": (lambda n: tf.exp, lambda n: tf.exp),
    "silu": (lambda n: tf.nn.silu, None),
    "softsign": (lambda n: tf.nn.softsign, None),
    "relu6": (lambda n: tf.nn.relu6, lambda n: lambda z: tf.cast((z > 0) & (z < 6), z.dtype)),
    "hard_sigmoid": (lambda n: _hard_sigmoid, lambda n: lambda z: tf.cast((z > -3) & (z < 3), z.dtype) / 6),
    "leaky_relu": (_leaky, None),
    "prelu": (_prelu, _prelu_slope),
    "square": (lambda n: tf.square, lambda n: lambda z: 2 * z),
    "rsqrt": (_rsqrt, _rsqrt_slope),
    "reciprocal": (lambda n: tf.math.reciprocal, lambda n: lambda z: -tf.math.reciprocal(z) ** 2),
    "log": (lambda n: tf.math.log, lambda n: tf.math.reciprocal),
    "sqrt": (lambda n: tf.sqrt, lambda n: lambda z: 0.5 * tf.math.rsqrt(z)),
    "gelu_tanh": (lambda n: lambda z: tf.nn.gelu(z, approximate=True), None),
    "gelu_enf": (lambda n: _gelu_enf, None),
}


def _elementwise_forward(kind):
    make = ELEMENTWISE[kind][0]

    def forward(node, inputs, consts):
        return make(node)(inputs[0])

    return forward


#: Operations other than the nonlinearities: kind → forward.
FORWARD: dict[str, Callable] = {
    "input": _identity,
    "identity": _identity,
    "conv1d": _conv1d,
    "dense": _dense,
    "affine": _affine,
    "avgpool1d": _pool(tf.nn.avg_pool1d),
    "global_avgpool1d": _global(tf.reduce_mean),
    "flatten": _flatten,
    "reshape": _reshape,
    "permute": _permute,
    "crop1d": _crop,
    "pad1d": _pad,
    "add": _add,
    "subtract": lambda n, i, c: i[0] - i[1],
    "average": lambda n, i, c: _add(n, i, c) / len(i),
    "concatenate": _concat,
    "maxpool1d": _pool(tf.nn.max_pool1d),
    "global_maxpool1d": _global_max,
    "softmax": _softmax,
    "center": _center,
    "reduce_mean": _reduce(tf.reduce_mean),
    "reduce_sum": _reduce(tf.reduce_sum),
    "multiply": lambda n, i, c: i[0] * i[1],
    "einsum": lambda n, i, c: tf.einsum(n.params["equation"], i[0], i[1]),
    "einsum_const": lambda n, i, c: tf.einsum(n.params["equation"], i[0], c[0]),
    "relative_shift": _relative_shift,
    "upsample1d": lambda n, i, c: tf.repeat(i[0], n.params["size"], axis=1),
    "reduce_max": _reduce(tf.reduce_max),
    "reduce_min": _reduce(tf.reduce_min),
    "take": _take,
    "slice": _slice,
    "stack": _stack,
    "scale_shift": _scale_shift,
    **{kind: _elementwise_forward(kind) for kind in ELEMENTWISE},
}


def op_entry(kind: str) -> tuple[Callable, str]:
    """``(forward, rule)`` for an operation kind: its implementation and its row of the support table."""
    if kind not in OPS or kind not in FORWARD:
        raise UnsupportedLayerError(f"operation {kind!r} has no TensorFlow implementation")
    return FORWARD[kind], OPS[kind]


def nonlinearity(node) -> tuple[Callable, Callable]:
    """``(f, f')`` of an elementwise node: its function and derivative on tensors."""
    return ELEMENTWISE[node.op][0](node), derivative(node)


def derivative(node) -> Callable:
    """f' of an elementwise node's nonlinearity (explicit, or by autodiff)."""
    make_f, make_df = ELEMENTWISE[node.op]
    if make_df is not None:
        return make_df(node)
    f = make_f(node)

    def df(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            y = f(z)
        return tape.gradient(y, z)

    return df
