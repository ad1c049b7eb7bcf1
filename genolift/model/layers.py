"""Keras layer → genolift nodes: one converter per supported layer class.

Adding a layer type is adding a row to :data:`CONVERTERS`.  Each converter gets
the layer's ``get_config()`` dict, its weights (numpy, in ``get_weights()``
order), the graph node id to give its output and the ids of its inputs, and
returns the nodes that compute it; the last node returned is the layer's output.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import UnsupportedLayerError
from .graph import Node

#: Elementwise activations the engine implements (Keras names).
ELEMENTWISE_ACTIVATIONS = (
    "relu", "sigmoid", "tanh", "softplus", "elu", "selu", "gelu", "exponential",
    "swish", "silu", "softsign", "leaky_relu", "relu6", "hard_sigmoid",
)
#: Classes that are the identity at inference time.
IDENTITY_CLASSES = (
    "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization",
)


def _activation_nodes(name: str, activation, src: str, layer: str) -> list[Node]:
    """Nodes applying a Keras activation (given by name) to node ``src``."""
    if isinstance(activation, dict):  # a serialised object, e.g. a custom function
        act_name = activation.get("config", activation.get("class_name"))
        raise UnsupportedLayerError(f"activation {act_name!r} is not a built-in activation")
    if activation in (None, "linear"):
        return [Node(name, "identity", (src,), layer=layer)]
    if activation == "softmax":
        return [Node(name, "softmax", (src,), {"axis": -1}, layer=layer)]
    if activation in ELEMENTWISE_ACTIVATIONS:
        op = "silu" if activation == "swish" else activation
        params = {"negative_slope": 0.2} if op == "leaky_relu" else {}
        return [Node(name, op, (src,), params, layer=layer)]
    raise UnsupportedLayerError(f"activation {activation!r} has no genolift rule")


def _with_activation(node: Node, cfg: dict, out: str) -> list[Node]:
    """``node`` followed by the layer's fused activation (if not linear)."""
    activation = cfg.get("activation", "linear")
    if activation in (None, "linear"):
        return [Node(out, node.op, node.inputs, node.params, node.weights, node.layer)]
    pre = Node(f"{out}/preact", node.op, node.inputs, node.params, node.weights, node.layer)
    return [pre] + _activation_nodes(out, activation, pre.name, node.layer)


def _check_channels_last(cfg: dict, layer: str) -> None:
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedLayerError(f"{layer}: data_format {cfg['data_format']!r} (only channels_last)")


def _tuple1(value) -> int:
    return int(value[0] if isinstance(value, (list, tuple)) else value)


def _conv1d(cfg, weights, out, inputs, layer):
    _check_channels_last(cfg, layer)
    kernel = weights[0].astype(np.float32)
    bias = weights[1].astype(np.float32) if cfg.get("use_bias", True) else np.zeros(kernel.shape[-1], np.float32)
    params = {
        "strides": _tuple1(cfg.get("strides", 1)),
        "padding": cfg.get("padding", "valid"),
        "dilation": _tuple1(cfg.get("dilation_rate", 1)),
        "groups": int(cfg.get("groups", 1)),
    }
    return _with_activation(Node(out, "conv1d", inputs, params, (kernel, bias), layer), cfg, out)


def _dense(cfg, weights, out, inputs, layer):
    kernel = weights[0].astype(np.float32)
    bias = weights[1].astype(np.float32) if cfg.get("use_bias", True) else np.zeros(kernel.shape[-1], np.float32)
    return _with_activation(Node(out, "dense", inputs, {}, (kernel, bias), layer), cfg, out)


def _batchnorm(cfg, weights, out, inputs, layer):
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


def _pool(kind):
    def convert(cfg, weights, out, inputs, layer):
        _check_channels_last(cfg, layer)
        pool = _tuple1(cfg.get("pool_size", 2))
        strides = cfg.get("strides") or pool
        params = {"pool": pool, "strides": _tuple1(strides), "padding": cfg.get("padding", "valid")}
        return [Node(out, kind, inputs, params, (), layer)]

    return convert


def _global_pool(kind):
    def convert(cfg, weights, out, inputs, layer):
        _check_channels_last(cfg, layer)
        return [Node(out, kind, inputs, {"keepdims": bool(cfg.get("keepdims", False))}, (), layer)]

    return convert


def _simple(kind, keys=()):
    def convert(cfg, weights, out, inputs, layer):
        params = {k: cfg[k] for k in keys if k in cfg}
        return [Node(out, kind, inputs, params, (), layer)]

    return convert


def _activation_layer(cfg, weights, out, inputs, layer):
    nodes = _activation_nodes(out, cfg.get("activation"), inputs[0], layer)
    return nodes


