"""Gradient-based rules on the same references, batches and outputs as DeepLIFT.

Each rule is a traced pair step with the DeepLIFT step's arguments and
results (see :func:`~genolift.engine.batching.run_pairs`), so it runs on the
same batches and devices.  Every rule computes multipliers m (L, 4) and
projects them as DeepLIFT does, hyp = mean_k (m − Σ_c r_k·m), or, for the
rules without a reference (:attr:`~.rule_names.Method.reference_free`), with
r = 0: hyp = m and contributions x·m.

* ``gradient``: m = ∇t(x); contributions are ∇t(x)·(x − r̄) projected on the
  observed bases.  No summation-to-delta.
* ``grad-x-input``: m = ∇t(x), no reference: contributions = x·∇t(x).
* ``guided-backprop``: like ``gradient`` with guided ReLU gradients.
* ``integrated-gradients``: per pair, m_k = mean over ``steps`` midpoints
  α = (s + ½)/steps of ∇t(r_k + α(x − r_k)), then the hypothetical formula;
  Σ contributions → t(x) − mean t(r_k) as steps grow (completeness).
* ``saliency``: m = |∇t(x)|, no reference.
* ``lrp-epsilon``, ``lrp-alpha-beta``, ``connection-weights``: m from a
  modified backward pass at x (:mod:`.lrp`); the LRP rules have no reference,
  connection weights have one unless ``times_input``.
* ``smoothgrad``: m = mean over ``samples`` noisy copies x + σ·ε_n of ∇t, σ =
  ``noise`` × (max x − min x), the draws ε_n made on the host per region
  (:mod:`.sampling`) and passed as the step's last argument (s, samples, L, 4);
  projected like ``gradient``, or without a reference (``smoothgrad-x-input``).

The integration steps loop on the device inside one traced call, and the
hypothetical scores are summed over each sequence's references there too:
only (T, S, L, 4) per batch comes back to the host.  ``deltas`` always hold
t(x) − t(r_k) − Σ m_k·(x − r_k), so users see how far each method is from
summing to the difference.
"""

from __future__ import annotations

from ..scores import pair_deltas, reference_sum
from .backends import Spec
from .compile import Step
from .lrp import rewriter
from .rule_names import Method


def unit_cotangent(xp, t, task: int):
    """Cotangent of column ``task`` of t (B, T): 1 there, 0 elsewhere (the gradient of that task alone)."""
    columns = xp.reshape(xp.arange(xp.shape(t)[1], like=t), [1, -1])
    return xp.where(columns == task, xp.ones_like(t), xp.zeros_like(t))


def _gradients_at(xp, network, points, extras, dtype: str, guided: bool = False, rewrite=None) -> tuple:
    """Gradients (T, B, L, 4) and targets (B, T) at points (B, L, 4) (guided, or with ``rewrite``'s backward passes)."""
    tasks = len(network.target.all_tasks)
    t, pullback = xp.vjp(
        lambda p: xp.cast(network.point_target(p, extras, guided=guided, rewrite=rewrite), dtype), points)
    return xp.stack([pullback(unit_cotangent(xp, t, i))[0] for i in range(tasks)], 0), t


def _integrated(xp, network, refs, x_pairs, extras, dtype: str, steps: int):
    """Mean gradient (T, B, L, 4) over the midpoints of the straight paths refs → x_pairs (B, L, 4)."""
    tasks = len(network.target.all_tasks)

    def body(i, total):
        alpha = (xp.cast(i, dtype) + 0.5) / steps
        g, _ = _gradients_at(xp, network, refs + alpha * (x_pairs - refs), extras, dtype)
        return total + g / steps

    return xp.fori_loop(steps, body, xp.zeros((tasks, *xp.shape(refs)), dtype, like=refs))


