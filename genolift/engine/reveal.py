"""RevealCancel (Shrikumar et al. 2017, §3.5.3) for nonlinearities fed by a Conv1D or Dense layer.

For y = f(z), z = W·a + b (possibly through batch-norm scalings s, folded
into W), the difference Δz is split into the sums of its positive and
negative terms, Δz⁺ = W⁺Δa⁺ + W⁻Δa⁻ and Δz⁻ = W⁺Δa⁻ + W⁻Δa⁺, and

    Δy⁺ = ½[f(z⁰+Δz⁺) − f(z⁰)] + ½[f(z⁰+Δz⁻+Δz⁺) − f(z⁰+Δz⁻)]
    Δy⁻ = ½[f(z⁰+Δz⁻) − f(z⁰)] + ½[f(z⁰+Δz⁺+Δz⁻) − f(z⁰+Δz⁺)]

with m⁺ = Δy⁺/Δz⁺ and m⁻ = Δy⁻/Δz⁻ routed back to a through W⁺ and W⁻: a term
w·Δa_i that is positive gets m⁺, a negative one m⁻ (where Δa_i = 0, the mean).
Near Δz± = 0 the ratios take their limits, ½(f′(z⁰) + f′(z⁰ + Δz∓)), the same
discipline as Rescale.  Σ m_a·Δa = Δy⁺ + Δy⁻ = Δy, so summation-to-delta holds.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .rules import NEAR_ZERO

CHAIN_OPS = ("affine", "identity")


def linear_source(graph, node_name: str):
    """The Conv1D/Dense node feeding ``node_name`` through batch-norm/identity nodes, and the
    per-channel scale accumulated on the way; None if there is none (or an affine acts on another axis)."""
    by_name = {n.name: n for n in graph.nodes}
    consumers = graph.consumers()
    scale = None
    current = by_name[by_name[node_name].inputs[0]]
    while current.op in CHAIN_OPS:
        if len(consumers[current.name]) != 1:
            return None
        if current.op == "affine":
            if current.params.get("axis", -1) not in (-1, 2):
                return None
            s = current.weights[0].astype(np.float64)
            scale = s if scale is None else scale * s
        current = by_name[current.inputs[0]]
    if current.op not in ("conv1d", "dense") or len(consumers[current.name]) != 1:
        return None
    return current, scale


def signed_parts(kernel: np.ndarray, scale) -> tuple[np.ndarray, np.ndarray]:
    """W⁺ and W⁻ (float64) of a kernel scaled per output channel."""
    w = kernel.astype(np.float64) * (1.0 if scale is None else scale)
    return np.maximum(w, 0.0), np.minimum(w, 0.0)


class RevealCancel:
    """The rule for one nonlinearity node.

    ``lin_node`` is the linear node and ``linear_fn(xp, node, inputs, consts)``
    its forward; the rule reads W⁺, W⁻ and a zero bias from the ``consts`` it
    is called with.
    """

    def __init__(self, lin_node, linear_fn: Callable):
        self.lin_node, self.linear_fn = lin_node, linear_fn

    def __call__(self, xp, f: Callable, df: Callable, z, a, z_other, y_other, a_other, j: int, consts: list):
        """y = f(z) whose gradient goes to a (the linear layer's input) by RevealCancel.

        Shapes: z (S·J, ...), a (S·J, ...); the other branch's z, y, a have S rows.
        ``f``, ``df``: the nonlinearity and its derivative; ``consts``: [W⁺, W⁻, zero bias] as tensors.
        """
        pos_w, neg_w, zero_bias = consts
        pos = lambda v: self.linear_fn(xp, self.lin_node, [v], [pos_w, zero_bias])  # noqa: E731
        neg = lambda v: self.linear_fn(xp, self.lin_node, [v], [neg_w, zero_bias])  # noqa: E731

        def op(z, a, z_other, y_other, a_other):
            y = f(z)

            def grad(dy):
                da = _difference(xp, a, xp.repeat(a_other, j, axis=0))
                da_pos, da_neg = xp.relu(da), -xp.relu(-da)
                dz_pos = pos(da_pos) + neg(da_neg)
                dz_neg = pos(da_neg) + neg(da_pos)
                z0 = xp.repeat(z_other, j, axis=0)
                m_pos, m_neg = _ratios(xp, f, df, z0, dz_pos, dz_neg)
                g_pos, g_neg = dy * m_pos, dy * m_neg
                through = lambda fn, u: xp.vjp(fn, da)[1](u)[0]  # noqa: E731
                up = through(pos, g_pos) + through(neg, g_neg)
                down = through(pos, g_neg) + through(neg, g_pos)
                mixed = 0.5 * (up + down)
                g_a = xp.where(da > 0, up, xp.where(da < 0, down, mixed))
                return xp.zeros_like(z), g_a, None, None, None

            return y, grad

        return xp.custom_gradient(op)(z, a, z_other, y_other, a_other)


#: Machine epsilon of each compute precision.
_EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}
#: |Δa| at or below this many units of round-off of |a| + |a⁰| is taken as 0 (see :func:`_difference`).
ROUND_OFF_UNITS = 8


def _difference(xp, a, a_other):
    """Δa = a − a⁰, with differences at the level of round-off set to exactly 0.

    The rule treats Δa = 0 on its own (the mean of both routes); a compiler
    that fuses the two branches' layers differently (XLA) leaves ~1e-9 where
    equal inputs should give 0, and the sign of that noise would pick a route.
    """
    da = a - a_other
    tolerance = ROUND_OFF_UNITS * _EPS[xp.dtype_name(a)] * (xp.abs(a) + xp.abs(a_other))
    return xp.where(xp.abs(da) <= tolerance, xp.zeros_like(da), da)


def _ratios(xp, f, df, z0, dz_pos, dz_neg):
    """m⁺ and m⁻ of the RevealCancel rule, with their limits near Δz± = 0."""
    dy_pos = 0.5 * (f(z0 + dz_pos) - f(z0)) + 0.5 * (f(z0 + dz_neg + dz_pos) - f(z0 + dz_neg))
    dy_neg = 0.5 * (f(z0 + dz_neg) - f(z0)) + 0.5 * (f(z0 + dz_pos + dz_neg) - f(z0 + dz_pos))
    far_pos, far_neg = xp.abs(dz_pos) > NEAR_ZERO, xp.abs(dz_neg) > NEAR_ZERO
    lim_pos = 0.5 * (df(z0) + df(z0 + dz_neg))
    lim_neg = 0.5 * (df(z0) + df(z0 + dz_pos))
    m_pos = xp.where(far_pos, dy_pos / xp.where(far_pos, dz_pos, xp.ones_like(dz_pos)), lim_pos)
    m_neg = xp.where(far_neg, dy_neg / xp.where(far_neg, dz_neg, xp.ones_like(dz_neg)), lim_neg)
    return m_pos, m_neg
