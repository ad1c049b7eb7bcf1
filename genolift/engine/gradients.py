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

import tensorflow as tf

from ..scores import pair_deltas, reference_sum
from .compile import Step


def _gradients_at(network, points: tf.Tensor, extras, dtype, guided: bool) -> tuple[tf.Tensor, tf.Tensor]:
    """Gradients (T, B, L, 4) and targets (B, T) at points (B, L, 4)."""
    tasks = len(network.target.all_tasks)
    with tf.GradientTape(persistent=tasks > 1) as tape:
        tape.watch(points)
        t = tf.cast(network.point_target(points, extras, guided=guided), dtype)
        per_task = [t[:, i] for i in range(tasks)]
    return tf.stack([tape.gradient(v, points) for v in per_task]), t


def _integrated(network, refs: tf.Tensor, x_pairs: tf.Tensor, extras, dtype, steps: int) -> tf.Tensor:
    """Mean gradient (T, B, L, 4) over the midpoints of the straight paths refs → x_pairs (B, L, 4)."""
    tasks = len(network.target.all_tasks)

    def body(i, total):
        alpha = (tf.cast(i, dtype) + 0.5) / steps
        g, _ = _gradients_at(network, refs + alpha * (x_pairs - refs), extras, dtype, False)
        return i + 1, total + g / steps

    start = (tf.constant(0), tf.zeros((tasks, *refs.shape), dtype))
    return tf.while_loop(lambda i, _: i < steps, body, start)[1]


def make_gradient_step(network, rule: str, s: int, j: int, dtype, steps: int, compile: str = "auto",
                       key=None) -> Step:
    """The traced step of ``rule`` for s sequences × j references each.

    Takes references (s·j, L, 4), sequences (s, L, 4), pair weights (s·j,)
    and the extra inputs (s, ...); returns the hypothetical scores summed
    over each sequence's weighted references (T, s, L, 4), t(x) (T, s·j),
    t(r) (T, s·j) and the deltas (T, s·j); compiled as ``compile`` says (:class:`~.compile.Step`, ``key``).
    """
    dt = tf.as_dtype(dtype)
    L = network.graph.length
    tasks = len(network.target.all_tasks)
    specs = [tf.TensorSpec((s * j, L, 4), dt), tf.TensorSpec((s, L, 4), dt), tf.TensorSpec((s * j,), dt)]
    specs += [tf.TensorSpec((s, *shape), dt) for _, shape in network.graph.extra_inputs]

    def step(refs, x, weight, *extras):
        pair_extras = [tf.repeat(e, j, axis=0) for e in extras]
        x_pairs = tf.repeat(x, j, axis=0)
        if rule == "integrated-gradients":
            m = _integrated(network, refs, x_pairs, pair_extras, dt, steps)
            t_x = tf.cast(network.point_target(x, extras), dt)
        else:
            g_x, t_x = _gradients_at(network, x, extras, dt, rule == "guided-backprop")
            m = tf.repeat(g_x, j, axis=1)
        t_x = tf.repeat(t_x, j, axis=0)
        t_r = tf.cast(network.point_target(refs, pair_extras), dt)
        deltas = pair_deltas(m, x_pairs[None], refs[None], tf.transpose(t_x - t_r), xp=tf)
        projected = tf.zeros_like(refs) if rule == "grad-x-input" else refs
        hyp = reference_sum(tf.reshape(m, [tasks, s, j, L, 4]), tf.reshape(projected, [1, s, j, L, 4]),
                            tf.reshape(weight, [1, s, j]), xp=tf)
        return hyp, tf.transpose(t_x), tf.transpose(t_r), deltas

    return Step(step, specs, compile, key)

