"""The max-pool (cross-max) rule against its definition, by brute force in numpy, where the pool's input
is unchanged between sequence and reference (Δx = 0) and where a window's maximum is tied.

Per window, with T the sequence's maximum (at a), O the reference's (at b) and M = max(T, O), the
contribution g·(M − O) goes to a and g·(T − M) to b (ties to the first maximum); a position's multiplier
is its summed contribution over Δx.  Where Δx = 0 that ratio is 0/0 and the multiplier is its limit
Δx → 0, found here by moving the sequence's value at that position by ±ε: the upstream multiplier g
where the position holds both branches' maximum (T = O), else 0, as the Rescale rule's Δy/Δx tends to
the gradient.  Where a tie within a branch makes the two sides differ, the max is not differentiable
there and any multiplier between them will do.  Contributions at Δx = 0 are 0 whatever the multiplier,
so summation-to-delta holds either way, but hypothetical scores read the multipliers there.
"""

from __future__ import annotations

import numpy as np
import pytest

from genolift.engine import rules

#: A power of two: moving small integers by it, and the shares' ratios to it, are exact.
EPS = 2.0 ** -20


def _shares(x, r, g, windows):
    """Summed cross-max contributions per position of x, r (L, C) for upstream g (windows, C)."""
    share = np.zeros_like(x)
    for w, (lo, hi) in enumerate(windows):
        for c in range(x.shape[1]):
            a, b = lo + int(np.argmax(x[lo:hi, c])), lo + int(np.argmax(r[lo:hi, c]))
            top = max(x[a, c], r[b, c])
            share[a, c] += g[w, c] * (top - r[b, c])
            share[b, c] += g[w, c] * (x[a, c] - top)
    return share


def one_sided(x, r, g, windows):
    """Cross-max multipliers (2, L, C): each Δx = 0 one as its limits from above and below, else the ratio."""
    dx = x - r
    share = _shares(x, r, g, windows)
    m = np.where(dx != 0, share / np.where(dx == 0, 1, dx), 0.0)
    sides = np.stack([m, m])
    for i, c in zip(*np.nonzero(dx == 0)):
        for side, step in enumerate((EPS, -EPS)):
            moved = x.copy()
            moved[i, c] += step
            sides[side, i, c] = _shares(moved, r, g, windows)[i, c] / step
    return sides


def brute_force(x, r, g, windows):
    """Cross-max multipliers (L, C) by definition, NaN where the one-sided limits differ (ties)."""
    up, down = one_sided(x, r, g, windows)
    return np.where(up == down, up, np.nan)


def tiled(length: int, p: int) -> list:
    return [(lo, lo + p) for lo in range(0, length - p + 1, p)]


def _multipliers(xp, pool_op, x, r, g):
    """Multipliers of taped x (L, C) against r (L, C) under ``pool_op`` on backend xp, for upstream g, in float64."""
    xt, ro = xp.constant(x[None], "float64"), xp.constant(r[None], "float64")
    y, pullback = xp.vjp(lambda t: pool_op(xp, t, ro), xt)
    return xp.to_numpy(pullback(xp.constant(g[None].reshape(xp.shape(y)), "float64"))[0])[0]


def tiled_op(p: int, keepdims: bool = True):
    return lambda xp, xt, ro: rules.tiled_cross_max(xp, xt, ro, 1, p, keepdims)


def strided_op(p: int, stride: int):
    """The fused kernel on windows overlapping by whole strides."""
    return lambda xp, xt, ro: rules.tiled_cross_max(xp, xt, ro, 1, p, stride=stride)


def overlapping_op(p: int, stride: int):
    return lambda xp, xt, ro: rules.cross_max(xp, lambda t: xp.max_pool1d(t, p, stride, "valid"), xt, ro, 1)


def hand_case():
    """x, r (8, 3) with pool 4: unchanged windows, a shared maximum, a larger reference maximum, a tie."""
    x = np.array([[1, 2, 3], [3, 1, 3], [2, 0, 1], [0, 0, 0],
                  [5, 1, 2], [1, 7, 2], [1, 0, 2], [2, 3, 2]], np.float64)
    r = np.array([[1, 2, 1], [3, 4, 3], [0, 0, 1], [0, 0, 0],
                  [4, 1, 2], [1, 7, 2], [6, 0, 2], [2, 3, 2]], np.float64)
    g = np.array([[2.0, -1.0, 3.0], [0.5, 4.0, -2.0]])
    return x, r, g


def random_case(rng, length: int, channels: int, windows: int):
    """Values on a coarse grid (ties within windows), the reference equal to x at about half the positions."""
    x = rng.integers(0, 8, (length, channels)).astype(np.float64)
    r = np.where(rng.random(x.shape) < 0.5, x, rng.integers(0, 8, x.shape))
    return x, r, rng.normal(size=(windows, channels))