def _smoothed(xp, network, x, noise, extras, dtype: str, level: float, rows: int):
    """Mean gradient (T, s, L, 4) over the noisy copies x + σ·noise of x (s, L, 4), noise (s, samples, L, 4).

    σ = ``level`` × (max − min) of each sequence; gradients are taken ``rows`` copies at a time.
    """
    s, samples = xp.shape(noise)[:2]
    flat = xp.reshape(x, [s, -1])
    sigma = level * (xp.max(flat, axis=1) - xp.min(flat, axis=1))
    points = xp.reshape(x[:, None] + xp.reshape(sigma, [s, 1, 1, 1]) * noise, [s * samples, *xp.shape(x)[1:]])
    copies = [xp.repeat(e, samples, axis=0) for e in extras]
    parts = []
    for start in range(0, s * samples, rows):
        stop = min(start + rows, s * samples)
        g, _ = _gradients_at(xp, network, points[start:stop], [e[start:stop] for e in copies], dtype)
        parts.append(g)
    g = parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)
    return xp.mean(xp.reshape(g, [xp.shape(g)[0], s, samples, *xp.shape(x)[1:]]), axis=2)


def _multipliers(xp, net, method: Method, refs, x, x_pairs, extras, pair_extras, noise, dt: str, rows: int):
    """Multipliers (T, s·j, L, 4) of ``method``'s rule, or (T, s, L, 4) where they do not depend on the reference,
    and the targets t(x) (s, T) where the rule computed them on the way (else None)."""
    rule = method.rule
    if rule == "integrated-gradients":
        return _integrated(xp, net, refs, x_pairs, pair_extras, dt, method.steps), None
    if rule in ("smoothgrad", "smoothgrad-x-input"):
        return _smoothed(xp, net, x, noise, extras, dt, method.noise, rows), None
    g, t_x = _gradients_at(xp, net, x, extras, dt, rule == "guided-backprop", rewriter(net, method))
    return (xp.abs(g) if rule == "saliency" else g), t_x


def make_gradient_step(network, method: Method, s: int, j: int, dtype, compile: str = "auto", key=None,
                       weights=None, rows: int = 256) -> Step:
    """The compiled step of ``method``'s rule for s sequences × j references each.

    Takes the network's weights (``weights(device)``), references (s·j, L, 4),
    sequences (s, L, 4), pair weights (s·j,), the extra inputs (s, ...) and,
    for SmoothGrad, the noise draws (s, samples, L, 4); returns the
    hypothetical scores summed over each sequence's weighted references
    (T, s, L, 4), t(x) (T, s·j), t(r) (T, s·j) and the deltas (T, s·j);
    compiled as ``compile`` says (:class:`~.compile.Step`, ``key``).  ``rows``
    bounds the noisy copies of one SmoothGrad gradient call.
    """
    xp, dt = network.xp, np_name(dtype)
    L = network.graph.length
    tasks = len(network.target.all_tasks)
    noisy = method.rule in ("smoothgrad", "smoothgrad-x-input")
    n_extras = len(network.graph.extra_inputs)
    specs = [Spec((s * j, L, 4), dt), Spec((s, L, 4), dt), Spec((s * j,), dt)]
    specs += [Spec((s, *shape), dt) for _, shape in network.graph.extra_inputs]
    specs += [Spec((s, method.samples, L, 4), dt)] if noisy else []

    def step(consts, refs, x, weight, *rest):
        extras, noise = list(rest[:n_extras]), (rest[n_extras] if noisy else None)
        net = network.bind(consts)
        pair_extras = [xp.repeat(e, j, axis=0) for e in extras]
        x_pairs = xp.repeat(x, j, axis=0)
        m, t_x = _multipliers(xp, net, method, refs, x, x_pairs, extras, pair_extras, noise, dt, rows)
        if method.rule != "integrated-gradients":
            m = xp.repeat(m, j, axis=1)
        if t_x is None:
            t_x = xp.cast(net.point_target(x, extras), dt)
        t_x = xp.repeat(t_x, j, axis=0)
        t_r = xp.cast(net.point_target(refs, pair_extras), dt)
        deltas = pair_deltas(m, x_pairs[None], refs[None], xp.transpose(t_x - t_r, [1, 0]), xp=xp)
        projected = xp.zeros_like(refs) if method.reference_free else refs
        hyp = reference_sum(xp.reshape(m, [tasks, s, j, L, 4]), xp.reshape(projected, [1, s, j, L, 4]),
                            xp.reshape(weight, [1, s, j]), xp=xp)
        return hyp, xp.transpose(t_x, [1, 0]), xp.transpose(t_r, [1, 0]), deltas

    return Step(step, specs, compile, key, xp, weights)


def np_name(dtype) -> str:
    """A dtype's name (``float32``) from a numpy dtype or a name."""
    import numpy as np

    return np.dtype(dtype).name
