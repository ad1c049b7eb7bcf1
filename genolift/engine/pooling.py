"""Max pooling under DeepLIFT other than cross-max: winner-takes-all and average (``--maxpool``).

Both are innsight's options for its DeepLift, written once against the
backend seam.  With taped rows (S·J, ...) and the other branch's (S, ...)
as in :mod:`.rules`, and g the multiplier arriving at a window's output:

* ``winner-takes-all``: the pooling gradient at the input sequence's branch — g goes to the
  position of the input's maximum, whatever the reference's maximum is.  Summation-to-delta
  fails wherever the two branches' maxima sit at different positions or differ from the
  change of the maximum; the deltas show by how much.
* ``average``: the window's change Δy = max(x) − max(x⁰) spread evenly over its positions,
  as an average pool does: every position gets the multiplier g·Δy / (n·mean Δx), n the
  window's size, so Σ m·Δx = g·Δy and summation-to-delta holds.  The ratio has no value
  where the mean change vanishes while the positions change (a window whose values were
  permuted), and loses precision where it nearly does; where |mean Δx| ≤
  :data:`MEAN_SHARE` × rms(Δx) (or ≤ :data:`~.rules.NEAR_ZERO`), Δy is spread in proportion
  to each position's change instead, m_i = g·Δy·Δx_i / Σ_j Δx_j², which sums to g·Δy too.
  A window that does not change at all (rms(Δx) ≤ NEAR_ZERO) takes the pooling gradient at
  the input, the limit Rescale also takes.
"""

from __future__ import annotations

from typing import Callable

from .rules import NEAR_ZERO

#: |mean Δx| at or below this fraction of the window's rms(Δx) spreads Δy in proportion to Δx (see above).
MEAN_SHARE = 1e-3


def average_of(xp, node) -> Callable:
    """The average counterpart t ↦ mean over the windows of max-pool-like ``node`` (same windows, same shape).

    ``maxpool1d`` → an average pool (a 'same'-padded one averages the positions it covers), a global
    max pool → the mean over the length axis, ``reduce_max``/``reduce_min`` → the mean over their axes.
    """
    p = node.params
    if node.op == "maxpool1d":
        return lambda t: xp.avg_pool1d(t, p["pool"], p["strides"], p["padding"])
    if node.op == "global_maxpool1d":
        return lambda t: xp.mean(t, axis=1, keepdims=p.get("keepdims", False))
    return lambda t: xp.mean(t, axis=p["axis"], keepdims=p.get("keepdims", True))


def _input_branch(xp, z, z_other, j: int, taped_is_input: bool):
    """The input sequence's rows, (S·J, ...): the taped rows, or the other branch's repeated."""
    return z if taped_is_input else xp.repeat(z_other, j, axis=0)


def winner_takes_all(xp, pool: Callable, z, z_other, j: int, taped_is_input: bool):
    """y = pool(z) whose multiplier is pool's gradient at the input branch.

    Shapes: z (S·J, ...) taped, z_other (S, ...); ``taped_is_input`` says which branch holds the sequence.
    """

    def op(z):
        def grad(g):
            return xp.vjp(pool, _input_branch(xp, z, z_other, j, taped_is_input))[1](g)[0]

        return pool(z), grad

    return xp.custom_gradient(op)(z)


def average(xp, pool: Callable, mean: Callable, z, z_other, j: int, taped_is_input: bool):
    """y = pool(z) whose multiplier spreads each window's Δy evenly (see the module's docstring).

    ``pool`` is the max pool, ``mean`` its average counterpart (:func:`average_of`).
    Shapes: z (S·J, ...) taped, z_other (S, ...).
    """

    def op(z):
        y = pool(z)

        def grad(g):
            z_rep = xp.repeat(z_other, j, axis=0)
            d = z - z_rep
            dy = y - pool(z_rep)
            dmean, spread = xp.vjp(mean, d)
            square = mean(d * d)  # mean Δx² of each window
            changed = square > NEAR_ZERO * NEAR_ZERO
            even = xp.abs(dmean) > xp.maximum(MEAN_SHARE * xp.sqrt(square), NEAR_ZERO * xp.ones_like(square))
            by_change = changed & ~even
            ratio = xp.where(even, dy / xp.where(even, dmean, xp.ones_like(dmean)), xp.zeros_like(dmean))
            share = xp.where(by_change, dy / xp.where(by_change, square, xp.ones_like(square)), xp.zeros_like(square))
            still = xp.where(changed, xp.zeros_like(g), g)
            winner = xp.vjp(pool, _input_branch(xp, z, z_other, j, taped_is_input))[1](still)[0]
            return spread(g * ratio)[0] + d * spread(g * share)[0] + winner

        return y, grad

    return xp.custom_gradient(op)(z)
