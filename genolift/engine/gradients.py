"""Gradient-based baselines on the same references and outputs as DeepLIFT.

Each returns the engine's per-task :class:`~genolift.engine.results.ChunkResult`:

* ``gradient``: m = ∇t(x); hypothetical = mean_k (m − Σ_c r_k·m), the DeepLIFT
  formula with gradients as multipliers (so contributions are ∇t(x)·(x − r̄)
  projected on the observed bases).  No summation-to-delta.
* ``grad-x-input``: m = ∇t(x) with no reference: hypothetical = m,
  contributions = x·∇t(x).  No summation-to-delta.
* ``guided-backprop``: like ``gradient`` with guided ReLU gradients.
* ``integrated-gradients``: per pair, m_k = mean over ``steps`` midpoints
  α = (s + ½)/steps of ∇t(r_k + α(x − r_k)), then the hypothetical formula;
  Σ contributions → t(x) − mean t(r_k) as steps grow (completeness).

``deltas`` always hold t(x) − t(r_k) − Σ m_k·(x − r_k), so users see how far
each method is from summing to the difference.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..scores import pair_hypothetical


def _point_function(network, batch: int, length: int, dtype, n_extra: int, guided: bool):
    specs = [tf.TensorSpec((batch, length, 4), dtype)]
    specs += [tf.TensorSpec((batch, *shape), dtype) for _, shape in network.graph.extra_inputs]
    tasks = len(network.target.all_tasks)

    @tf.function(input_signature=specs, autograph=False)
    def at(points, *extras):
        with tf.GradientTape(persistent=tasks > 1) as tape:
            tape.watch(points)
            t = tf.cast(network.point_target(points, extras, guided=guided), dtype)
            per_task = [t[:, i] for i in range(tasks)]
        return tf.stack([tape.gradient(v, points) for v in per_task]), tf.transpose(t)

    return at


class PointEvaluator:
    """Batched gradients and targets at arbitrary points (n, L, 4)."""

    def __init__(self, network, batch: int, length: int, dtype, guided: bool = False):
        self.batch, self.dtype = batch, dtype
        self.fn = _point_function(network, batch, length, tf.as_dtype(dtype), len(network.graph.extra_inputs),
                                  guided)

    def __call__(self, points: np.ndarray, extras=()) -> tuple[np.ndarray, np.ndarray]:
        """(T, n, L, 4) gradients and (T, n) targets."""
        n = len(points)
        grads, values = [], []
        for i0 in range(0, n, self.batch):
            i1 = min(i0 + self.batch, n)
            block = np.zeros((self.batch, *points.shape[1:]), self.dtype)
            block[: i1 - i0] = points[i0:i1]
            ex = [_pad(e[i0:i1], self.batch) for e in extras]
            g, t = self.fn(block, *ex)
            grads.append(g.numpy()[:, : i1 - i0])
            values.append(t.numpy()[:, : i1 - i0])
        return np.concatenate(grads, axis=1), np.concatenate(values, axis=1)


def _pad(a: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *a.shape[1:]), a.dtype)
    out[: len(a)] = a
    return out


def run_gradient_rule(rule: str, evaluate: PointEvaluator, X: np.ndarray, R: np.ndarray, steps: int,
                      extras=()) -> list:
    """Scores of X (n, L, 4) against R (n, K, L, 4) under a gradient-based rule, per task."""
    from .results import ChunkResult

    n, k = R.shape[:2]
    rep = [np.repeat(e, k, axis=0) for e in extras]
    flat_r = R.reshape(n * k, *R.shape[2:])
    _, t_r = evaluate(flat_r, rep)
    grad_x, t_x = evaluate(X, extras)
    T = len(t_x)
    pair_x = np.repeat(X[:, None], k, axis=1)
    if rule == "integrated-gradients":
        m = np.zeros((T, n, k, *X.shape[1:]), X.dtype)
        for s in range(steps):
            alpha = (s + 0.5) / steps
            g, _ = evaluate((R + alpha * (pair_x - R)).reshape(n * k, *X.shape[1:]), rep)
            m += g.reshape(T, n, k, *X.shape[1:]) / steps
    else:
        m = np.repeat(grad_x[:, :, None], k, axis=2)
    results = []
    for t in range(T):
        deltas = (t_x[t][:, None] - t_r[t].reshape(n, k)) - (m[t] * (pair_x - R)).sum(axis=(2, 3))
        if rule == "grad-x-input":
            hyp = grad_x[t]
        else:
            hyp = pair_hypothetical(m[t], R).mean(axis=1)
        results.append(ChunkResult(hyp.astype(X.dtype), t_x[t], t_r[t].reshape(n, k), deltas.astype(X.dtype)))
    return results
