"""The DeepLIFT pair step: one compiled function per batch shape, from both branches to hypothetical scores.

A batch holds S sequences × J references.  One branch is recorded (a plain
forward pass keeping the activations the rules need) and the other taped:
its forward pass with each nonlinearity replaced by its rule op, and one
input-only backward pass per task, whose "gradient" is the DeepLIFT
multipliers (:mod:`.rules`).  The taped rows are the references (S·J of them,
the recorded rows the S sequences), or, for one reference shared by every
sequence (a GC background), the sequences.  The hypothetical projection and
the per-pair deltas are formed on the device (:func:`finisher`), so only
(T, S, L, 4) comes back to the host.
"""

from __future__ import annotations

from ..scores import pair_deltas, pair_hypothetical, reference_sum
from .backends import Spec
from .compile import Step
from .gradients import unit_cotangent


def make_pair_step(network, taped_is_reference: bool, s: int, j: int, dtype, compile: str, key, weights) -> Step:
    """The compiled step of s recorded rows × j taped rows each (see the module docstring).

    Takes the network's weights (``weights(device)``), the taped rows (s·j, L, 4), the recorded rows
    (s, L, 4), pair weights (s·j,) and the extra inputs (s, ...); returns the hypothetical scores (T, s, L, 4)
    summed over each sequence's weighted references (taped references) or (T, s·j, L, 4), t(x) (T, s·j),
    t(r) (T, s·j) and the deltas (T, s·j); compiled as ``compile`` says (:class:`~.compile.Step`, ``key``).
    """
    xp, L, dt = network.xp, network.graph.length, dtype.name
    tasks = len(network.target.all_tasks)
    finish = xp.fused(finisher(xp, taped_is_reference, s, j, L))

    def step(consts, taped, other, weight, *extras):
        net = network.bind(consts)
        t_other, acts = net.record(other, extras)
        t_other = xp.cast(t_other, dt)
        taped_extras = [xp.repeat(e, j, axis=0) for e in extras]  # equal in both branches of a pair
        t_taped, pullback = xp.vjp(
            lambda t: xp.cast(net.pair_target(t, acts, j, taped_extras, not taped_is_reference), dt), taped)
        hyps, deltas = [], []
        for task in range(tasks):  # one input-only backward pass per task, forward passes shared
            m = pullback(unit_cotangent(xp, t_taped, task))[0]
            hyp, delta = finish(m, taped, other, t_taped[:, task], t_other[:, task], weight)
            hyps.append(hyp)
            deltas.append(delta)
        t_pair_other = xp.repeat(t_other, j, axis=0)
        t_x, t_r = (t_pair_other, t_taped) if taped_is_reference else (t_taped, t_pair_other)
        return xp.stack(hyps, 0), xp.transpose(t_x, [1, 0]), xp.transpose(t_r, [1, 0]), xp.stack(deltas, 0)

    signature = [Spec((s * j, L, 4), dt), Spec((s, L, 4), dt), Spec((s * j,), dt),
                 *(Spec((s, *shape), dt) for _, shape in network.graph.extra_inputs)]
    return Step(step, signature, compile, key, xp, weights)


def finisher(xp, taped_is_reference: bool, s: int, j: int, L: int):
    """Hypothetical scores and per-pair deltas of a pair step from the multipliers (one fused kernel where the
    backend fuses pieces)."""

    def finish(m, taped, other, t_taped, t_other, weight):
        """Shapes: m, taped (S·J, L, 4); other (S, L, 4); t_taped, weight (S·J,); t_other (S,).

        Returns hyp, (S, L, 4) summed over each sequence's references when
        they are the taped rows, else (S·J, L, 4); deltas (S·J,).
        """
        m4, taped4, other4 = xp.reshape(m, [s, j, L, 4]), xp.reshape(taped, [s, j, L, 4]), other[:, None]
        x, r = (other4, taped4) if taped_is_reference else (taped4, other4)
        dt_pair = xp.reshape(t_taped, [s, j]) - t_other[:, None]  # t(taped) − t(other)
        if taped_is_reference:
            dt_pair = -dt_pair
        delta = pair_deltas(m4, x, r, dt_pair, xp=xp)
        if taped_is_reference:  # sum over each sequence's references
            hyp = reference_sum(m4, r, xp.reshape(weight, [s, j]), xp=xp)
        else:
            hyp = xp.reshape(pair_hypothetical(m4, r, xp=xp), [s * j, L, 4])
        return hyp, xp.reshape(delta, [-1])

    return finish
