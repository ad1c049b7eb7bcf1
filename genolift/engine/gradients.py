"""Gradient-based baselines on the same references, batches and outputs as DeepLIFT.

Each rule is a traced pair step with the DeepLIFT step's arguments and
results (see :func:`~genolift.engine.batching.run_pairs`), so it runs on the
same batches and devices:

* ``gradient``: m = ∇t(x); hypothetical = mean_k (m − Σ_c r_k·m), the DeepLIFT
  formula with gradients as multipliers (so contributions are ∇t(x)·(x − r̄)
  projected on the observed bases).  No summation-to-delta.
* ``grad-x-input``: m = ∇t(x) with no reference: hypothetical = m (the
  formula with r = 0), contributions = x·∇t(x).  No summation-to-delta.
* ``guided-backprop``: like ``gradient`` with guided ReLU gradients.
* ``integrated-gradients``: per pair, m_k = mean over ``steps`` midpoints
  α = (s + ½)/steps of ∇t(r_k + α(x − r_k)), then the hypothetical formula;
  Σ contributions → t(x) − mean t(r_k) as steps grow (completeness).

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


def unit_cotangent(xp, t, task: int):
    """Cotangent of column ``task`` of t (B, T): 1 there, 0 elsewhere (the gradient of that task alone)."""
    columns = xp.reshape(xp.arange(xp.shape(t)[1], like=t), [1, -1])
    return xp.where(columns == task, xp.ones_like(t), xp.zeros_like(t))


def _gradients_at(xp, network, points, extras, dtype: str, guided: bool) -> tuple:
    """Gradients (T, B, L, 4) and targets (B, T) at points (B, L, 4)."""
    tasks = len(network.target.all_tasks)
    t, pullback = xp.vjp(lambda p: xp.cast(network.point_target(p, extras, guided=guided), dtype), points)
    return xp.stack([pullback(unit_cotangent(xp, t, i))[0] for i in range(tasks)], 0), t


def _integrated(xp, network, refs, x_pairs, extras, dtype: str, steps: int):
    """Mean gradient (T, B, L, 4) over the midpoints of the straight paths refs → x_pairs (B, L, 4)."""
    tasks = len(network.target.all_tasks)

    def body(i, total):
        alpha = (xp.cast(i, dtype) + 0.5) / steps
        g, _ = _gradients_at(xp, network, refs + alpha * (x_pairs - refs), extras, dtype, False)
        return total + g / steps

    return xp.fori_loop(steps, body, xp.zeros((tasks, *xp.shape(refs)), dtype, like=refs))


def make_gradient_step(network, rule: str, s: int, j: int, dtype, steps: int, compile: str = "auto",
                       key=None, weights=None) -> Step:
    """The compiled step of ``rule`` for s sequences × j references each.

    Takes the network's weights (``weights(device)``), references (s·j, L, 4),
    sequences (s, L, 4), pair weights (s·j,) and the extra inputs (s, ...);
    returns the hypothetical scores summed over each sequence's weighted
    references (T, s, L, 4), t(x) (T, s·j), t(r) (T, s·j) and the deltas
    (T, s·j); compiled as ``compile`` says (:class:`~.compile.Step`, ``key``).
    """
    xp, dt = network.xp, np_name(dtype)
    L = network.graph.length
    tasks = len(network.target.all_tasks)
    specs = [Spec((s * j, L, 4), dt), Spec((s, L, 4), dt), Spec((s * j,), dt)]
    specs += [Spec((s, *shape), dt) for _, shape in network.graph.extra_inputs]

    def step(consts, refs, x, weight, *extras):
        net = network.bind(consts)
        pair_extras = [xp.repeat(e, j, axis=0) for e in extras]
        x_pairs = xp.repeat(x, j, axis=0)
        if rule == "integrated-gradients":
            m = _integrated(xp, net, refs, x_pairs, pair_extras, dt, steps)
            t_x = xp.cast(net.point_target(x, extras), dt)
        else:
            g_x, t_x = _gradients_at(xp, net, x, extras, dt, rule == "guided-backprop")
            m = xp.repeat(g_x, j, axis=1)
        t_x = xp.repeat(t_x, j, axis=0)
        t_r = xp.cast(net.point_target(refs, pair_extras), dt)
        deltas = pair_deltas(m, x_pairs[None], refs[None], xp.transpose(t_x - t_r, [1, 0]), xp=xp)
        projected = xp.zeros_like(refs) if rule == "grad-x-input" else refs
        hyp = reference_sum(xp.reshape(m, [tasks, s, j, L, 4]), xp.reshape(projected, [1, s, j, L, 4]),
                            xp.reshape(weight, [1, s, j]), xp=xp)
        return hyp, xp.transpose(t_x, [1, 0]), xp.transpose(t_r, [1, 0]), deltas

    return Step(step, specs, compile, key, xp, weights)


def np_name(dtype) -> str:
    """A dtype's name (``float32``) from a numpy dtype or a name."""
    import numpy as np

    return np.dtype(dtype).name
