"""Keras layer → genolift nodes: one converter per supported layer class.

Each converter is ``convert(cfg, weights, out, inputs, layer) -> list[Node]``:
``cfg`` is the layer's ``get_config()`` dict, ``weights`` its weights (numpy,
in ``get_weights()`` order), ``out`` the node id to give its output, ``inputs``
the ids of its inputs (a tuple) and ``layer`` its name.  The last node
returned is the layer's output.  A layer's fused activation is not the
converter's business: the table in :mod:`.support` says which classes have one
and appends it.  Which converter serves which class is that table's
:data:`~.support.LAYERS`.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedLayerError
from .graph import Node


def _check_channels_last(cfg: dict, layer: str) -> None:
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedLayerError(f"{layer}: data_format {cfg['data_format']!r} (only channels_last)")


def _tuple1(value) -> int:
    return int(value[0] if isinstance(value, (list, tuple)) else value)


def conv1d(cfg, weights, out, inputs, layer):
    """Conv1D (channels last; causal, dilated and grouped too) as one ``conv1d`` node."""
    _check_channels_last(cfg, layer)
    kernel = weights[0].astype(np.float32)
    bias = weights[1].astype(np.float32) if cfg.get("use_bias", True) else np.zeros(kernel.shape[-1], np.float32)
    params = {
        "strides": _tuple1(cfg.get("strides", 1)),
        "padding": cfg.get("padding", "valid"),
        "dilation": _tuple1(cfg.get("dilation_rate", 1)),
        "groups": int(cfg.get("groups", 1)),
    }
    return [Node(out, "conv1d", inputs, params, (kernel, bias), layer)]


def separable_conv1d(cfg, weights, out, inputs, layer):
    """SeparableConv1D as a depthwise ``conv1d`` (one group per input channel) and a pointwise one."""
    _check_channels_last(cfg, layer)
    depthwise, pointwise = weights[0].astype(np.float32), weights[1].astype(np.float32)
    k, channels, multiplier = depthwise.shape
    bias = weights[2].astype(np.float32) if cfg.get("use_bias", True) else np.zeros(pointwise.shape[-1], np.float32)
    params = {
        "strides": _tuple1(cfg.get("strides", 1)),
        "padding": cfg.get("padding", "valid"),
        "dilation": _tuple1(cfg.get("dilation_rate", 1)),
        "groups": int(channels),
    }
    kernel = depthwise.reshape(k, 1, channels * multiplier)
    zero = np.zeros(channels * multiplier, np.float32)
    pointwise_params = {"strides": 1, "padding": "valid", "dilation": 1, "groups": 1}
    return [Node(f"{out}/depthwise", "conv1d", inputs, params, (kernel, zero), layer),
            Node(out, "conv1d", (f"{out}/depthwise",), pointwise_params, (pointwise, bias), layer)]


def dense(cfg, weights, out, inputs, layer):
    """Dense as one ``dense`` node (on the last axis)."""
    kernel = weights[0].astype(np.float32)
    bias = weights[1].astype(np.float32) if cfg.get("use_bias", True) else np.zeros(kernel.shape[-1], np.float32)
    return [Node(out, "dense", inputs, {}, (kernel, bias), layer)]


def batchnorm(cfg, weights, out, inputs, layer):
    """BatchNormalization at inference: a per-channel ``affine`` node."""
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) else axis
    w = list(weights)
    gamma = w.pop(0) if cfg.get("scale", True) else None
    beta = w.pop(0) if cfg.get("center", True) else None
    mean, var = w
    gamma = np.ones_like(mean) if gamma is None else gamma
    beta = np.zeros_like(mean) if beta is None else beta
    scale = (gamma / np.sqrt(var.astype(np.float64) + cfg.get("epsilon", 1e-3))).astype(np.float32)
    shift = (beta - mean * scale).astype(np.float32)
    return [Node(out, "affine", inputs, {"axis": int(axis)}, (scale, shift), layer)]


def pool(kind):
    """Converter of a windowed pooling layer to one node of operation ``kind``."""
    def convert(cfg, weights, out, inputs, layer):
        _check_channels_last(cfg, layer)
        size = _tuple1(cfg.get("pool_size", 2))
        strides = cfg.get("strides") or size
        params = {"pool": size, "strides": _tuple1(strides), "padding": cfg.get("padding", "valid")}
        return [Node(out, kind, inputs, params, (), layer)]

    return convert


def global_pool(kind):
    """Converter of a global pooling layer to one node of operation ``kind``."""
    def convert(cfg, weights, out, inputs, layer):
        _check_channels_last(cfg, layer)
        return [Node(out, kind, inputs, {"keepdims": bool(cfg.get("keepdims", False))}, (), layer)]

    return convert


def simple(kind, keys=()):
    """Converter to one node of operation ``kind`` whose parameters are the config's ``keys``."""
    def convert(cfg, weights, out, inputs, layer):
        params = {k: cfg[k] for k in keys if k in cfg}
        return [Node(out, kind, inputs, params, (), layer)]

    return convert


