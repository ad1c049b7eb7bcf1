"""Keras 3 operation nodes → genolift nodes.

A functional model stores each ``keras.ops.*`` call written between layers as
an operation node: a config entry whose module is ``keras.src.ops.…`` (none in
a legacy ``.h5``), whose class is the operation (``Mean``, ``Add``, ``Exp``…)
and whose call arguments may hold constants (``x * 2.0`` is ``Multiply`` of a
tensor and ``2.0``).  Each converter has the signature of the layer converters
(:mod:`.layers`); its ``cfg`` is the entry's config plus ``call_args``, the
positional arguments of the call in order, each ``{"tensor": k, "shape": s}``
(the k-th input, ``s`` its shape without the batch axis) or a constant.
Which converter serves which operation is :data:`.support.OPERATIONS`.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedLayerError
from .graph import Node


def _scalar_or_array(value, layer: str) -> np.ndarray:
    try:
        return np.asarray(value, np.float32)
    except (TypeError, ValueError):
        raise UnsupportedLayerError(f"{layer}: constant operand {value!r} is not a number or an array") from None


def _is_tensor(arg) -> bool:
    return isinstance(arg, dict) and "tensor" in arg


def _scale_shift(out, source, scale, shift, layer) -> Node:
    scale, shift = np.asarray(scale, np.float32), np.asarray(shift, np.float32)
    return Node(out, "scale_shift", (source,), {}, (scale, shift), layer)


def binary(kind: str):
    """Converter of ``add``, ``subtract``, ``multiply`` or ``divide`` between tensors or with a constant."""
    def convert(cfg, weights, out, inputs, layer):
        args = cfg.get("call_args", [])
        if len(args) != 2:
            raise UnsupportedLayerError(f"{layer}: {kind} with {len(args)} operands")
        if all(_is_tensor(a) for a in args):
            if kind != "divide":
                return [Node(out, kind, inputs, {}, (), layer)]
            recip = f"{out}/reciprocal"
            return [Node(recip, "reciprocal", (inputs[1],), {}, (), layer),
                    Node(out, "multiply", (inputs[0], recip), {}, (), layer)]
        if not any(_is_tensor(a) for a in args):
            raise UnsupportedLayerError(f"{layer}: {kind} of two constants")
        left = _is_tensor(args[0])
        c = _scalar_or_array(args[1] if left else args[0], layer)
        x = inputs[0]
        if kind == "add":
            return [_scale_shift(out, x, 1.0, c, layer)]
        if kind == "subtract":
            return [_scale_shift(out, x, 1.0, -c, layer) if left else _scale_shift(out, x, -1.0, c, layer)]
        if kind == "multiply":
            return [_scale_shift(out, x, c, 0.0, layer)]
        if left:
            return [_scale_shift(out, x, 1.0 / c, 0.0, layer)]
        recip = f"{out}/reciprocal"
        return [Node(recip, "reciprocal", (x,), {}, (), layer), _scale_shift(out, recip, c, 0.0, layer)]

    return convert


def unary(op: str, params: dict | None = None):
    """Converter of a one-input elementwise operation (``exp``, ``log``, ``square``…) to genolift ``op``."""
    def convert(cfg, weights, out, inputs, layer):
        return [Node(out, op, inputs, dict(params or {}), (), layer)]

    return convert


def negative(cfg, weights, out, inputs, layer):
    """−x."""
    return [_scale_shift(out, inputs[0], -1.0, 0.0, layer)]


def reduce(op: str):
    """Converter of ``mean``, ``sum``, ``max`` or ``min`` over axes (not the batch axis)."""
    def convert(cfg, weights, out, inputs, layer):
        axis = cfg.get("axis")
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if axis is None or any(a == 0 for a in axes):
            raise UnsupportedLayerError(f"{layer}: a reduction over the batch axis (axis={axis!r})")
        params = {"axis": list(axes) if isinstance(axis, (list, tuple)) else int(axis),
                  "keepdims": bool(cfg.get("keepdims", False))}
        return [Node(out, op, inputs, params, (), layer)]

    return convert


def concatenate(cfg, weights, out, inputs, layer):
    """Concatenation along an axis."""
    return [Node(out, "concatenate", inputs, {"axis": int(cfg.get("axis", 0))}, (), layer)]


def _shape_in(cfg, layer) -> tuple:
    args = cfg.get("call_args", [])
    if not args or not _is_tensor(args[0]) or args[0].get("shape") is None:
        raise UnsupportedLayerError(f"{layer}: input shape unknown")
    return tuple(args[0]["shape"])


def reshape(cfg, weights, out, inputs, layer):
    """Reshape keeping the batch axis (``newshape`` starts with −1 or None)."""
    shape = list(cfg.get("newshape") or cfg.get("new_shape") or [])
    if not shape or shape[0] not in (-1, None):
        raise UnsupportedLayerError(f"{layer}: a reshape across the batch axis ({shape})")
    return [Node(out, "reshape", inputs, {"target_shape": [int(s) for s in shape[1:]]}, (), layer)]


def transpose(cfg, weights, out, inputs, layer):
    """Transpose keeping the batch axis first."""
    axes = cfg.get("axes")
    if axes is None:
        axes = list(range(len(_shape_in(cfg, layer)) + 1))[::-1]
    if int(axes[0]) != 0:
        raise UnsupportedLayerError(f"{layer}: a transpose that moves the batch axis ({axes})")
    return [Node(out, "permute", inputs, {"dims": [int(a) for a in axes[1:]]}, (), layer)]


def expand_dims(cfg, weights, out, inputs, layer):
    """A new axis of size 1 (not before the batch axis)."""
    shape = list(_shape_in(cfg, layer))
    axis = int(cfg["axis"])
    at = axis - 1 if axis > 0 else len(shape) + 1 + axis
    if axis == 0 or not 0 <= at <= len(shape):
        raise UnsupportedLayerError(f"{layer}: expand_dims at axis {axis}")
    shape.insert(at, 1)
    return [Node(out, "reshape", inputs, {"target_shape": shape}, (), layer)]


def squeeze(cfg, weights, out, inputs, layer):
    """Size-1 axes dropped (not the batch axis)."""
    shape = list(_shape_in(cfg, layer))
    axis = cfg.get("axis")
    axes = [a for a in range(1, len(shape) + 1) if shape[a - 1] == 1] if axis is None else \
        [a % (len(shape) + 1) for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    if 0 in axes or any(shape[a - 1] != 1 for a in axes):
        raise UnsupportedLayerError(f"{layer}: squeeze of axis {axis!r}")
    kept = [s for i, s in enumerate(shape, start=1) if i not in axes]
    return [Node(out, "reshape", inputs, {"target_shape": kept}, (), layer)]


def softmax(cfg, weights, out, inputs, layer):
    """Softmax over one axis."""
    axis = cfg.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise UnsupportedLayerError(f"{layer}: softmax over several axes")
        axis = axis[0]
    return [Node(out, "softmax", inputs, {"axis": int(axis)}, (), layer)]
