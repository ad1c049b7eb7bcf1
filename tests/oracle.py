"""A deliberately simple float64 numpy oracle for the forward pass and DeepLIFT-Rescale.

Independent of TensorFlow: every operation is written with explicit loops or
plain numpy; the multipliers of linear operations come from their Jacobian,
built by applying the operation to basis vectors; nonlinearities use the
Rescale ratio Δy/Δz (f' at the midpoint when |Δz| ≤ 1e-6) and max pooling
the cross-max rule with explicit windows (where Δx = 0 at a window's maximum in
both, the ratio's limit: the upstream multiplier; see :func:`_held`).  Test code only.
"""

from __future__ import annotations

import math

import numpy as np

from .oracle_recurrent import unrolled

NEAR_ZERO = 1e-6


def _erf(z):
    return np.vectorize(math.erf)(z)


ELEMENTWISE = {
    "relu": lambda z, p: np.maximum(z, 0.0),
    "sigmoid": lambda z, p: 1.0 / (1.0 + np.exp(-z)),
    "tanh": lambda z, p: np.tanh(z),
    "softplus": lambda z, p: np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0),
    "elu": lambda z, p: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "selu": lambda z, p: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(np.minimum(z, 0))),
    "gelu": lambda z, p: 0.5 * z * (1 + _erf(z / np.sqrt(2))),
    "exponential": lambda z, p: np.exp(z),
    "silu": lambda z, p: z / (1.0 + np.exp(-z)),
    "softsign": lambda z, p: z / (1 + np.abs(z)),
    "relu6": lambda z, p: np.clip(z, 0, 6),
    "hard_sigmoid": lambda z, p: np.clip(z / 6 + 0.5, 0, 1),
    "leaky_relu": lambda z, p: np.where(z > 0, z, p.get("negative_slope", 0.2) * z),
    "prelu": lambda z, p: np.where(z > 0, z, p["alpha"] * z),
    "square": lambda z, p: z * z,
    "rsqrt": lambda z, p: 1.0 / np.sqrt(z + p.get("epsilon", 1e-3)),
    "reciprocal": lambda z, p: 1.0 / z,
    "log": lambda z, p: np.log(z),
    "sqrt": lambda z, p: np.sqrt(z),
    "gelu_tanh": lambda z, p: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3))),
    "gelu_enf": lambda z, p: z / (1 + np.exp(-1.702 * z)),
}


def _params(node):
    """Elementwise parameters, with PReLU's slopes (without the batch axis)."""
    return {**node.params, "alpha": node.weights[0].astype(np.float64)} if node.op == "prelu" else node.params


def _axis(node, ndim):
    """The node's axis (or axes) counted without the batch axis."""
    axis = node.params["axis"]
    if isinstance(axis, (list, tuple)):
        return tuple(a - 1 if a > 0 else a for a in axis)
    return axis - 1 if axis > 0 else axis


def _slice(x, node):
    p = node.params
    axis = p["axis"] - 1 if p["axis"] > 0 else p["axis"]
    index = [slice(None)] * x.ndim
    index[axis] = slice(p["start"], p["stop"])
    return x[tuple(index)]


def _reduce(fn):
    def apply(xs, n):
        return fn(xs[0], axis=_axis(n, xs[0].ndim), keepdims=n.params.get("keepdims", True))

    return apply


