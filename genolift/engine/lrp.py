"""Modified backward passes at the input: ε-LRP, LRP-αβ and connection weights, written once against the backend seam.

Each rule is a backward pass of the target at the input x in which some
nodes' gradients are replaced; the result m (L, 4) is a multiplier as for
the gradient rules, and the relevance of an input is x·m.  The network
applies them through :meth:`~.network.Network.point_target`'s ``rewrite``
hook (:func:`rewriter`): a node's value is computed as usual, its backward
pass by the op below.

* ``lrp-epsilon`` (DeepExplain's ε-LRP, a modified chain rule): every
  elementwise nonlinearity y = f(z) passes dy · f(z) / (z + ε·sign z) back
  (sign 0 = +1); every other op keeps its gradient.  The relevance entering
  the network is t(x) itself: the last linear layer is not stabilised.
* ``lrp-alpha-beta``: every Conv1D and Dense layer z = W·a + b redistributes
  the relevance R = z·c of its outputs (c the arriving multiplier) by
  R_i = Σ_j (α z_ij⁺ / z_j⁺ − β z_ij⁻ / z_j⁻) R_j with z_ij = a_i·w_ij and
  z_j^± = Σ_i z_ij^± + b_j^± (biases split by sign and keeping their share);
  elementwise nonlinearities pass relevance on unchanged (multiplier f(z)/z,
  f′(z) where |z| ≤ :data:`~.rules.NEAR_ZERO`); other ops keep their gradient.
* ``connection-weights``: every elementwise nonlinearity has derivative 1 and
  every max pool the gradient of the average pool of the same windows, so m is
  the gradient of the network's linear-activation copy (the product of its
  weight matrices); products of two changing tensors keep their gradient at x.
"""

from __future__ import annotations

from typing import Callable

from ..model.support import CROSS_MAX, RESCALE
from .elementwise import nonlinearity
from .pooling import average_of
from .rules import NEAR_ZERO


def epsilon_rule(xp, f: Callable, z, epsilon: float):
    """y = f(z) passing dy·f(z)/(z + ε·sign z) back (sign 0 = +1); z any shape."""

    def op(z):
        y = f(z)

        def grad(dy):
            sign = xp.where(z >= 0, xp.ones_like(z), -xp.ones_like(z))
            return dy * y / (z + epsilon * sign)

        return y, grad

    return xp.custom_gradient(op)(z)


def relevance_passing(xp, f: Callable, df: Callable, z):
    """y = f(z) passing dy·f(z)/z back (f′(z) where |z| ≤ NEAR_ZERO), so that z·m_z = y·m_y: relevance unchanged."""

    def op(z):
        y = f(z)

        def grad(dy):
            far = xp.abs(z) > NEAR_ZERO
            return dy * xp.where(far, y / xp.where(far, z, xp.ones_like(z)), df(z))

        return y, grad

    return xp.custom_gradient(op)(z)


def _share(xp, r, part, floor: float):
    """r / part where |part| > floor, else 0 (a part with no terms passes no relevance)."""
    big = xp.abs(part) > floor
    return xp.where(big, r / xp.where(big, part, xp.ones_like(part)), xp.zeros_like(part))


def alpha_beta(xp, linear: Callable, a, kernel, bias, alpha: float, beta: float):
    """z = linear(a, kernel, bias), a Conv1D or Dense layer, with the LRP-αβ rule as its backward pass.

    ``linear(v, w, b)`` is the layer's forward with weights w and bias b.  With c the arriving multiplier
    and R = z·c, the multiplier of a is [a ≥ 0]·(W⁺ᵀA − W⁻ᵀB) + [a < 0]·(W⁻ᵀA − W⁺ᵀB), A = αR/z⁺, B = βR/z⁻,
    so that a·m_a is the αβ relevance (at a = 0, as for a base absent from a one-hot input, the a ≥ 0 form:
    the relevance per unit the base would get, the denominators held at the input's).
    Shapes: a the layer's input, kernel and bias the layer's.
    """
    pos_w, neg_w = xp.relu(kernel), -xp.relu(-kernel)
    pos_b, neg_b, zero_b = xp.relu(bias), -xp.relu(-bias), xp.zeros_like(bias)
    plus = lambda v: linear(v, pos_w, zero_b)  # noqa: E731
    minus = lambda v: linear(v, neg_w, zero_b)  # noqa: E731
    floor = NEAR_ZERO * NEAR_ZERO

    def op(a):
        z = linear(a, kernel, bias)

        def grad(c):
            a_pos, a_neg = xp.relu(a), -xp.relu(-a)
            z_pos = plus(a_pos) + minus(a_neg) + pos_b
            z_neg = minus(a_pos) + plus(a_neg) + neg_b
            r = z * c
            share_pos, share_neg = alpha * _share(xp, r, z_pos, floor), beta * _share(xp, r, z_neg, floor)
            back_plus, back_minus = xp.vjp(plus, a)[1], xp.vjp(minus, a)[1]
            p_pos, m_pos = back_plus(share_pos)[0], back_minus(share_pos)[0]
            if beta == 0:
                return xp.where(a >= 0, p_pos, m_pos)
            p_neg, m_neg = back_plus(share_neg)[0], back_minus(share_neg)[0]
            return xp.where(a >= 0, p_pos - m_neg, m_pos - p_neg)

        return z, grad

    return xp.custom_gradient(op)(a)


def identity_gradient(xp, f: Callable, z):
    """y = f(z) whose backward pass is the identity (a linear activation's)."""

    def op(z):
        return f(z), lambda dy: dy

    return xp.custom_gradient(op)(z)


def spread_max(xp, pool: Callable, mean: Callable, z):
    """y = pool(z), a max over windows, whose backward pass is that of ``mean``, the average of the same windows."""

    def op(z):
        return pool(z), lambda dy: xp.vjp(mean, z)[1](dy)[0]

    return xp.custom_gradient(op)(z)


def rewriter(network, method) -> Callable | None:
    """The ``rewrite(node, inputs)`` hook of ``method``'s rule for ``network``, or None for ordinary gradients.

    The hook returns a node's value with the rule's backward pass, or None where the node keeps its own.
    """
    xp = network.xp
    rule = method.rule

    def kind(node):
        return network.entries[node.name][1]

    def forward(node):
        return network.entries[node.name][0]

    if rule == "lrp-epsilon":
        def rewrite(node, inputs):
            if kind(node) != RESCALE:
                return None
            f, _ = nonlinearity(xp, node, network.consts[node.name])
            return epsilon_rule(xp, f, inputs[0], method.epsilon)
    elif rule == "lrp-alpha-beta":
        def rewrite(node, inputs):
            if kind(node) == RESCALE:
                return relevance_passing(xp, *nonlinearity(xp, node, network.consts[node.name]), inputs[0])
            if node.op not in ("conv1d", "dense"):
                return None
            kernel, bias = network.consts[node.name]
            linear = lambda v, w, b: forward(node)(xp, node, [v], [w, b])  # noqa: E731
            return alpha_beta(xp, linear, inputs[0], kernel, bias, method.alpha, method.beta)
    elif rule == "connection-weights":
        def rewrite(node, inputs):
            if kind(node) == RESCALE:
                f, _ = nonlinearity(xp, node, network.consts[node.name])
                return identity_gradient(xp, f, inputs[0])
            if kind(node) == CROSS_MAX:
                pool = lambda t: forward(node)(xp, node, [t], network.consts[node.name])  # noqa: E731
                return spread_max(xp, pool, average_of(xp, node), inputs[0])
            return None
    else:
        return None
    return rewrite