def test_hand_case_brute_force_values():
    """The brute force itself, on values worked out by hand."""
    x, r, g = hand_case()
    m = brute_force(x, r, g, tiled(8, 4))
    assert m[1, 0] == 2.0  # both maxima (3) at position 1, Δx = 0: the limit is g
    assert m[0, 1] == 0.0  # the sequence's maximum, but the reference's is larger (4): raising x there changes nothing
    assert m[1, 1] == pytest.approx(-2.0 / 3.0)  # changed: the reference maximum takes −1·(2 − 4) over Δx = −3
    assert np.isnan(m[1, 2])  # tied maxima in x (positions 0, 1), the reference's at 1: g from above, 0 from below
    assert m[6, 0] == 0.5 * (5 - 6) / (1 - 6)  # the reference's larger maximum, changed
    assert m[5, 1] == 4.0  # a window equal in both: g at the maximum
    assert np.isnan(m[4:, 2]).all()  # a window equal in both, all tied: g from above, 0 from below, at each
    assert m[2, 0] == 0.0 and m[3, 0] == 0.0  # changed but not a maximum; unchanged and not a maximum
    assert np.isnan(m).sum() == 5 and (m[x == r] != 0).sum() == 7


@pytest.mark.parametrize("op, windows", [
    (tiled_op(4), tiled(8, 4)),
    (overlapping_op(4, 2), [(0, 4), (2, 6), (4, 8)]),
    (strided_op(4, 2), [(0, 4), (2, 6), (4, 8)]),
])
@pytest.mark.fast_backends("tensorflow")
def test_summation_to_delta_with_unchanged_windows(op, windows, xp):
    """Σ m·Δx = Σ g·(T − O) whatever the multipliers at Δx = 0."""
    x, r, _ = hand_case()
    g = np.random.default_rng(0).normal(size=(len(windows), 3))
    m = _multipliers(xp, op, x, r, g)
    tops = [(x[lo:hi].max(0), r[lo:hi].max(0)) for lo, hi in windows]
    assert np.sum(m * (x - r)) == pytest.approx(sum(np.sum(gw * (t - o)) for gw, (t, o) in zip(g, tops)), abs=1e-12)


CASES = [
    ("tiled 4", tiled_op(4), 12, tiled(12, 4)),
    ("tiled 10 (cumulative-sum kernel)", tiled_op(10), 20, tiled(20, 10)),
    ("global", tiled_op(12, keepdims=False), 12, [(0, 12)]),
    ("overlapping 4 / 2", overlapping_op(4, 2), 12, [(lo, lo + 4) for lo in range(0, 9, 2)]),
    ("fused overlapping 4 / 2", strided_op(4, 2), 12, [(lo, lo + 4) for lo in range(0, 9, 2)]),
    ("fused overlapping 3 / 1, a tail", strided_op(3, 1), 11, [(lo, lo + 3) for lo in range(0, 9)]),
    ("fused overlapping 6 / 2, a tail", strided_op(6, 2), 13, [(lo, lo + 6) for lo in range(0, 8, 2)]),
    ("fused overlapping 12 / 4 (cumulative-sum kernel)", strided_op(12, 4), 24,
     [(lo, lo + 12) for lo in range(0, 13, 4)]),
    ("overlapping 12 / 4", overlapping_op(12, 4), 24, [(lo, lo + 12) for lo in range(0, 13, 4)]),
]

#: Cases where a tied, unchanged maximum's multiplier can fall outside its one-sided limits: with three
#: windows over a position, the rule's per-window choice at a tie (g to the first position holding the
#: maximum in both branches) does not always add up to a value between the limits of the sum.  Known in
#: the rule itself (the general op and the fused kernel agree exactly there); contributions are unaffected
#: (Δx = 0), hypothetical scores at such positions are.
WIDE_OVERLAP = {"fused overlapping 12 / 4 (cumulative-sum kernel)", "overlapping 12 / 4"}


def _limit_cases():
    mark = pytest.mark.xfail(strict=True, reason="known: ties under three overlapping windows (WIDE_OVERLAP)")
    return [pytest.param(*case, id=case[0], marks=[mark] if case[0] in WIDE_OVERLAP else []) for case in CASES]