def aligned(cfg: dict, inputs: tuple, out: str, layer: str) -> tuple[list[Node], tuple]:
    """Keras merge layers' broadcasting: an input of lower rank gets size-1 axes after the batch axis.

    Returns the reshape nodes needed and the inputs to merge.
    """
    shapes = cfg.get("input_shapes") or []
    if len(shapes) != len(inputs) or any(s is None for s in shapes) or len({len(s) for s in shapes}) <= 1:
        return [], inputs
    rank = max(len(s) for s in shapes)
    nodes, merged = [], []
    for i, (source, shape) in enumerate(zip(inputs, shapes)):
        if len(shape) < rank:
            target = [1] * (rank - len(shape)) + [int(d) for d in shape]
            nodes.append(Node(f"{out}/expanded{i}", "reshape", (source,), {"target_shape": target}, (), layer))
            source = nodes[-1].name
        merged.append(source)
    return nodes, tuple(merged)


def merge(kind):
    """Converter of a merge layer (Add, Subtract, Average) with Keras's rank alignment."""
    def convert(cfg, weights, out, inputs, layer):
        nodes, inputs = aligned(cfg, inputs, out, layer)
        return nodes + [Node(out, kind, inputs, {}, (), layer)]

    return convert


def relu_layer(cfg, weights, out, inputs, layer):
    """ReLU layer (no cap, no threshold) as ``relu``, or ``leaky_relu`` with a negative slope."""
    if cfg.get("max_value") is not None or float(cfg.get("threshold", 0.0)) != 0.0:
        raise UnsupportedLayerError(f"{layer}: ReLU with max_value or threshold")
    slope = float(cfg.get("negative_slope", 0.0))
    if slope:
        return [Node(out, "leaky_relu", inputs, {"negative_slope": slope}, (), layer)]
    return [Node(out, "relu", inputs, {}, (), layer)]


def leaky_relu_layer(cfg, weights, out, inputs, layer):
    """LeakyReLU (Keras 3 ``negative_slope`` or tf.keras 2 ``alpha``)."""
    slope = float(cfg.get("negative_slope", cfg.get("alpha", 0.3)))
    return [Node(out, "leaky_relu", inputs, {"negative_slope": slope}, (), layer)]


def elu_layer(cfg, weights, out, inputs, layer):
    """ELU layer with alpha 1."""
    if float(cfg.get("alpha", 1.0)) != 1.0:
        raise UnsupportedLayerError(f"{layer}: ELU with alpha != 1")
    return [Node(out, "elu", inputs, {}, (), layer)]


def softmax_layer(cfg, weights, out, inputs, layer):
    """Softmax layer over one axis."""
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) else axis
    return [Node(out, "softmax", inputs, {"axis": int(axis)}, (), layer)]


def identity(cfg, weights, out, inputs, layer):
    """A layer that is the identity at inference time (dropout, noise; the Activation layer's body)."""
    return [Node(out, "identity", inputs, {}, (), layer)]


def flatten(cfg, weights, out, inputs, layer):
    """Flatten (channels last)."""
    _check_channels_last(cfg, layer)
    return [Node(out, "flatten", inputs, {}, (), layer)]


