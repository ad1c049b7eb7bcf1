"""DeepLIFT rules as TensorFlow ops with overridden gradients.

The engine runs one branch of each (sequence, reference) pair under a
gradient tape and feeds it the other branch's activations.  Taped rows come
in groups of J that share one row of the other branch: a taped tensor has
shape (S·J, ...) and the other branch's (S, ...), and the rules broadcast
over J instead of copying.  Each nonlinearity is an op whose forward pass is
the ordinary one and whose "gradient" is the DeepLIFT multiplier computed
from both branches, so one backward pass of the taped branch yields the
multipliers of every pair.  Multipliers are symmetric in the two branches,
so either branch may be the taped one.

Near-zero rule: where |Δz| ≤ :data:`NEAR_ZERO` the Rescale multiplier
Δy/Δz is replaced by its limit, f′ at the midpoint ½(z + z⁰).
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

#: |Δz| at or below which Rescale falls back to the derivative at the midpoint.
NEAR_ZERO = 1e-6
#: Elements per row from which a Rescale multiplier is one fused XLA kernel.
FUSE_FROM = 1024


def grouped(t: tf.Tensor, j: int) -> tf.Tensor:
    """View (S·J, ...) as (S, J, ...)."""
    return tf.reshape(t, [-1, j, *t.shape[1:]])


def _slope(f, df, z3, y3, z_other3, y_other3):
    """Rescale multiplier Δy/Δz, or f′ at the midpoint where |Δz| ≤ NEAR_ZERO (any broadcastable shapes)."""
    dz = z3 - z_other3
    far = tf.abs(dz) > NEAR_ZERO
    ratio = (y3 - y_other3) / tf.where(far, dz, tf.ones_like(dz))
    return tf.where(far, ratio, df(0.5 * (z3 + z_other3)))


def rescale(f: Callable, df: Callable, z: tf.Tensor, z_other: tf.Tensor, y_other: tf.Tensor, j: int) -> tf.Tensor:
    """y = f(z) whose multiplier is Δy/Δz (Rescale rule).

    Parameters
    ----------
    f, df : the elementwise function and its derivative.
    z : taped branch input, shape (S·J, ...).
    z_other, y_other : the other branch's input and output, shape (S, ...).
    j : taped rows per row of the other branch.
    """

    def multiplied(z, dy):
        z3 = grouped(z, j)
        slope = _slope(f, df, z3, f(z3), z_other[:, None], y_other[:, None])
        return dy * tf.reshape(slope, tf.shape(z))

    if z.shape[1:].num_elements() is None or z.shape[1:].num_elements() >= FUSE_FROM:
        # one fused XLA loop instead of a dozen passes over the activations; f(z) is
        # recomputed there rather than read back (small tensors, such as a recurrent
        # layer's gates at one time step, skip the compilation)
        multiplied = tf.function(multiplied, jit_compile=True, autograph=False)

    @tf.custom_gradient
    def op(z):
        def grad(dy):
            return multiplied(z, dy)

        return f(z), grad

    return op(z)


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


def _first_max(a: tf.Tensor, top: tf.Tensor) -> tf.Tensor:
    """True where a (..., p, C) holds its window's maximum ``top`` (..., C) for the first time along p.

    The first index is found as a minimum over the window axis and compared
    with every position, so the kernel stays elementwise with broadcasts
    (no per-position slices to stack).
    """
    p = a.shape[-2]
    index = tf.reshape(tf.range(p), [p, 1])
    first = tf.reduce_min(tf.where(a == top[..., None, :], index, p), axis=-2, keepdims=True)
    return index == first


def _window_multipliers(taped: tuple, other: tuple, g: tf.Tensor, f, df) -> tf.Tensor:
    """Cross-max (and Rescale, for f) multipliers per window position.

    ``taped`` and ``other`` are (x, f(x), window max, share routed to the first maximum) of each branch,
    shapes (S, J or 1, W, p, C) for the first two and (S, J or 1, W, C) for the others; ``g`` (S, J, W, C)
    is the upstream multiplier.  Where Δ = 0 the ratio is 0/0: as in :func:`cross_max`, a window whose
    maxima are equal gives ``g`` to the first position holding that maximum in both branches.  The
    result has the taped x's shape.
    """
    (xt, at, top_t, to_taped), (xo, ao, top_o, to_other) = taped, other
    zero = tf.zeros_like(at)
    share = (tf.where(_first_max(at, top_t), to_taped[..., None, :], zero)
             + tf.where(_first_max(ao, top_o), to_other[..., None, :], zero))
    held = _first_max(tf.where(at == ao, at, at.dtype.min), tf.where(top_t == top_o, top_t, at.dtype.max))
    m = tf.where(held, g[..., None, :] + zero, tf.math.divide_no_nan(share, at - ao))
    return m * _slope(f, df, xt, at, xo, ao) if f is not None else m


def _windowed(t: tf.Tensor, rows: int, windows: int, m_blocks: int, stride: int) -> tf.Tensor:
    """t (R·rows, L, C) as (R, rows, W, m·stride, C): window w is the m blocks of a stride from block w on."""
    blocks = windows + m_blocks - 1
    b = tf.reshape(t[:, :blocks * stride], (-1, rows, blocks, stride, t.shape[2]))
    if m_blocks == 1:
        return b
    return tf.concat([b[:, :, r:r + windows] for r in range(m_blocks)], axis=3)


def _scattered(m: tf.Tensor, stride: int) -> tf.Tensor:
    """Per-window multipliers (R, J, W, m·stride, C) summed into their positions: (R·J, (W + m − 1)·stride, C)."""
    _, j, windows, p, channels = m.shape
    m_blocks = p // stride
    if m_blocks > 1:
        m = tf.reshape(m, (-1, j, windows, m_blocks, stride, channels))
        m = tf.add_n([tf.pad(m[:, :, :, r], [[0, 0], [0, 0], [r, m_blocks - 1 - r], [0, 0], [0, 0]])
                      for r in range(m_blocks)])
    return tf.reshape(m, (-1, (windows + m_blocks - 1) * stride, channels))


def tiled_cross_max(x: tf.Tensor, x_other: tf.Tensor, j: int, p: int, keepdims: bool = True,
                    f: Callable | None = None, df: Callable | None = None, stride: int | None = None) -> tf.Tensor:
    """y = max over windows of p (stride ``stride``, default p) of f(x), with cross-max (and, for f, Rescale)
    multipliers in one kernel.

    Same multipliers as :func:`cross_max` (ties to the first maximum) for a
    valid-padded pool whose window is a whole number m of strides (m = 1: the
    windows tile the input), and, when ``f`` is given, as :func:`rescale` of
    f followed by that pool; the gradient is one fused XLA loop that never
    forms the pooled input's multipliers or copies the other branch per
    pair.  Overlapping windows are read as m consecutive blocks of a stride
    each, and each block's multipliers are the sum over the m windows that
    hold it (the pooling gradient's scatter-add).  ``keepdims`` False drops
    the window axis (a global max pool).

    Shapes: x (S·J, L, C) taped, x_other (S, L, C); output (S·J, W, C) with
    W = (L − p) // stride + 1.
    """
    f_ = f or (lambda t: t)
    s = stride or p
    if p % s:
        raise ValueError(f"window {p} is not a multiple of stride {s}")
    m_blocks = p // s
    length, channels = x.shape[1], x.shape[2]
    windows = (length - p) // s + 1
    n = (windows + m_blocks - 1) * s

    def pool(t):
        y = tf.nn.max_pool1d(f_(t), p, s, "VALID")
        return y if keepdims else y[:, 0]

    @tf.function(jit_compile=True, autograph=False)
    def multipliers(x, g):
        xt, xo = _windowed(x, j, windows, m_blocks, s), _windowed(x_other, 1, windows, m_blocks, s)
        at, ao = f_(xt), f_(xo)
        top_t, top_o = tf.reduce_max(at, axis=3), tf.reduce_max(ao, axis=3)
        top = tf.maximum(top_t, top_o)
        g4 = tf.reshape(g, (-1, j, windows, channels))
        to_taped, to_other = g4 * (top - top_o), g4 * (top_t - top)
        m = _scattered(_window_multipliers((xt, at, top_t, to_taped), (xo, ao, top_o, to_other), g4, f, df), s)
        return tf.pad(m, [[0, 0], [0, length - n], [0, 0]]) if n < length else m

    @tf.custom_gradient
    def op(x):
        def grad(g):
            return multipliers(x, tf.reshape(g, (-1, windows, channels)))

        return pool(x), grad

    return op(x)


def cross_max(pool: Callable, x: tf.Tensor, x_other: tf.Tensor, j: int, combine: Callable = tf.maximum) -> tf.Tensor:
    """y = pool(x), a max over windows (a min, with ``combine`` tf.minimum), with the cross-max multipliers.

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

    @tf.custom_gradient
    def op(x):
        y = pool(x)

        def grad(g):
            x_rep = tf.repeat(x_other, j, axis=0)
            # Where Δx = 0: g at the first position holding the maximum of both branches
            # (a = b when sequence = reference: the pooling gradient).
            extreme = x.dtype.min if combine is tf.maximum else x.dtype.max
            agreed = tf.where(x == x_rep, x, tf.cast(extreme, x.dtype))
            with tf.GradientTape() as tape:  # each pool once, its output reused by its gradient
                tape.watch([x, x_rep, agreed])
                y, y_rep, y_agreed = pool(x), pool(x_rep), pool(agreed)
            top = combine(y, y_rep)
            held = tf.where((y_agreed == y) & (y == y_rep), g, tf.zeros_like(g))
            to_x, to_rep, to_agreed = tape.gradient([y, y_rep, y_agreed], [x, x_rep, agreed],
                                                    output_gradients=[g * (top - y_rep), g * (y - top), held])
            return tf.math.divide_no_nan(to_x + to_rep, x - x_rep) + to_agreed

        return y, grad

    return op(x)


def profile_exact(zc: tf.Tensor, zc_other: tf.Tensor, out_other: tf.Tensor, j: int) -> tf.Tensor:
    """out_l = zc_l · softmax(zc)_l, with the Rescale multiplier Δout_l / Δzc_l per element.

    Shapes: zc (S·J, P) mean-centred logits, zc_other and out_other (S, P).
    Near Δzc = 0 the multiplier is ∂out_l/∂zc_l = w_l + zc_l·w_l·(1 − w_l).
    """

    @tf.custom_gradient
    def op(zc):
        w = tf.nn.softmax(zc, axis=-1)
        out = zc * w

        def grad(dy):
            z3, o3, w3 = grouped(zc, j), grouped(out, j), grouped(w, j)
            dz = z3 - zc_other[:, None]
            far = tf.abs(dz) > NEAR_ZERO
            ratio = (o3 - out_other[:, None]) / tf.where(far, dz, tf.ones_like(dz))
            slope = tf.where(far, ratio, w3 + z3 * w3 * (1 - w3))
            return dy * tf.reshape(slope, tf.shape(zc))

        return out, grad

    return op(zc)


def profile_fixed_weights(zc: tf.Tensor, w_other: tf.Tensor, j: int) -> tf.Tensor:
    """zc_l · w_l with w = softmax(zc) held fixed; multiplier ½(w(x) + w(r)) (not exact)."""

    @tf.custom_gradient
    def op(zc):
        w = tf.nn.softmax(zc, axis=-1)

        def grad(dy):
            return dy * tf.reshape(0.5 * (grouped(w, j) + w_other[:, None]), tf.shape(zc))

        return zc * w, grad

    return op(zc)


def product(a: tf.Tensor, b: tf.Tensor, a_other: tf.Tensor, b_other: tf.Tensor, j: int) -> tf.Tensor:
    """y = a · b (broadcasting) for two changing inputs, with the two-player Shapley split.

    Δ(ab) = ½(b + b⁰)·Δa + ½(a + a⁰)·Δb exactly, so multipliers are
    m_a = ½(b + b⁰) and m_b = ½(a + a⁰) (summed over broadcast axes).
    Shapes: a, b (S·J, ...); a_other, b_other (S, ...).
    """

    def pair_mean(t, t_other):
        return tf.reshape(0.5 * (grouped(t, j) + t_other[:, None]), tf.shape(t))

    @tf.custom_gradient
    def op(a, b):
        def grad(dy):
            ga = dy * pair_mean(b, b_other)
            gb = dy * pair_mean(a, a_other)
            return _unbroadcast(ga, a), _unbroadcast(gb, b)

        return a * b, grad

    return op(a, b)


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


def bilinear(equation: str, a: tf.Tensor, b: tf.Tensor, a_other: tf.Tensor, b_other: tf.Tensor,
             j: int) -> tf.Tensor:
    """y = einsum(equation, a, b), a bilinear map B of two changing inputs, with the two-player Shapley split.

    B(a, b) − B(a⁰, b⁰) = B(Δa, ½(b + b⁰)) + B(½(a + a⁰), Δb) exactly, so the multipliers
    are the vector-Jacobian products of B with the other operand at its pair mean.
    Shapes: a, b (S·J, ...) taped; a_other, b_other (S, ...); the batch axis is each operand's first.
    """
    eq_a, eq_b = operand_equations(equation)

    def pair_mean(t, t_other):
        return tf.reshape(0.5 * (grouped(t, j) + t_other[:, None]), tf.shape(t))

    @tf.custom_gradient
    def op(a, b):
        def grad(dy):
            return tf.einsum(eq_a, dy, pair_mean(b, b_other)), tf.einsum(eq_b, dy, pair_mean(a, a_other))

        return tf.einsum(equation, a, b), grad

    return op(a, b)


def _unbroadcast(g: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """Sum g over the axes along which ``like`` was broadcast."""
    axes = [i for i, (n, m) in enumerate(zip(like.shape, g.shape)) if n == 1 and m != 1]
    return tf.reduce_sum(g, axis=axes, keepdims=True) if axes else g


@tf.custom_gradient
def guided_relu(z: tf.Tensor) -> tf.Tensor:
    """ReLU whose gradient passes only positive upstream gradients where z > 0 (guided backprop)."""

    def grad(dy):
        return dy * tf.cast(z > 0, dy.dtype) * tf.cast(dy > 0, dy.dtype)

    return tf.nn.relu(z), grad
