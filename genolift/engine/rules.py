"""DeepLIFT rules as ops with overridden gradients, written once against the backend seam.

The engine runs one branch of each (sequence, reference) pair under the
backend's autodiff and feeds it the other branch's activations.  Taped rows
come in groups of J that share one row of the other branch: a taped tensor
has shape (S·J, ...) and the other branch's (S, ...), and the rules
broadcast over J instead of copying.  Each nonlinearity is an op whose
forward pass is the ordinary one and whose "gradient" is the DeepLIFT
multiplier computed from both branches, so one backward pass of the taped
branch yields the multipliers of every pair.  Multipliers are symmetric in
the two branches, so either branch may be the taped one.

Every function takes ``xp``, a backend module (:mod:`genolift.engine.backends`).
The other branch's tensors enter each op as arguments (their gradient is
None), never through a closure: a rule may then run inside a loop (a
recurrent layer's scan), whose body JAX traces apart.

Near-zero rule: where |Δz| ≤ :data:`NEAR_ZERO` the Rescale multiplier
Δy/Δz is replaced by its limit, f′ at the midpoint ½(z + z⁰).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: |Δz| at or below which Rescale falls back to the derivative at the midpoint.
NEAR_ZERO = 1e-6
#: Elements per row from which a Rescale multiplier is one fused kernel (where the backend fuses pieces).
FUSE_FROM = 1024


def grouped(xp, t, j: int):
    """View (S·J, ...) as (S, J, ...)."""
    return xp.reshape(t, [-1, j, *xp.shape(t)[1:]])


def _slope(xp, df, z3, y3, z_other3, y_other3):
    """Rescale multiplier Δy/Δz, or f′ at the midpoint where |Δz| ≤ NEAR_ZERO (any broadcastable shapes)."""
    dz = z3 - z_other3
    far = xp.abs(dz) > NEAR_ZERO
    ratio = (y3 - y_other3) / xp.where(far, dz, xp.ones_like(dz))
    return xp.where(far, ratio, df(0.5 * (z3 + z_other3)))


def rescale(xp, f: Callable, df: Callable, z, z_other, y_other, j: int):
    """y = f(z) whose multiplier is Δy/Δz (Rescale rule).

    Parameters
    ----------
    f, df : the elementwise function and its derivative.
    z : taped branch input, shape (S·J, ...).
    z_other, y_other : the other branch's input and output, shape (S, ...).
    j : taped rows per row of the other branch.
    """
    shape = xp.shape(z)

    def multiplied(z, z_other, y_other, dy):
        z3 = grouped(xp, z, j)
        slope = _slope(xp, df, z3, f(z3), z_other[:, None], y_other[:, None])
        return dy * xp.reshape(slope, shape)

    if int(np.prod(shape[1:])) >= FUSE_FROM:
        # one fused loop instead of a dozen passes over the activations; f(z) is recomputed
        # there rather than read back (small tensors, such as a recurrent layer's gates at
        # one time step, skip the compilation)
        multiplied = xp.fused(multiplied)

    def op(z, z_other, y_other):
        return f(z), lambda dy: (multiplied(z, z_other, y_other, dy), None, None)

    return xp.custom_gradient(op)(z, z_other, y_other)


def fused_window(node, length: int) -> tuple[int, int] | None:
    """(window, stride) of a max pool that :func:`tiled_cross_max` runs as one kernel, else None.

    Windows that tile the input (stride = window: valid padding, or same
    padding where it adds none; a global max pool), and valid-padded windows
    that overlap by whole strides (the window a multiple of the stride, as
    pool 4 with stride 2).
    """
    if node.op == "global_maxpool1d":
        return length, length
    if node.op != "maxpool1d":
        return None
    p, s = node.params["pool"], node.params["strides"]
    if p % s or p > length:
        return None
    if node.params["padding"] == "valid" or (s == p and length % p == 0):
        return p, s
    return None


def _first_max(xp, a, top):
    """True where a (..., p, C) holds its window's maximum ``top`` (..., C) for the first time along p.

    The first index is found as a minimum over the window axis and compared
    with every position, so the kernel stays elementwise with broadcasts
    (no per-position slices to stack).
    """
    p = xp.shape(a)[-2]
    index = xp.reshape(xp.arange(p, like=a), [p, 1])
    first = xp.min(xp.where(a == top[..., None, :], index, p), axis=-2, keepdims=True)
    return index == first


def _divide_no_nan(xp, a, b):
    """a / b, and 0 where b = 0."""
    zero = b == 0
    return xp.where(zero, xp.zeros_like(a), a / xp.where(zero, xp.ones_like(b), b))


def _window_multipliers(xp, taped: tuple, other: tuple, g, f, df):
    """Cross-max (and Rescale, for f) multipliers per window position.

    ``taped`` and ``other`` are (x, f(x), window max, share routed to the first maximum) of each branch,
    shapes (S, J or 1, W, p, C) for the first two and (S, J or 1, W, C) for the others; ``g`` (S, J, W, C)
    is the upstream multiplier.  Where Δ = 0 the ratio is 0/0: as in :func:`cross_max`, a window whose
    maxima are equal gives ``g`` to the first position holding that maximum in both branches.  The
    result has the taped x's shape.
    """
    (xt, at, top_t, to_taped), (xo, ao, top_o, to_other) = taped, other
    zero = xp.zeros_like(at)
    share = (xp.where(_first_max(xp, at, top_t), to_taped[..., None, :], zero)
             + xp.where(_first_max(xp, ao, top_o), to_other[..., None, :], zero))
    held = _first_max(xp, xp.where(at == ao, at, xp.lowest(at)),
                      xp.where(top_t == top_o, top_t, xp.highest(top_t)))
    m = xp.where(held, g[..., None, :] + zero, _divide_no_nan(xp, share, at - ao))
    return m * _slope(xp, df, xt, at, xo, ao) if f is not None else m


def _windowed(xp, t, rows: int, windows: int, m_blocks: int, stride: int):
    """t (R·rows, L, C) as (R, rows, W, m·stride, C): window w is the m blocks of a stride from block w on."""
    blocks = windows + m_blocks - 1
    b = xp.reshape(t[:, :blocks * stride], (-1, rows, blocks, stride, xp.shape(t)[2]))
    if m_blocks == 1:
        return b
    return xp.concat([b[:, :, r:r + windows] for r in range(m_blocks)], axis=3)


def _scattered(xp, m, stride: int):
    """Per-window multipliers (R, J, W, m·stride, C) summed into their positions: (R·J, (W + m − 1)·stride, C)."""
    _, j, windows, p, channels = xp.shape(m)
    m_blocks = p // stride
    if m_blocks > 1:
        m = xp.reshape(m, (-1, j, windows, m_blocks, stride, channels))
        parts = [xp.pad(m[:, :, :, r], [(0, 0), (0, 0), (r, m_blocks - 1 - r), (0, 0), (0, 0)])
                 for r in range(m_blocks)]
        m = parts[0]
        for part in parts[1:]:
            m = m + part
    return xp.reshape(m, (-1, (windows + m_blocks - 1) * stride, channels))


def tiled_cross_max(xp, x, x_other, j: int, p: int, keepdims: bool = True,
                    f: Callable | None = None, df: Callable | None = None, stride: int | None = None):
    """y = max over windows of p (stride ``stride``, default p) of f(x), with cross-max (and, for f, Rescale)
    multipliers in one kernel.

    Same multipliers as :func:`cross_max` (ties to the first maximum) for a
    valid-padded pool whose window is a whole number m of strides (m = 1: the
    windows tile the input), and, when ``f`` is given, as :func:`rescale` of
    f followed by that pool; the gradient is one fused loop that never forms
    the pooled input's multipliers or copies the other branch per pair.
    Overlapping windows are read as m consecutive blocks of a stride each,
    and each block's multipliers are the sum over the m windows that hold it
    (the pooling gradient's scatter-add).  ``keepdims`` False drops the
    window axis (a global max pool).

    Shapes: x (S·J, L, C) taped, x_other (S, L, C); output (S·J, W, C) with
    W = (L − p) // stride + 1.
    """
    f_ = f or (lambda t: t)
    s = stride or p
    if p % s:
        raise ValueError(f"window {p} is not a multiple of stride {s}")
    m_blocks = p // s
    _, length, channels = xp.shape(x)
    windows = (length - p) // s + 1
    n = (windows + m_blocks - 1) * s

    def pool(t):
        y = xp.max_pool1d(f_(t), p, s, "valid")
        return y if keepdims else y[:, 0]

    def multipliers(x, x_other, g):
        xt, xo = _windowed(xp, x, j, windows, m_blocks, s), _windowed(xp, x_other, 1, windows, m_blocks, s)
        at, ao = f_(xt), f_(xo)
        top_t, top_o = xp.max(at, axis=3), xp.max(ao, axis=3)
        top = xp.maximum(top_t, top_o)
        g4 = xp.reshape(g, (-1, j, windows, channels))
        to_taped, to_other = g4 * (top - top_o), g4 * (top_t - top)
        m = _scattered(xp, _window_multipliers(xp, (xt, at, top_t, to_taped), (xo, ao, top_o, to_other), g4, f, df),
                       s)
        return xp.pad(m, [(0, 0), (0, length - n), (0, 0)]) if n < length else m

    multipliers = xp.fused(multipliers)

    def op(x, x_other):
        return pool(x), lambda g: (multipliers(x, x_other, xp.reshape(g, (-1, windows, channels))), None)

    return xp.custom_gradient(op)(x, x_other)


def cross_max(xp, pool: Callable, x, x_other, j: int, use_min: bool = False):
    """y = pool(x), a max over windows (a min, with ``use_min``), with the cross-max multipliers.

    Per window, with T the taped branch's max (at a), O the other's (at b) and
    M = max(T, O), the contribution g·(M − O) goes to a and g·(T − M) to b;
    they sum to g·(T − O).  Overlapping windows accumulate (the pooling
    gradient scatter-adds); ties go to the first maximum.  A position's
    multiplier is its summed contribution divided by its Δx.  Where Δx = 0
    that ratio is 0/0.  Its limit Δx → 0 is g where the position is both
    branches' first maximum (a = b, T = O), else 0, except at ties, where
    the two one-sided limits differ and any value between them is one: each
    window with T = O gives g to the first position holding T in both
    branches (so x = x_other gives the pooling gradient).  For a min,
    M = min(T, O) and the same split holds (min(x) = −max(−x)).

    Shapes: x (S·J, ...), x_other (S, ...).
    """
    combine = xp.minimum if use_min else xp.maximum

    def op(x, x_other):
        y = pool(x)

        def grad(g):
            x_rep = xp.repeat(x_other, j, axis=0)
            # Where Δx = 0: g at the first position holding the maximum of both branches
            # (a = b when sequence = reference: the pooling gradient).
            extreme = xp.highest(x) if use_min else xp.lowest(x)
            agreed = xp.where(x == x_rep, x, extreme)
            (y_, y_rep, y_agreed), pullback = xp.vjp(lambda a, b, c: (pool(a), pool(b), pool(c)), x, x_rep, agreed)
            top = combine(y_, y_rep)
            held = xp.where((y_agreed == y_) & (y_ == y_rep), g, xp.zeros_like(g))
            to_x, to_rep, to_agreed = pullback((g * (top - y_rep), g * (y_ - top), held))
            return _divide_no_nan(xp, to_x + to_rep, x - x_rep) + to_agreed, None

        return y, grad

    return xp.custom_gradient(op)(x, x_other)


def profile_exact(xp, zc, zc_other, out_other, j: int):
    """out_l = zc_l · softmax(zc)_l, with the Rescale multiplier Δout_l / Δzc_l per element.

    Shapes: zc (S·J, P) mean-centred logits, zc_other and out_other (S, P).
    Near Δzc = 0 the multiplier is ∂out_l/∂zc_l = w_l + zc_l·w_l·(1 − w_l).
    """

    def op(zc, zc_other, out_other):
        w = xp.softmax(zc, axis=-1)
        out = zc * w

        def grad(dy):
            z3, o3, w3 = grouped(xp, zc, j), grouped(xp, out, j), grouped(xp, w, j)
            dz = z3 - zc_other[:, None]
            far = xp.abs(dz) > NEAR_ZERO
            ratio = (o3 - out_other[:, None]) / xp.where(far, dz, xp.ones_like(dz))
            slope = xp.where(far, ratio, w3 + z3 * w3 * (1 - w3))
            return dy * xp.reshape(slope, xp.shape(zc)), None, None

        return out, grad

    return xp.custom_gradient(op)(zc, zc_other, out_other)


def profile_fixed_weights(xp, zc, w_other, j: int):
    """zc_l · w_l with w = softmax(zc) held fixed; multiplier ½(w(x) + w(r)) (not exact)."""

    def op(zc, w_other):
        w = xp.softmax(zc, axis=-1)

        def grad(dy):
            return dy * xp.reshape(0.5 * (grouped(xp, w, j) + w_other[:, None]), xp.shape(zc)), None

        return zc * w, grad

    return xp.custom_gradient(op)(zc, w_other)


def _pair_mean(xp, t, t_other, j: int):
    """½(t + t⁰) per taped row: t (S·J, ...), t_other (S, ...)."""
    return xp.reshape(0.5 * (grouped(xp, t, j) + t_other[:, None]), xp.shape(t))


def product(xp, a, b, a_other, b_other, j: int):
    """y = a · b (broadcasting) for two changing inputs, with the two-player Shapley split.

    Δ(ab) = ½(b + b⁰)·Δa + ½(a + a⁰)·Δb exactly, so multipliers are
    m_a = ½(b + b⁰) and m_b = ½(a + a⁰) (summed over broadcast axes).
    Shapes: a, b (S·J, ...); a_other, b_other (S, ...).
    """

    def op(a, b, a_other, b_other):
        def grad(dy):
            ga = dy * _pair_mean(xp, b, b_other, j)
            gb = dy * _pair_mean(xp, a, a_other, j)
            return _unbroadcast(xp, ga, a), _unbroadcast(xp, gb, b), None, None

        return a * b, grad

    return xp.custom_gradient(op)(a, b, a_other, b_other)


def operand_equations(equation: str) -> tuple[str, str]:
    """The einsum equations of the two operands' vector-Jacobian products of ``equation`` ("ab,bc->ac").

    ``dy, b -> a`` and ``dy, a -> b``: exact when every index of an operand appears in the other one or the
    output, and no operand repeats an index (:func:`check_bilinear` says so).
    """
    inputs, out = equation.replace(" ", "").split("->")
    sa, sb = inputs.split(",")
    return f"{out},{sb}->{sa}", f"{out},{sa}->{sb}"


def check_bilinear(equation: str) -> str | None:
    """Why ``equation`` is not a contraction :func:`bilinear` handles, in words, or None."""
    try:
        inputs, out = equation.replace(" ", "").split("->")
        sa, sb = inputs.split(",")
    except ValueError:
        return f"einsum {equation!r} is not of two operands with an explicit output"
    for mine, other in ((sa, sb), (sb, sa)):
        if len(set(mine)) != len(mine) or not set(mine) <= set(other) | set(out):
            return f"einsum {equation!r}: an operand repeats an index or sums one of its own"
    return None


def bilinear(xp, equation: str, a, b, a_other, b_other, j: int):
    """y = einsum(equation, a, b), a bilinear map B of two changing inputs, with the two-player Shapley split.

    B(a, b) − B(a⁰, b⁰) = B(Δa, ½(b + b⁰)) + B(½(a + a⁰), Δb) exactly, so the multipliers
    are the vector-Jacobian products of B with the other operand at its pair mean.
    Shapes: a, b (S·J, ...) taped; a_other, b_other (S, ...); the batch axis is each operand's first.
    """
    eq_a, eq_b = operand_equations(equation)

    def op(a, b, a_other, b_other):
        def grad(dy):
            return (xp.einsum(eq_a, dy, _pair_mean(xp, b, b_other, j)),
                    xp.einsum(eq_b, dy, _pair_mean(xp, a, a_other, j)), None, None)

        return xp.einsum(equation, a, b), grad

    return xp.custom_gradient(op)(a, b, a_other, b_other)


def _unbroadcast(xp, g, like):
    """Sum g over the axes along which ``like`` was broadcast."""
    axes = [i for i, (n, m) in enumerate(zip(xp.shape(like), xp.shape(g))) if n == 1 and m != 1]
    return xp.sum(g, axis=axes, keepdims=True) if axes else g


def guided_relu(xp, z):
    """ReLU whose gradient passes only positive upstream gradients where z > 0 (guided backprop)."""

    def op(z):
        def grad(dy):
            return dy * xp.cast(z > 0, xp.dtype_name(dy)) * xp.cast(dy > 0, xp.dtype_name(dy))

        return xp.relu(z), grad

    return xp.custom_gradient(op)(z)