def cropping(cfg, weights, out, inputs, layer):
    """Cropping1D as ``crop1d`` with (before, after)."""
    crop = cfg.get("cropping", (1, 1))
    crop = (crop, crop) if isinstance(crop, int) else tuple(int(c) for c in crop)
    return [Node(out, "crop1d", inputs, {"cropping": crop}, (), layer)]


def zero_padding(cfg, weights, out, inputs, layer):
    """ZeroPadding1D as ``pad1d`` with (before, after)."""
    pad = cfg.get("padding", (1, 1))
    pad = (pad, pad) if isinstance(pad, int) else tuple(int(p) for p in pad)
    return [Node(out, "pad1d", inputs, {"padding": pad}, (), layer)]


def prelu(cfg, weights, out, inputs, layer):
    """PReLU with its learned slopes as the node's weight."""
    return [Node(out, "prelu", inputs, {}, (weights[0].astype(np.float32),), layer)]


def multiply(cfg, weights, out, inputs, layer):
    """a·b·c… as a chain of two-input products (each split exactly, Shapley style)."""
    nodes, inputs = aligned(cfg, inputs, out, layer)
    left = inputs[0]
    for i, right in enumerate(inputs[1:], start=1):
        name = out if i == len(inputs) - 1 else f"{out}/product{i}"
        nodes.append(Node(name, "multiply", (left, right), {}, (), layer))
        left = name
    return nodes


def layer_norm(cfg, weights, out, inputs, layer):
    """(x − mean)·rsqrt(var + ε)·γ + β as centre, square, mean, rsqrt, product and affine nodes."""
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if not isinstance(axis, int):
        raise UnsupportedLayerError(f"{layer}: LayerNormalization over several axes")
    if cfg.get("rms_scaling", False):
        raise UnsupportedLayerError(f"{layer}: LayerNormalization(rms_scaling=True), deprecated by Keras")
    w = [a.astype(np.float32) for a in weights]
    gamma = w.pop(0) if cfg.get("scale", True) else None
    beta = w.pop(0) if cfg.get("center", True) else None
    size = (gamma if gamma is not None else beta).shape[0] if (gamma is not None or beta is not None) else None
    centred = f"{out}/centred"
    nodes = [
        Node(centred, "center", inputs, {"axis": axis}, (), layer),
        Node(f"{out}/square", "square", (centred,), {}, (), layer),
        Node(f"{out}/variance", "reduce_mean", (f"{out}/square",), {"axis": axis}, (), layer),
        Node(f"{out}/rsqrt", "rsqrt", (f"{out}/variance",), {"epsilon": float(cfg.get("epsilon", 1e-3))}, (), layer),
    ]
    if size is None:
        return nodes + [Node(out, "multiply", (centred, f"{out}/rsqrt"), {}, (), layer)]
    scale = gamma if gamma is not None else np.ones(size, np.float32)
    shift = beta if beta is not None else np.zeros(size, np.float32)
    nodes.append(Node(f"{out}/normalised", "multiply", (centred, f"{out}/rsqrt"), {}, (), layer))
    return nodes + [Node(out, "affine", (f"{out}/normalised",), {"axis": axis}, (scale, shift), layer)]


def expand_inner_softmax(nodes: list[Node], outputs: list[str]) -> list[Node]:
    """Rewrite softmax nodes that are not model outputs as exp / sum / reciprocal / product.

    A final softmax stays whole: the target strips it and explains the logits.
    """
    out: list[Node] = []
    for node in nodes:
        if node.op != "softmax" or node.name in outputs:
            out.append(node)
            continue
        axis = node.params.get("axis", -1)
        out += [
            Node(f"{node.name}/exp", "exponential", node.inputs, {}, (), node.layer),
            Node(f"{node.name}/sum", "reduce_sum", (f"{node.name}/exp",), {"axis": axis}, (), node.layer),
            Node(f"{node.name}/reciprocal", "reciprocal", (f"{node.name}/sum",), {}, (), node.layer),
            Node(node.name, "multiply", (f"{node.name}/exp", f"{node.name}/reciprocal"), {}, (), node.layer),
        ]
    return out
