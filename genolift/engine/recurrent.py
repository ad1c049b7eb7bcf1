"""LSTM and GRU nodes run as loops over time, with DeepLIFT's rules inside the loop body.

Each cell is written once, against a *policy* that says what its
nonlinearities and products of two changing tensors are:

* :class:`Plain` — the functions themselves (forward passes, gradients);
* :class:`Recording` — the same, keeping each one's inputs and output (the
  recorded branch of a pair);
* :class:`Paired` — the rule ops of :mod:`.rules` (Rescale for the gates and
  candidates, the two-player Shapley split for gate × state) fed with the
  other branch's recorded values at the same step (the taped branch).

The loop is the backend's ``scan``: the graph, its compile time and its
memory for tracing do not grow with the number of steps (only the per-step
values the backward pass needs do, as for any layer).  The recorded branch
first runs the plain loop for the states, then the cell once more on all
steps at once (the states shifted by one step) to keep every step's values:
the same arithmetic, vectorised over time.

Shapes: x (B, T, C) for a layer; the loop runs time-major, (T, B, ·).  The
initial state is zero in both branches, so the first step's recurrent terms
(0 · U) and the forget gate's product with c₀ = 0 change nothing.
"""

from __future__ import annotations

import numpy as np

from ..model.graph import Node
from . import rules
from .elementwise import nonlinearity


class Plain:
    """Nonlinearities and products as they are."""

    def __init__(self, xp):
        self.xp = xp

    def act(self, name: str, z, fn: tuple):
        return fn[0](z)

    def mul(self, name: str, a, b):
        return a * b


class Recording(Plain):
    """As :class:`Plain`, keeping {name: (input, output)} of each nonlinearity and {name: (a, b)} of each product."""

    def __init__(self, xp):
        super().__init__(xp)
        self.values: dict = {}

    def act(self, name: str, z, fn: tuple):
        y = fn[0](z)
        self.values[name] = (z, y)
        return y

    def mul(self, name: str, a, b):
        self.values[name] = (a, b)
        return a * b


class Paired(Plain):
    """The rule ops, fed with the other branch's values at this step ({name: pair}, S rows; taped rows S·J)."""

    def __init__(self, xp, other: dict, j: int):
        super().__init__(xp)
        self.other, self.j = other, j

    def act(self, name: str, z, fn: tuple):
        z_o, y_o = self.other[name]
        return rules.rescale(self.xp, fn[0], fn[1], z, z_o, y_o, self.j)

    def mul(self, name: str, a, b):
        a_o, b_o = self.other[name]
        return rules.product(self.xp, a, b, a_o, b_o, self.j)


def _functions(xp, node: Node) -> tuple:
    """((f, f') of the candidate activation, (f, f') of the gates); a linear activation is the identity
    (its Rescale multiplier is 1)."""
    out = []
    for op, params in ((node.params["activation"], node.params["activation_params"]),
                       (node.params["gate"], node.params["gate_params"])):
        if op == "identity":
            out.append((lambda z: z, lambda z: xp.ones_like(z)))
        else:
            out.append(nonlinearity(xp, Node(node.name, op, params=params), []))
    return tuple(out)


def lstm_cell(policy, node: Node, consts: list, fns: tuple, x_proj, state: dict) -> dict:
    """One LSTM step: x_proj (B, 4u) the input's projection (x·W + b), state {"h", "c"} (B, u) each."""
    xp, u = policy.xp, node.params["units"]
    cand, gate = fns
    z = x_proj + xp.dense(state["h"], consts[1])
    i_f = policy.act("if", z[:, :2 * u], gate)
    g = policy.act("g", z[:, 2 * u:3 * u], cand)
    o = policy.act("o", z[:, 3 * u:], gate)
    c = policy.mul("fc", i_f[:, u:], state["c"]) + policy.mul("ig", i_f[:, :u], g)
    h = policy.mul("h", o, policy.act("c_act", c, cand))
    return {"h": h, "c": c}