def _conv1d(x, node):
    kernel, bias = (w.astype(np.float64) for w in node.weights)
    p = node.params
    k, cin_g, cout = kernel.shape
    d, s, groups = p["dilation"], p["strides"], p.get("groups", 1)
    L = x.shape[0]
    span = d * (k - 1) + 1
    if p["padding"] == "same":
        out_len = math.ceil(L / s)
        total = max((out_len - 1) * s + span - L, 0)
        x = np.pad(x, [(total // 2, total - total // 2), (0, 0)])
    elif p["padding"] == "causal":
        x = np.pad(x, [(span - 1, 0), (0, 0)])
    out_len = (x.shape[0] - span) // s + 1
    y = np.zeros((out_len, cout))
    per_group = cout // groups
    for o in range(out_len):
        for c in range(cout):
            g = c // per_group
            acc = bias[c]
            for j in range(k):
                acc += x[o * s + j * d, g * cin_g:(g + 1) * cin_g] @ kernel[j, :, c]
            y[o, c] = acc
    return y


def _windows(L, pool, strides, padding):
    """(start, stop) index ranges of each pooling window over an unpadded axis."""
    if padding == "same":
        out_len = math.ceil(L / strides)
        total = max((out_len - 1) * strides + pool - L, 0)
        left = total // 2
        return [(max(o * strides - left, 0), min(o * strides - left + pool, L)) for o in range(out_len)]
    out_len = (L - pool) // strides + 1
    return [(o * strides, o * strides + pool) for o in range(out_len)]


def _pool(x, node, reduce):
    p = node.params
    return np.stack([reduce(x[a:b], axis=0) for a, b in _windows(x.shape[0], p["pool"], p["strides"], p["padding"])])


def _affine(x, node):
    scale, shift = (w.astype(np.float64) for w in node.weights)
    axis = node.params["axis"] % (x.ndim + 1) - 1  # drop the batch axis
    shape = [1] * x.ndim
    shape[axis] = -1
    return x * scale.reshape(shape) + shift.reshape(shape)


def _dense(x, node):
    kernel, bias = (w.astype(np.float64) for w in node.weights)
    return x @ kernel + bias


def _concat(xs, node):
    axis = node.params.get("axis", -1)
    return np.concatenate(xs, axis=axis - 1 if axis > 0 else axis)


def _no_batch(equation):
    """An einsum equation without each tensor's leading batch index (``b``) where it has one."""
    inputs, out = equation.replace(" ", "").split("->")
    return ",".join(t[1:] if t.startswith("b") else t for t in inputs.split(",")) + "->" + out[1:]


def _relative_shift(x):
    """(..., T, 2T − 1) → (..., T, T), out[…, i, j] = x[…, i, j − i + T − 1], by explicit loops."""
    T = x.shape[-2]
    out = np.zeros(x.shape[:-1] + (T,))
    for i in range(T):
        for j in range(T):
            out[..., i, j] = x[..., i, j - i + T - 1]
    return out


LINEAR = {
    "input": lambda xs, n: xs[0],
    "identity": lambda xs, n: xs[0],
    "conv1d": lambda xs, n: _conv1d(xs[0], n),
    "dense": lambda xs, n: _dense(xs[0], n),
    "affine": lambda xs, n: _affine(xs[0], n),
    "avgpool1d": lambda xs, n: _pool(xs[0], n, np.mean),
    "global_avgpool1d": lambda xs, n: xs[0].mean(axis=0, keepdims=n.params.get("keepdims", False)),
    "flatten": lambda xs, n: xs[0].reshape(-1),
    "reshape": lambda xs, n: xs[0].reshape(n.params["target_shape"]),
    "permute": lambda xs, n: np.transpose(xs[0], [d - 1 for d in n.params["dims"]]),
    "crop1d": lambda xs, n: xs[0][n.params["cropping"][0]: xs[0].shape[0] - n.params["cropping"][1]],
    "pad1d": lambda xs, n: np.pad(xs[0], [n.params["padding"], (0, 0)]),
    "add": lambda xs, n: sum(xs),
    "subtract": lambda xs, n: xs[0] - xs[1],
    "average": lambda xs, n: sum(xs) / len(xs),
    "concatenate": _concat,
    "center": lambda xs, n: xs[0] - xs[0].mean(axis=_axis(n, xs[0].ndim), keepdims=True),
    "reduce_mean": _reduce(np.mean),
    "reduce_sum": _reduce(np.sum),
    "take": lambda xs, n: np.take(xs[0], n.params["index"], axis=n.params["axis"] - 1),
    "slice": lambda xs, n: _slice(xs[0], n),
    "stack": lambda xs, n: np.stack(xs, axis=n.params.get("axis", 1) - 1),
    "scale_shift": lambda xs, n: xs[0] * n.weights[0].astype(np.float64) + n.weights[1].astype(np.float64),
    "einsum_const": lambda xs, n: np.einsum(_no_batch(n.params["equation"]), xs[0], n.weights[0].astype(np.float64)),
    "relative_shift": lambda xs, n: _relative_shift(xs[0]),
    "upsample1d": lambda xs, n: np.repeat(xs[0], n.params["size"], axis=0),
}
#: Reductions to an extreme: op → sign (a min is minus the max of minus x).
EXTREMES = {"reduce_max": 1.0, "reduce_min": -1.0}


def _extreme(x, node):
    return EXTREMES[node.op] * _reduce(np.max)([EXTREMES[node.op] * x], node)


def _held(x, r, X, R, m):
    """A window's multipliers where Δx = 0 (x, r its values; X, R their maxima; m its upstream multiplier).

    The ratio is 0/0 there; its limit is m at a position that is the first
    maximum of both (X = R); at ties the limits from above and below differ,
    and genolift's choice between them is m at the first position holding
    the maximum in both branches, which this follows.
    """
    out = np.zeros_like(x)
    if X == R:
        both = np.nonzero((x == r) & (x == X))[0]
        if both.size:
            out[both[0]] = m
    return out


def _extreme_cross_max(node, a_x, a_r, m_out):
    """Cross-max multipliers of a max (or min) over axes, for one input pair, by explicit argmaxes."""
    sign = EXTREMES[node.op]
    axes = _axis(node, a_x.ndim)
    axes = tuple(a % a_x.ndim for a in (axes if isinstance(axes, tuple) else (axes,)))
    rest = [a for a in range(a_x.ndim) if a not in axes]
    order = list(axes) + rest
    ux, ur = (np.transpose(sign * a, order).reshape(-1, int(np.prod([a_x.shape[a] for a in rest]))) for a in (a_x, a_r))
    m = np.asarray(m_out).reshape(-1)
    share, held = np.zeros_like(ux), np.zeros_like(ux)
    for c in range(ux.shape[1]):
        ia, ib = int(np.argmax(ux[:, c])), int(np.argmax(ur[:, c]))
        X, R = ux[ia, c], ur[ib, c]
        top = max(X, R)
        share[ia, c] += m[c] * (top - R)
        share[ib, c] += m[c] * (X - top)
        held[:, c] += _held(ux[:, c], ur[:, c], X, R, m[c])
    dx = ux - ur
    mult = np.where(dx != 0, share / np.where(dx == 0, 1, dx), held)
    shape = [a_x.shape[a] for a in order]
    return np.transpose(mult.reshape(shape), np.argsort(order))


def _maxpool(x, node):
    if node.op == "global_maxpool1d":
        y = x.max(axis=0)
        return y[None] if node.params.get("keepdims") else y
    return _pool(x, node, np.max)


def forward(graph, x):
    """All node values for one input x (L, 4), float64, no batch axis (recurrent layers unrolled)."""
    graph = unrolled(graph)
    values = {}
    for node in graph.nodes:
        xs = [values[i] for i in node.inputs] if node.inputs else [np.asarray(x, np.float64)]
        if node.op in LINEAR:
            values[node.name] = LINEAR[node.op](xs, node)
        elif node.op in ELEMENTWISE:
            values[node.name] = ELEMENTWISE[node.op](xs[0], _params(node))
        elif node.op == "multiply":
            values[node.name] = xs[0] * xs[1]
        elif node.op == "einsum":
            values[node.name] = np.einsum(_no_batch(node.params["equation"]), xs[0], xs[1])
        elif node.op in ("maxpool1d", "global_maxpool1d"):
            values[node.name] = _maxpool(xs[0], node)
        elif node.op in EXTREMES:
            values[node.name] = _extreme(xs[0], node)
        elif node.op == "softmax":
            z = xs[0] - xs[0].max(axis=-1, keepdims=True)
            values[node.name] = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
        else:
            raise NotImplementedError(node.op)
    return values


#: Jacobians of linear nodes, by (id of the node, input shapes): a node's Jacobian depends on its weights and
#: the shapes alone, and a test asks for the multipliers of one node at many pairs.  The node is kept
#: beside its Jacobian so that its id is not reused while the entry lives; the oldest entries go once
#: the kept Jacobians pass :data:`_JACOBIAN_LIMIT` elements (64 MB).
_JACOBIANS: dict = {}
_JACOBIAN_LIMIT = 8_000_000


def _jacobians(node, inputs) -> list:
    """[(input size, output size) Jacobian of the node in each input], found by probing each input element."""
    f = lambda xs: LINEAR[node.op](xs, node)  # noqa: E731
    key = (id(node), tuple(a.shape for a in inputs))
    if key in _JACOBIANS:
        return _JACOBIANS[key][1]
    zeros = [np.zeros_like(a, dtype=np.float64) for a in inputs]
    base = f(zeros)
    out = []
    for which, a in enumerate(inputs):
        jac = np.zeros((a.size, base.size))
        for i in range(a.size):
            probe = [z.copy() for z in zeros]
            probe[which].flat[i] = 1.0
            jac[i] = (f(probe) - base).ravel()
        out.append(jac)
    _JACOBIANS[key] = (node, out)
    while sum(j.size for _, js in _JACOBIANS.values() for j in js) > _JACOBIAN_LIMIT:
        del _JACOBIANS[next(iter(_JACOBIANS))]  # the oldest (dicts keep insertion order)
    return out


def _linear_vjp(node, inputs, m_out):
    """Multipliers of each input of a linear node, from its Jacobian."""
    return [(jac @ np.ravel(m_out)).reshape(a.shape) for jac, a in zip(_jacobians(node, inputs), inputs)]


def _rescale(node, z_x, z_r, y_x, y_r, m_out):
    dz = z_x - z_r
    f = ELEMENTWISE[node.op]
    mid = 0.5 * (z_x + z_r)
    h = 1e-6
    slope = (f(mid + h, _params(node)) - f(mid - h, _params(node))) / (2 * h)
    ratio = np.where(np.abs(dz) > NEAR_ZERO, (y_x - y_r) / np.where(dz == 0, 1, dz), slope)
    return m_out * ratio


def _pool_windows(node, a_x, m_out):
    """(windows, multipliers per window (O, C)) of a max-pooling node for one (L, C) input."""
    L, C = a_x.shape
    if node.op == "global_maxpool1d":
        return [(0, L)], m_out.reshape(1, C)
    p = node.params
    return _windows(L, p["pool"], p["strides"], p["padding"]), m_out


def _cross_max(node, a_x, a_r, m_out):
    """Cross-max multipliers for one (L, C) input pair, explicit windows."""
    C = a_x.shape[1]
    wins, m_out = _pool_windows(node, a_x, m_out)
    share, held = np.zeros_like(a_x), np.zeros_like(a_x)
    for o, (lo, hi) in enumerate(wins):
        for c in range(C):
            ia = lo + int(np.argmax(a_x[lo:hi, c]))
            ib = lo + int(np.argmax(a_r[lo:hi, c]))
            X, R = a_x[ia, c], a_r[ib, c]
            M = max(X, R)
            share[ia, c] += m_out[o, c] * (M - R)
            share[ib, c] += m_out[o, c] * (X - M)
            held[lo:hi, c] += _held(a_x[lo:hi, c], a_r[lo:hi, c], X, R, m_out[o, c])
    dx = a_x - a_r
    return np.where(dx != 0, share / np.where(dx == 0, 1, dx), held)


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def profile_seed(z_x, z_r, kind="profile"):
    """Multipliers of the profile logits z (any shape) for the profile target.

    With zc = z − mean(z), w = softmax(zc): exact mode uses Δ(zc·w)_l / Δzc_l per
    element, the ChromBPNet mode ½(w_x + w_r); both go back through the centring
    (m_z = m_zc − mean(m_zc)).  Returns (seed, t(x) − t(r)).
    """
    zx, zr = z_x.ravel() - z_x.mean(), z_r.ravel() - z_r.mean()
    wx, wr = _softmax(zx), _softmax(zr)
    if kind == "profile":
        dz = zx - zr
        m = np.where(np.abs(dz) > NEAR_ZERO, (zx * wx - zr * wr) / np.where(dz == 0, 1, dz), wx + zx * wx * (1 - wx))
    else:
        m = 0.5 * (wx + wr)
    return (m - m.mean()).reshape(z_x.shape), float((zx * wx).sum() - (zr * wr).sum())


def _unit_seed(value, task, normalise):
    """Multipliers of a (C,) output for the unit target ``task`` (mean-normalised for a softmax)."""
    seed = np.zeros_like(value)
    seed[task] = 1.0
    return seed - 1.0 / seed.size if normalise else seed


def _sum_to(g, shape):
    """Sum g over the axes where ``shape`` has size 1 (undo broadcasting)."""
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def rescale_multipliers(graph, target_node, task, x, r, normalise=False, kind="task", rule="rescale"):
    """DeepLIFT multipliers (L, 4) of the target for input x and reference r.

    ``rule``: ``rescale`` everywhere, or ``revealcancel`` / ``genomics-default``
    at the nonlinearities they cover (see :func:`_reveal`).
    """
    graph = unrolled(graph)
    vx, vr = forward(graph, x), forward(graph, r)
    m = {name: np.zeros_like(v) for name, v in vx.items()}
    if kind == "task":
        seed = _unit_seed(vx[target_node], task, normalise)
    else:
        seed, _ = profile_seed(vx[target_node], vr[target_node], kind)
    m[target_node] = seed
    for node in reversed(graph.nodes):
        if not node.inputs or not np.any(m[node.name]):
            continue
        ins_x = [vx[i] for i in node.inputs]
        ins_r = [vr[i] for i in node.inputs]
        routed = None
        if node.op in ELEMENTWISE and rule != "rescale":
            routed = _reveal(node, graph, vx, vr, m[node.name], rule == "genomics-default")
        if routed is not None:  # RevealCancel: straight to the linear layer's input
            m[routed[0]] = m[routed[0]] + routed[1]
            continue
        if node.op in LINEAR:
            grads = _linear_vjp(node, ins_x, m[node.name])
        elif node.op in ELEMENTWISE:
            grads = [_rescale(node, ins_x[0], ins_r[0], vx[node.name], vr[node.name], m[node.name])]
        elif node.op in ("maxpool1d", "global_maxpool1d"):
            grads = [_cross_max(node, ins_x[0], ins_r[0], m[node.name])]
        elif node.op in EXTREMES:
            grads = [_extreme_cross_max(node, ins_x[0], ins_r[0], m[node.name])]
        elif node.op == "multiply":  # Shapley split of a two-input product
            (a_x, b_x), (a_r, b_r) = ins_x, ins_r
            grads = [_sum_to(m[node.name] * 0.5 * (b_x + b_r), a_x.shape),
                     _sum_to(m[node.name] * 0.5 * (a_x + a_r), b_x.shape)]
        elif node.op == "einsum":  # the same split of a bilinear map: each operand's Jacobian at the other's mean
            (a_x, b_x), (a_r, b_r) = ins_x, ins_r
            grads = _bilinear_vjp(node, 0.5 * (a_x + a_r), 0.5 * (b_x + b_r), m[node.name])
        else:
            raise NotImplementedError(node.op)
        for name, g in zip(node.inputs, grads):
            m[name] = m[name] + g
    return m[graph.inputs[0]], vx, vr


def _bilinear_vjp(node, a, b, m_out):
    """Multipliers of both operands of einsum B, ∂/∂a Σ m·B(a, b) and ∂/∂b Σ m·B(a, b), element by element."""
    eq = _no_batch(node.params["equation"])
    ga, gb = np.zeros_like(a), np.zeros_like(b)
    for i in range(a.size):
        e = np.zeros_like(a)
        e.flat[i] = 1.0
        ga.flat[i] = np.sum(np.einsum(eq, e, b) * m_out)
    for i in range(b.size):
        e = np.zeros_like(b)
        e.flat[i] = 1.0
        gb.flat[i] = np.sum(np.einsum(eq, a, e) * m_out)
    return [ga, gb]


def _max_gradient(node, a_x, m_out):
    """Plain max-pool gradient: each window's multiplier to its (first) argmax."""
    C = a_x.shape[1]
    wins, m_out = _pool_windows(node, a_x, m_out)
    g = np.zeros_like(a_x)
    for o, (lo, hi) in enumerate(wins):
        for c in range(C):
            g[lo + int(np.argmax(a_x[lo:hi, c])), c] += m_out[o, c]
    return g


def gradient_multipliers(graph, target_node, task, x, guided=False, normalise=False):
    """∇t(x) (L, 4) by explicit backpropagation (guided: only positive signals through ReLUs)."""
    graph = unrolled(graph)
    vx = forward(graph, x)
    m = {name: np.zeros_like(v) for name, v in vx.items()}
    m[target_node] = _unit_seed(vx[target_node], task, normalise)
    for node in reversed(graph.nodes):
        if not node.inputs or not np.any(m[node.name]):
            continue
        ins = [vx[i] for i in node.inputs]
        if node.op in LINEAR:
            grads = _linear_vjp(node, ins, m[node.name])
        elif node.op in ELEMENTWISE:
            h = 1e-6
            f = ELEMENTWISE[node.op]
            slope = (f(ins[0] + h, _params(node)) - f(ins[0] - h, _params(node))) / (2 * h)
            if guided and node.op == "relu":
                slope = (ins[0] > 0) * (m[node.name] > 0)
            grads = [m[node.name] * slope]
        elif node.op in ("maxpool1d", "global_maxpool1d"):
            grads = [_max_gradient(node, ins[0], m[node.name])]
        elif node.op == "multiply":
            grads = [_sum_to(m[node.name] * ins[1], ins[0].shape), _sum_to(m[node.name] * ins[0], ins[1].shape)]
        elif node.op == "einsum":
            grads = _bilinear_vjp(node, ins[0], ins[1], m[node.name])
        else:
            raise NotImplementedError(node.op)
        for name, g in zip(node.inputs, grads):
            m[name] = m[name] + g
    return m[graph.inputs[0]]


def _linear_chain(graph, name):
    """(linear node, chain node names from it to the nonlinearity's input) or None."""
    by_name = {n.name: n for n in graph.nodes}
    chain = []
    current = by_name[by_name[name].inputs[0]]
    while current.op in ("affine", "identity"):
        chain.append(current.name)
        current = by_name[current.inputs[0]]
    return (current, chain) if current.op in ("conv1d", "dense") else None


def _chain_jacobian(graph, lin, chain, a_shape):
    """Jacobian (z.size, a.size) of lin followed by the chain, biases and shifts removed."""
    by_name = {n.name: n for n in graph.nodes}

    def apply(a):
        v = LINEAR[lin.op]([a], lin)
        for name in reversed(chain):
            v = LINEAR[by_name[name].op]([v], by_name[name])
        return v

    base = apply(np.zeros(a_shape))
    cols = []
    for i in range(int(np.prod(a_shape))):
        e = np.zeros(a_shape)
        e.flat[i] = 1.0
        cols.append((apply(e) - base).ravel())
    return np.array(cols).T


def _reveal(node, graph, vx, vr, m_out, use_dense_only):
    """RevealCancel multipliers of the linear layer's input, or None to use Rescale."""
    found = _linear_chain(graph, node.name)
    if found is None or (use_dense_only and found[0].op != "dense"):
        return None
    lin, chain = found
    a_x, a_r = vx[lin.inputs[0]], vr[lin.inputs[0]]
    J = _chain_jacobian(graph, lin, chain, a_x.shape)
    da = (a_x - a_r).ravel()
    terms = J * da[None, :]
    z0 = vr[node.inputs[0]]
    dz_pos = np.where(terms > 0, terms, 0).sum(1).reshape(z0.shape)
    dz_neg = np.where(terms < 0, terms, 0).sum(1).reshape(z0.shape)
    f = lambda z: ELEMENTWISE[node.op](z, _params(node))  # noqa: E731
    dy_pos = 0.5 * (f(z0 + dz_pos) - f(z0)) + 0.5 * (f(z0 + dz_neg + dz_pos) - f(z0 + dz_neg))
    dy_neg = 0.5 * (f(z0 + dz_neg) - f(z0)) + 0.5 * (f(z0 + dz_pos + dz_neg) - f(z0 + dz_pos))
    h = 1e-6
    df = lambda z: (f(z + h) - f(z - h)) / (2 * h)  # noqa: E731
    m_pos = np.where(np.abs(dz_pos) > NEAR_ZERO, dy_pos / np.where(dz_pos == 0, 1, dz_pos),
                     0.5 * (df(z0) + df(z0 + dz_neg)))
    m_neg = np.where(np.abs(dz_neg) > NEAR_ZERO, dy_neg / np.where(dz_neg == 0, 1, dz_neg),
                     0.5 * (df(z0) + df(z0 + dz_pos)))
    g, m_pos, m_neg = m_out.ravel(), m_pos.ravel(), m_neg.ravel()
    per_term = np.where(terms > 0, m_pos[:, None], np.where(terms < 0, m_neg[:, None], 0.5 * (m_pos + m_neg)[:, None]))
    # a term with Δa_i = 0 is neither positive nor negative: it gets the mean of m⁺ and m⁻
    per_term = np.where(da[None, :] == 0, 0.5 * (m_pos + m_neg)[:, None], per_term)
    return lin.inputs[0], (J * per_term * g[:, None]).sum(0).reshape(a_x.shape)


def deeplift_multipliers(graph, target_node, task, x, r, rule="revealcancel", normalise=False):
    """Multipliers under ``revealcancel`` (every nonlinearity after a Conv1D/Dense) or
    ``genomics-default`` (after a Dense only); Rescale elsewhere."""
    return rescale_multipliers(graph, target_node, task, x, r, normalise, rule=rule)[0]
