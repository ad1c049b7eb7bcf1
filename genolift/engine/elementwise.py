"""Elementwise nonlinearities of the support table, and their derivatives, against the backend seam.

Each entry of :data:`ELEMENTWISE` is ``(make f, make f' or None)``, both
``make(xp, node, consts) -> function of a tensor``: None means f' comes from the
backend's autodiff (:func:`derivative`).  The DeepLIFT rules read f and f'
(Rescale's ratio Δy/Δz and its limit), the forward pass reads f.
"""

from __future__ import annotations

from typing import Callable


def _step(xp, z):
    """1 where z > 0, else 0, in z's dtype."""
    return xp.cast(z > 0, xp.dtype_name(z))


def _prelu(xp, node, consts):
    alpha = consts[0]
    return lambda z: xp.relu(z) - xp.cast(alpha, xp.dtype_name(z)) * xp.relu(-z)


def _prelu_slope(xp, node, consts):
    alpha = consts[0]
    return lambda z: xp.where(z > 0, xp.ones_like(z), xp.cast(alpha, xp.dtype_name(z)) * xp.ones_like(z))


def _rsqrt(xp, node, consts):
    eps = node.params.get("epsilon", 1e-3)
    return lambda v: xp.rsqrt(v + eps)


def _rsqrt_slope(xp, node, consts):
    eps = node.params.get("epsilon", 1e-3)
    return lambda v: -0.5 * xp.rsqrt(v + eps) ** 3


def _fixed(name: str):
    """make(xp, node, consts) → the backend's function ``name``."""
    return lambda xp, n, c: getattr(xp, name)


def _fn(make: Callable):
    """make(xp) → a function of z: wrapped as make(xp, node, consts)."""
    return lambda xp, n, c: make(xp)


#: Elementwise nonlinearities: kind → (make f, make f' or None for autodiff), each make(xp, node, consts).
ELEMENTWISE: dict[str, tuple[Callable, Callable | None]] = {
    "relu": (_fixed("relu"), _fn(lambda xp: lambda z: _step(xp, z))),
    "sigmoid": (_fixed("sigmoid"), _fn(lambda xp: lambda z: xp.sigmoid(z) * (1 - xp.sigmoid(z)))),
    "tanh": (_fixed("tanh"), _fn(lambda xp: lambda z: 1 - xp.tanh(z) ** 2)),
    "softplus": (_fixed("softplus"), _fixed("sigmoid")),
    "elu": (_fixed("elu"), _fn(lambda xp: lambda z: xp.where(z > 0, xp.ones_like(z), xp.exp(z)))),
    "selu": (_fixed("selu"), None),
    "gelu": (_fn(lambda xp: lambda z: xp.gelu(z, approximate=False)), None),
    "exponential": (_fixed("exp"), _fixed("exp")),
    "silu": (_fixed("silu"), None),
    "softsign": (_fixed("softsign"), None),
    "relu6": (_fixed("relu6"), _fn(lambda xp: lambda z: xp.cast((z > 0) & (z < 6), xp.dtype_name(z)))),
    "hard_sigmoid": (_fn(lambda xp: lambda z: xp.relu6(z + 3) / 6),  # Keras 3's: relu6(z + 3) / 6
                     _fn(lambda xp: lambda z: xp.cast((z > -3) & (z < 3), xp.dtype_name(z)) / 6)),
    "leaky_relu": (lambda xp, n, c: lambda z: xp.leaky_relu(z, n.params.get("negative_slope", 0.2)), None),
    "prelu": (_prelu, _prelu_slope),
    "square": (_fixed("square"), _fn(lambda xp: lambda z: 2 * z)),
    "rsqrt": (_rsqrt, _rsqrt_slope),
    "reciprocal": (_fixed("reciprocal"), _fn(lambda xp: lambda z: -xp.reciprocal(z) ** 2)),
    "log": (_fixed("log"), _fixed("reciprocal")),
    "sqrt": (_fixed("sqrt"), _fn(lambda xp: lambda z: 0.5 * xp.rsqrt(z))),
    "gelu_tanh": (_fn(lambda xp: lambda z: xp.gelu(z, approximate=True)), None),
    "gelu_enf": (_fn(lambda xp: lambda z: xp.sigmoid(1.702 * z) * z), None),  # Enformer's GELU approximation
}


def nonlinearity(xp, node, consts) -> tuple[Callable, Callable]:
    """``(f, f')`` of an elementwise node: its function and derivative on tensors."""
    return ELEMENTWISE[node.op][0](xp, node, consts), derivative(xp, node, consts)


def derivative(xp, node, consts) -> Callable:
    """f' of an elementwise node's nonlinearity (explicit, or by autodiff)."""
    make_f, make_df = ELEMENTWISE[node.op]
    if make_df is not None:
        return make_df(xp, node, consts)
    f = make_f(xp, node, consts)

    def df(z):
        _, pullback = xp.vjp(f, z)
        return pullback(xp.ones_like(z))[0]

    return df
