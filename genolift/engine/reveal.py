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
import tensorflow as tf

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


def _parts(kernel: np.ndarray, scale) -> tuple[np.ndarray, np.ndarray]:
    w = kernel.astype(np.float64) * (1.0 if scale is None else scale)
    return np.maximum(w, 0.0), np.minimum(w, 0.0)


class RevealCancel:
    """The rule for one nonlinearity node, with its linear source's W⁺ and W⁻ as constants."""

    def __init__(self, lin_node, scale, linear_fn: Callable, f: Callable, df: Callable, dtype):
        pos, neg = _parts(lin_node.weights[0], scale)
        zero_bias = tf.zeros(pos.shape[-1], dtype)
        self.pos = lambda v: linear_fn(lin_node, [v], [tf.constant(pos, dtype), zero_bias])  # noqa: E731
        self.neg = lambda v: linear_fn(lin_node, [v], [tf.constant(neg, dtype), zero_bias])  # noqa: E731
        self.f, self.df = f, df

    @staticmethod
    def _transpose(fn: Callable, like: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(like)
            out = fn(like)
        return tape.gradient(out, like, output_gradients=u)

    def __call__(self, z, a, z_other, y_other, a_other, j: int):
        """y = f(z) whose gradient goes to a (the linear layer's input) by RevealCancel.

        Shapes: z (S·J, ...), a (S·J, ...); the other branch's z, y, a have S rows.
        """
        f, df = self.f, self.df

        @tf.custom_gradient
        def op(z, a):
            y = f(z)

            def grad(dy):
                shape_z = tf.shape(z)
                da = _difference(a, tf.repeat(a_other, j, axis=0))
                da_pos, da_neg = tf.nn.relu(da), -tf.nn.relu(-da)
                dz_pos = self.pos(da_pos) + self.neg(da_neg)
                dz_neg = self.pos(da_neg) + self.neg(da_pos)
                z0 = tf.repeat(z_other, j, axis=0)
                m_pos, m_neg = _ratios(f, df, z0, dz_pos, dz_neg)
                g_pos, g_neg = dy * m_pos, dy * m_neg
                through = lambda fn, u: self._transpose(fn, da, u)  # noqa: E731
                up = through(self.pos, g_pos) + through(self.neg, g_neg)
                down = through(self.pos, g_neg) + through(self.neg, g_pos)
                mixed = 0.5 * (up + down)
                g_a = tf.where(da > 0, up, tf.where(da < 0, down, mixed))
                return tf.zeros(shape_z, z.dtype), g_a

            return y, grad

        return op(z, a)


#: |Δa| at or below this many units of round-off of |a| + |a⁰| is taken as 0 (see :func:`_difference`).
ROUND_OFF_UNITS = 8


def _difference(a: tf.Tensor, a_other: tf.Tensor) -> tf.Tensor:
    """Δa = a − a⁰, with differences at the level of round-off set to exactly 0.

    The rule treats Δa = 0 on its own (the mean of both routes); a compiler
    that fuses the two branches' layers differently (XLA) leaves ~1e-9 where
    equal inputs should give 0, and the sign of that noise would pick a route.
    """
    da = a - a_other
    tolerance = ROUND_OFF_UNITS * np.finfo(a.dtype.as_numpy_dtype).eps * (tf.abs(a) + tf.abs(a_other))
    return tf.where(tf.abs(da) <= tolerance, tf.zeros_like(da), da)


def _ratios(f, df, z0, dz_pos, dz_neg):
    """m⁺ and m⁻ of the RevealCancel rule, with their limits near Δz± = 0."""
    dy_pos = 0.5 * (f(z0 + dz_pos) - f(z0)) + 0.5 * (f(z0 + dz_neg + dz_pos) - f(z0 + dz_neg))
    dy_neg = 0.5 * (f(z0 + dz_neg) - f(z0)) + 0.5 * (f(z0 + dz_pos + dz_neg) - f(z0 + dz_pos))
    far_pos, far_neg = tf.abs(dz_pos) > NEAR_ZERO, tf.abs(dz_neg) > NEAR_ZERO
    lim_pos = 0.5 * (df(z0) + df(z0 + dz_neg))
    lim_neg = 0.5 * (df(z0) + df(z0 + dz_pos))
    m_pos = tf.where(far_pos, dy_pos / tf.where(far_pos, dz_pos, tf.ones_like(dz_pos)), lim_pos)
    m_neg = tf.where(far_neg, dy_neg / tf.where(far_neg, dz_neg, tf.ones_like(dz_neg)), lim_neg)
    return m_pos, m_neg

