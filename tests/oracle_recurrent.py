"""The oracle's view of recurrent layers: each ``lstm``/``gru`` loop node unrolled over time into primitive nodes.

The engine runs a recurrent layer as one loop (``genolift/engine/recurrent.py``); the oracle instead
spells every time step out as linear nodes (the kernels, slices, sums), elementwise nodes (the gates and
candidates, Rescale) and products of two changing tensors (gate × state, the Shapley split), which its
plain numpy rules already handle.  Test code only.
"""

from __future__ import annotations

import numpy as np

from genolift.model.graph import Graph, Node


class _Nodes:
    """Nodes of one loop node under the prefix ``out/``; :meth:`done` names the last one ``out``."""

    def __init__(self, out: str, layer: str):
        self.out, self.layer, self.nodes = out, layer, []

    def add(self, name: str, op: str, inputs, params=None, weights=()) -> str:
        node_id = f"{self.out}/{name}"
        self.nodes.append(Node(node_id, op, tuple(inputs), dict(params or {}), tuple(weights), self.layer))
        return node_id

    def act(self, name: str, source: str, op_params) -> str:
        op, params = op_params
        return source if op == "identity" else self.add(name, op, (source,), params)

    def part(self, name: str, source: str, start: int, stop: int) -> str:
        return self.add(name, "slice", (source,), {"axis": -1, "start": start, "stop": stop})

    def done(self) -> list[Node]:
        *body, last = self.nodes
        return body + [Node(self.out, last.op, last.inputs, last.params, last.weights, last.layer)]


def _order(p: dict) -> list[int]:
    return list(range(p["steps"] - 1, -1, -1)) if p["reverse"] else list(range(p["steps"]))


def _lstm(b: _Nodes, x: str, p: dict, weights) -> dict[int, str]:
    """{time step: h node} of an LSTM unrolled over x (B, T, C)."""
    u = p["units"]
    kernel, rec, bias = weights
    gate, cand = (p["gate"], p["gate_params"]), (p["activation"], p["activation_params"])
    xw = b.add("xw", "dense", (x,), {}, (kernel, bias))
    zero = np.zeros(4 * u, np.float32)
    h = c = None
    out = {}
    for t in _order(p):
        s = f"{t}/"
        z = b.add(s + "x", "take", (xw,), {"axis": 1, "index": t})
        if h is not None:
            z = b.add(s + "z", "add", (z, b.add(s + "hu", "dense", (h,), {}, (rec, zero))))
        i_f = b.act(s + "if", b.part(s + "if_in", z, 0, 2 * u), gate)
        g = b.act(s + "g", b.part(s + "g_in", z, 2 * u, 3 * u), cand)
        o = b.act(s + "o", b.part(s + "o_in", z, 3 * u, 4 * u), gate)
        ig = b.add(s + "ig", "multiply", (b.part(s + "i", i_f, 0, u), g))
        if c is None:
            c = ig
        else:
            fc = b.add(s + "fc", "multiply", (b.part(s + "f", i_f, u, 2 * u), c))
            c = b.add(s + "c", "add", (fc, ig))
        h = out[t] = b.add(s + "h", "multiply", (o, b.act(s + "c_act", c, cand)))
    return out


def _gru(b: _Nodes, x: str, p: dict, weights) -> dict[int, str]:
    """{time step: h node} of a GRU (reset_after either way) unrolled over x (B, T, C)."""
    u, after = p["units"], p["reset_after"]
    kernel, rec, bias = weights
    b_in, b_rec = (bias[0], bias[1]) if after else (bias, np.zeros(3 * u, np.float32))
    gate, cand = (p["gate"], p["gate_params"]), (p["activation"], p["activation_params"])
    xw = b.add("xw", "dense", (x,), {}, (kernel, b_in))
    h = None
    out = {}
    for t in _order(p):
        s = f"{t}/"
        xt = b.add(s + "x", "take", (xw,), {"axis": 1, "index": t})
        x_zr, x_h = b.part(s + "x_zr", xt, 0, 2 * u), b.part(s + "x_h", xt, 2 * u, 3 * u)
        if h is None:  # h₀ = 0: the recurrent terms are their biases
            zr = b.add(s + "zr_in", "scale_shift", (x_zr,), {}, (np.ones(1, np.float32), b_rec[:2 * u]))
        elif after:
            hu = b.add(s + "hu", "dense", (h,), {}, (rec, b_rec))
            zr = b.add(s + "zr_in", "add", (x_zr, b.part(s + "hu_zr", hu, 0, 2 * u)))
        else:
            hu_zr = b.add(s + "hu_zr", "dense", (h,), {}, (rec[:, :2 * u], np.zeros(2 * u, np.float32)))
            zr = b.add(s + "zr_in", "add", (x_zr, hu_zr))
        zr = b.act(s + "zr", zr, gate)
        z, r = b.part(s + "z", zr, 0, u), b.part(s + "r", zr, u, 2 * u)
        if h is None:
            rh = b.add(s + "rh", "scale_shift", (r,), {}, (b_rec[2 * u:], np.zeros(1, np.float32))) if after else None
        elif after:
            rh = b.add(s + "rh", "multiply", (r, b.part(s + "hu_h", hu, 2 * u, 3 * u)))
        else:
            r_h = b.add(s + "r_h", "multiply", (r, h))
            rh = b.add(s + "rh", "dense", (r_h,), {}, (rec[:, 2 * u:], np.zeros(u, np.float32)))
        cand_in = x_h if rh is None else b.add(s + "h_in", "add", (x_h, rh))
        hh = b.act(s + "hh", cand_in, cand)
        keep = b.add(s + "1-z", "scale_shift", (z,), {}, (-np.ones(1, np.float32), np.ones(1, np.float32)))
        new = b.add(s + "new", "multiply", (keep, hh))
        h = out[t] = new if h is None else b.add(s + "h", "add", (b.add(s + "zh", "multiply", (z, h)), new))
    return out


def _unroll(node: Node) -> list[Node]:
    """Primitive nodes computing loop node ``node``; the last is named like it."""
    p = node.params
    b = _Nodes(node.name, node.layer)
    steps = (_lstm if node.op == "lstm" else _gru)(b, node.inputs[0], p, node.weights)
    if p["return_sequences"]:
        order = list(range(p["steps"])) if p["time_order"] else _order(p)
        b.add("sequence", "stack", [steps[t] for t in order], {"axis": 1})
    else:
        b.add("last", "identity", (steps[_order(p)[-1]],))
    return b.done()


def unrolled(graph: Graph) -> Graph:
    """``graph`` with every ``lstm``/``gru`` node replaced by its unrolled steps (the graph itself if none)."""
    if not any(node.op in ("lstm", "gru") for node in graph.nodes):
        return graph
    nodes = [new for node in graph.nodes for new in (_unroll(node) if node.op in ("lstm", "gru") else [node])]
    return Graph(nodes, graph.inputs, graph.outputs, graph.output_names, graph.input_shape, graph.output_shapes,
                 graph.source, graph.sha256, graph.substituted)