def _compare(got, want, where):
    np.testing.assert_allclose(got[where], want[where], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, op, length, windows", CASES, ids=[c[0] for c in CASES])
@pytest.mark.fast_backends("tensorflow")
def test_multipliers_match_definition_except_unchanged_maxima(name, op, length, windows, xp):
    """Changed positions (Δx ≠ 0), and unchanged ones whose limit is 0, agree with the brute force."""
    rng = np.random.default_rng(1)
    for _ in range(5):
        x, r, g = random_case(rng, length, 3, len(windows))
        want = brute_force(x, r, g, windows)
        _compare(_multipliers(xp, op, x, r, g), want, (x != r) | (want == 0))


@pytest.mark.parametrize("p, stride, length", [(4, 2, 12), (3, 1, 11), (6, 2, 13), (12, 4, 24), (4, 4, 13)])
@pytest.mark.fast_backends("tensorflow")
def test_fused_kernel_equals_the_general_rule(p, stride, length, xp):
    """The fused kernel on overlapping (and tiling) windows gives the general op's multipliers, ties included."""
    rng = np.random.default_rng(7)
    windows = (length - p) // stride + 1
    for _ in range(4):
        x, r, g = random_case(rng, length, 3, windows)
        np.testing.assert_allclose(_multipliers(xp, strided_op(p, stride), x, r, g),
                                   _multipliers(xp, overlapping_op(p, stride), x, r, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, op, length, windows", CASES, ids=[c[0] for c in CASES])
@pytest.mark.fast_backends("tensorflow", "jax")
def test_multipliers_symmetric_in_the_branches(name, op, length, windows, xp):
    """Either branch may be the taped one."""
    x, r, g = random_case(np.random.default_rng(2), length, 3, len(windows))
    np.testing.assert_allclose(_multipliers(xp, op, x, r, g), _multipliers(xp, op, r, x, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, op, length, windows", _limit_cases())
@pytest.mark.fast_backends("tensorflow")
def test_unchanged_maxima_take_the_limit(name, op, length, windows, xp):
    """Where Δx = 0 the multiplier is the limit Δx → 0, or, where a tie leaves it undefined, between the
    limits from above and below."""
    rng = np.random.default_rng(1)
    shared = tied = 0
    for _ in range(5):
        x, r, g = random_case(rng, length, 3, len(windows))
        sides = one_sided(x, r, g, windows)
        got = _multipliers(xp, op, x, r, g)
        defined = sides[0] == sides[1]
        shared += np.sum(defined & (x == r) & (sides[0] != 0))
        tied += np.sum(~defined)
        _compare(got, sides[0], defined)
        assert np.all((sides.min(0) - 1e-12 <= got) & (got <= sides.max(0) + 1e-12))
    assert shared and tied  # the cases hold both kinds


@pytest.mark.parametrize("name, op, length, windows", CASES, ids=[c[0] for c in CASES])
@pytest.mark.fast_backends("tensorflow", "jax")
def test_equal_branches_give_the_pooling_gradient(name, op, length, windows, xp):
    """Sequence = reference: the multipliers are the pool's gradient (g to each window's first maximum)."""
    x, _, g = random_case(np.random.default_rng(4), length, 3, len(windows))
    gradient = np.zeros_like(x)
    for w, (lo, hi) in enumerate(windows):
        for c in range(x.shape[1]):
            gradient[lo + int(np.argmax(x[lo:hi, c])), c] += g[w, c]
    np.testing.assert_allclose(_multipliers(xp, op, x, x, g), gradient, atol=0)


@pytest.mark.fast_backends("tensorflow", "jax")
def test_multiplier_continuous_as_the_change_vanishes(xp):
    """A shared maximum moved by 1e-9 has multiplier g; unmoved (Δx = 0) it has g too."""
    x, r, g = hand_case()
    near = x.copy()
    near[1, 0] += 1e-9
    assert _multipliers(xp, tiled_op(4), near, r, g)[1, 0] == pytest.approx(2.0, rel=1e-6)
    assert _multipliers(xp, tiled_op(4), x, r, g)[1, 0] == pytest.approx(2.0, rel=1e-6)


def test_fused_relu_and_pool_at_an_unchanged_window(xp):
    """relu then pool as one op: in a window equal in both branches, the maximum's multiplier is g · relu′."""
    z = np.array([[0.5, -1.0], [2.0, -0.5], [1.0, 3.0], [-2.0, 1.0]], np.float64)
    r = z.copy()
    r[3, 0] = 0.25  # changed, not the maximum of either branch
    g = np.array([[3.0, -2.0]])
    op = lambda xp, zt, ro: rules.tiled_cross_max(xp, zt, ro, 1, 4, f=xp.relu,  # noqa: E731
                                                  df=lambda t: xp.cast(t > 0, xp.dtype_name(t)))
    want = np.zeros_like(z)
    want[1, 0], want[2, 1] = 3.0, -2.0
    np.testing.assert_allclose(_multipliers(xp, op, z, r, g), want, atol=1e-12)