def _relu_layer(cfg, weights, out, inputs, layer):
    if cfg.get("max_value") is not None or float(cfg.get("threshold", 0.0)) != 0.0:
        raise UnsupportedLayerError(f"{layer}: ReLU with max_value or threshold")
    slope = float(cfg.get("negative_slope", 0.0))
    if slope:
        return [Node(out, "leaky_relu", inputs, {"negative_slope": slope}, (), layer)]
    return [Node(out, "relu", inputs, {}, (), layer)]


def _leaky_relu_layer(cfg, weights, out, inputs, layer):
    slope = float(cfg.get("negative_slope", cfg.get("alpha", 0.3)))
    return [Node(out, "leaky_relu", inputs, {"negative_slope": slope}, (), layer)]


def _elu_layer(cfg, weights, out, inputs, layer):
    if float(cfg.get("alpha", 1.0)) != 1.0:
        raise UnsupportedLayerError(f"{layer}: ELU with alpha != 1")
    return [Node(out, "elu", inputs, {}, (), layer)]


def _softmax_layer(cfg, weights, out, inputs, layer):
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) else axis
    return [Node(out, "softmax", inputs, {"axis": int(axis)}, (), layer)]


def _identity(cfg, weights, out, inputs, layer):
    return [Node(out, "identity", inputs, {}, (), layer)]


def _flatten(cfg, weights, out, inputs, layer):
    _check_channels_last(cfg, layer)
    return [Node(out, "flatten", inputs, {}, (), layer)]


def _cropping(cfg, weights, out, inputs, layer):
    crop = cfg.get("cropping", (1, 1))
    crop = (crop, crop) if isinstance(crop, int) else tuple(int(c) for c in crop)
    return [Node(out, "crop1d", inputs, {"cropping": crop}, (), layer)]


def _zero_padding(cfg, weights, out, inputs, layer):
    pad = cfg.get("padding", (1, 1))
    pad = (pad, pad) if isinstance(pad, int) else tuple(int(p) for p in pad)
    return [Node(out, "pad1d", inputs, {"padding": pad}, (), layer)]


def _prelu(cfg, weights, out, inputs, layer):
    return [Node(out, "prelu", inputs, {}, (weights[0].astype(np.float32),), layer)]


def _multiply(cfg, weights, out, inputs, layer):
    """a·b·c… as a chain of two-input products (each split exactly, Shapley style)."""
    nodes, left = [], inputs[0]
    for i, right in enumerate(inputs[1:], start=1):
        name = out if i == len(inputs) - 1 else f"{out}/product{i}"
        nodes.append(Node(name, "multiply", (left, right), {}, (), layer))
        left = name
    return nodes


def _layer_norm(cfg, weights, out, inputs, layer):
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


Converter = Callable[[dict, list, str, tuple, str], list]

#: Keras class name → converter.
CONVERTERS: dict[str, Converter] = {
    "Conv1D": _conv1d,
    "Dense": _dense,
    "BatchNormalization": _batchnorm,
    "MaxPooling1D": _pool("maxpool1d"),
    "AveragePooling1D": _pool("avgpool1d"),
    "GlobalMaxPooling1D": _global_pool("global_maxpool1d"),
    "GlobalAveragePooling1D": _global_pool("global_avgpool1d"),
    "Flatten": _flatten,
    "Reshape": _simple("reshape", ("target_shape",)),
    "Permute": _simple("permute", ("dims",)),
    "Cropping1D": _cropping,
    "ZeroPadding1D": _zero_padding,
    "Activation": _activation_layer,
    "ReLU": _relu_layer,
    "LeakyReLU": _leaky_relu_layer,
    "ELU": _elu_layer,
    "Softmax": _softmax_layer,
    "Add": _simple("add"),
    "Subtract": _simple("subtract"),
    "Average": _simple("average"),
    "Concatenate": _simple("concatenate", ("axis",)),
    "Multiply": _multiply,
    "PReLU": _prelu,
    "LayerNormalization": _layer_norm,
    **{name: _identity for name in IDENTITY_CLASSES},
}

#: Classes refused because reading them would mean running code from the file.
CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda")


def convert_layer(class_name: str, cfg: dict, weights: list, out: str, inputs: tuple, layer: str) -> list[Node]:
    """Nodes for one call of a Keras layer; raises UnsupportedLayerError."""
    try:
        converter = CONVERTERS[class_name]
    except KeyError:
        raise UnsupportedLayerError(f"{layer} ({class_name}) has no genolift rule") from None
    return converter(cfg, weights, out, inputs, layer)