def gru_cell(policy, node: Node, consts: list, fns: tuple, x_proj, state: dict) -> dict:
    """One GRU step (Keras's, ``reset_after`` either way): x_proj (B, 3u) = x·W + input bias, state {"h"} (B, u)."""
    xp, u = policy.xp, node.params["units"]
    cand, gate = fns
    h = state["h"]
    rec, bias = consts[1], consts[2]
    if node.params["reset_after"]:
        hu = xp.bias_add(xp.dense(h, rec), bias[1])
        zr = policy.act("zr", x_proj[:, :2 * u] + hu[:, :2 * u], gate)
        rh = policy.mul("rh", zr[:, u:], hu[:, 2 * u:])
    else:
        zr = policy.act("zr", x_proj[:, :2 * u] + xp.dense(h, rec[:, :2 * u]), gate)
        rh = xp.dense(policy.mul("rh", zr[:, u:], h), rec[:, 2 * u:])
    hh = policy.act("hh", x_proj[:, 2 * u:] + rh, cand)
    z = zr[:, :u]
    new = policy.mul("new", 1 - z, hh)
    return {"h": policy.mul("zh", z, h) + new}


CELLS = {"lstm": lstm_cell, "gru": gru_cell}


def _projected(xp, node: Node, consts: list, x):
    """x (B, T, C) → its input projection, time-major in processing order (T, B, G·u)."""
    bias = consts[2][0] if node.op == "gru" and node.params["reset_after"] else consts[2]
    proj = xp.transpose(xp.bias_add(xp.dense(x, consts[0]), bias), [1, 0, 2])
    return _reversed(xp, proj) if node.params["reverse"] else proj


def _reversed(xp, t):
    """t (T, ...) with its time axis reversed."""
    steps = xp.shape(t)[0]
    return xp.take(t, np.arange(steps - 1, -1, -1), axis=0)


def _zero_state(xp, node: Node, like) -> dict:
    """The zero state of B rows, like a (B, ·) tensor's dtype and device."""
    zero = xp.zeros((xp.shape(like)[0], node.params["units"]), xp.dtype_name(like), like=like)
    return {"h": zero, "c": zero} if node.op == "lstm" else {"h": zero}


def _output(xp, node: Node, hs):
    """The layer's output from the states h (T, B, u) in processing order: (B, T, u) or (B, u)."""
    if not node.params["return_sequences"]:
        return hs[-1]
    if node.params["reverse"] and node.params["time_order"]:
        hs = _reversed(xp, hs)
    return xp.transpose(hs, [1, 0, 2])


def _states(xp, node: Node, consts: list, fns: tuple, proj) -> dict:
    """Every step's state {"h", ...} (T, B, u), by the plain cell in a loop."""
    cell = CELLS[node.op]
    return xp.scan(lambda state, x_t: cell(Plain(xp), node, consts, fns, x_t, state), _zero_state(xp, node, proj[0]),
                   proj)


def forward(xp, node: Node, inputs: list, consts: list):
    """The layer's output for x (B, T, C)."""
    proj = _projected(xp, node, consts, inputs[0])
    return _output(xp, node, _states(xp, node, consts, _functions(xp, node), proj)["h"])


def record(xp, node: Node, x, consts: list) -> tuple:
    """The layer's output for x (S, T, C) and every step's rule values {name: (T, S, ·) pair}."""
    fns = _functions(xp, node)
    proj = _projected(xp, node, consts, x)
    states = _states(xp, node, consts, fns, proj)
    steps, rows = xp.shape(proj)[:2]
    before = {k: xp.concat([xp.zeros_like(v[:1]), v[:-1]], axis=0) for k, v in states.items()}  # state entering t
    flat = {k: xp.reshape(v, [steps * rows, -1]) for k, v in before.items()}
    recording = Recording(xp)
    CELLS[node.op](recording, node, consts, fns, xp.reshape(proj, [steps * rows, -1]), flat)
    values = {name: tuple(xp.reshape(v, [steps, rows, -1]) for v in pair) for name, pair in recording.values.items()}
    return _output(xp, node, states["h"]), values


def paired(xp, node: Node, x, consts: list, other: dict, j: int):
    """The taped branch's output for x (S·J, T, C), the rules fed with the other branch's ``record`` values."""
    fns = _functions(xp, node)
    proj = _projected(xp, node, consts, x)
    cell = CELLS[node.op]

    def step(state, inputs):
        x_t, other_t = inputs
        return cell(Paired(xp, other_t, j), node, consts, fns, x_t, state)

    states = xp.scan(step, _zero_state(xp, node, proj[0]), (proj, other))
    return _output(xp, node, states["h"])
