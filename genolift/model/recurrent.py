"""Recurrent layers unrolled over time into genolift's primitive operations.

An ``LSTM`` or ``GRU`` over T steps becomes, per step, linear nodes (the
input and recurrent kernels, slices, sums), Rescale nodes (the gate and
candidate activations) and products of two changing tensors (gate × state),
split exactly by the two-player Shapley rule; summation-to-delta then holds
for each (sequence, reference) pair as for any other graph.  ``Bidirectional``
runs a forward and a backward unroll and merges them; ``TimeDistributed``
applies its layer to every step.

Converters have the signature of :mod:`.layers`; ``cfg["input_shapes"]`` holds
the shapes of the inputs without the batch axis (the reader adds it).  A
converter's ``act(name, layer)`` argument turns an activation name into
``(op, params)`` (from the support table).
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedLayerError
from .graph import Node

WORDS = "unrolled over time: linear, rescale (gates), product (Shapley split)"
_STEP_OPS = ("dense", "take", "add", "slice", "scale_shift", "multiply", "stack", "identity", "sigmoid", "tanh")
LSTM_OPS = _STEP_OPS
GRU_OPS = _STEP_OPS
BIDIRECTIONAL_OPS = _STEP_OPS + ("concatenate", "average")
RECURRENT = ("LSTM", "GRU")


def problem(cls: str, cfg: dict) -> str | None:
    """Why a recurrent layer's configuration cannot be read, in words, or None."""
    if cls in RECURRENT:
        for key, why in (("return_state", "return_state=True"), ("stateful", "stateful=True")):
            if cfg.get(key):
                return why
    if cls == "Bidirectional" and cfg.get("merge_mode", "concat") not in ("concat", "sum", "ave", "mul"):
        return f"merge_mode {cfg.get('merge_mode')!r} (two outputs)"
    return None


class _Nodes:
    """Nodes of one layer call under the prefix ``out/``; :meth:`done` names the last one ``out``."""

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
        renamed = Node(self.out, last.op, last.inputs, last.params, last.weights, last.layer)
        return body + [renamed]


def _f32(w) -> np.ndarray:
    return np.asarray(w, np.float32)


def _steps(cfg: dict, layer: str) -> int:
    shapes = cfg.get("input_shapes") or [()]
    if len(shapes[0]) != 2 or shapes[0][0] is None:
        raise UnsupportedLayerError(f"{layer}: recurrent input of shape {shapes[0]} (need a fixed number of steps)")
    return int(shapes[0][0])


def _lstm_steps(b: _Nodes, x: str, T: int, cfg: dict, weights, act, reverse: bool, p: str) -> dict[int, str]:
    """{time step: h node} of an LSTM unrolled over x (B, T, C) in processing order (reversed if asked)."""
    units = int(cfg["units"])
    kernel, rec = _f32(weights[0]), _f32(weights[1])
    bias = _f32(weights[2]) if cfg.get("use_bias", True) else np.zeros(4 * units, np.float32)
    gate, cand = act(cfg.get("recurrent_activation", "sigmoid"), b.layer), act(cfg.get("activation", "tanh"), b.layer)
    xw = b.add(f"{p}xw", "dense", (x,), {}, (kernel, bias))
    zero = np.zeros(4 * units, np.float32)
    h = c = None
    out = {}
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        s = f"{p}{t}/"
        z = b.add(s + "x", "take", (xw,), {"axis": 1, "index": t})
        if h is not None:
            z = b.add(s + "z", "add", (z, b.add(s + "hu", "dense", (h,), {}, (rec, zero))))
        i_f = b.act(s + "if", b.part(s + "if_in", z, 0, 2 * units), gate)
        g = b.act(s + "g", b.part(s + "g_in", z, 2 * units, 3 * units), cand)
        o = b.act(s + "o", b.part(s + "o_in", z, 3 * units, 4 * units), gate)
        ig = b.add(s + "ig", "multiply", (b.part(s + "i", i_f, 0, units), g))
        if c is None:
            c = ig
        else:
            fc = b.add(s + "fc", "multiply", (b.part(s + "f", i_f, units, 2 * units), c))
            c = b.add(s + "c", "add", (fc, ig))
        h = out[t] = b.add(s + "h", "multiply", (o, b.act(s + "c_act", c, cand)))
    return out


def _gru_steps(b: _Nodes, x: str, T: int, cfg: dict, weights, act, reverse: bool, p: str) -> dict[int, str]:
    """{time step: h node} of a GRU (reset_after either way) unrolled over x (B, T, C)."""
    u = int(cfg["units"])
    after = bool(cfg.get("reset_after", True))
    kernel, rec = _f32(weights[0]), _f32(weights[1])
    if not cfg.get("use_bias", True):
        bias = np.zeros((2, 3 * u) if after else 3 * u, np.float32)
    else:
        bias = _f32(weights[2])
    b_in, b_rec = (bias[0], bias[1]) if after else (bias, np.zeros(3 * u, np.float32))
    gate, cand = act(cfg.get("recurrent_activation", "sigmoid"), b.layer), act(cfg.get("activation", "tanh"), b.layer)
    xw = b.add(f"{p}xw", "dense", (x,), {}, (kernel, b_in))
    h = None
    out = {}
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        s = f"{p}{t}/"
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


_UNROLL = {"LSTM": _lstm_steps, "GRU": _gru_steps}


def _sequence(b: _Nodes, steps: dict[int, str], order: list[int], cfg: dict, p: str) -> str:
    """The layer's output from its per-step h nodes: the steps stacked in ``order``, or the last one."""
    if cfg.get("return_sequences", False):
        return b.add(f"{p}sequence", "stack", [steps[t] for t in order], {"axis": 1})
    return steps[order[-1]]


def recurrent(cls: str):
    """Converter of an ``LSTM`` or ``GRU`` layer (``act``: activation name → (op, params))."""
    def convert(cfg, weights, out, inputs, layer, act):
        b = _Nodes(out, layer)
        T = _steps(cfg, layer)
        reverse = bool(cfg.get("go_backwards", False))
        steps = _UNROLL[cls](b, inputs[0], T, cfg, weights, act, reverse, "")
        processed = list(range(T - 1, -1, -1)) if reverse else list(range(T))
        last = _sequence(b, steps, processed, cfg, "")
        b.add("out", "identity", (last,))
        return b.done()

    return convert


lstm, gru = recurrent("LSTM"), recurrent("GRU")

_MERGE = {"concat": "concatenate", "sum": "add", "ave": "average", "mul": "multiply"}


def bidirectional(cfg, weights, out, inputs, layer, act):
    """Bidirectional(LSTM | GRU): a forward and a backward unroll merged (concat, sum, ave, mul)."""
    fwd = cfg["layer"]
    bwd = cfg.get("backward_layer") or {**fwd, "config": {**fwd["config"], "go_backwards": True}}
    if fwd["class_name"] not in RECURRENT or bwd["class_name"] not in RECURRENT:
        raise UnsupportedLayerError(f"{layer}: Bidirectional of {fwd['class_name']} (only LSTM, GRU)")
    merge = cfg.get("merge_mode", "concat")
    if merge not in _MERGE:
        raise UnsupportedLayerError(f"{layer}: Bidirectional with merge_mode {merge!r}")
    n = 2 + bool(fwd["config"].get("use_bias", True))
    b = _Nodes(out, layer)
    T = _steps(cfg, layer)
    time = list(range(T))
    seqs = fwd["config"].get("return_sequences", False)
    fw = _UNROLL[fwd["class_name"]](b, inputs[0], T, fwd["config"], weights[:n], act, False, "forward/")
    bw = _UNROLL[bwd["class_name"]](b, inputs[0], T, bwd["config"], weights[n:], act, True, "backward/")
    parts = [_sequence(b, fw, time, fwd["config"], "forward/"),
             _sequence(b, bw, time if seqs else time[::-1], bwd["config"], "backward/")]
    b.add("out", _MERGE[merge], parts, {"axis": -1} if merge == "concat" else {})
    return b.done()


def time_distributed(cfg, weights, out, inputs, layer, convert):
    """TimeDistributed(layer): a Dense on the last axis as it is, any other layer once per time step.

    ``convert`` is the support table's ``convert_layer``.
    """
    inner = cfg["layer"]
    shape = (cfg.get("input_shapes") or [()])[0]
    inner_cfg = {**inner["config"], "input_shapes": [tuple(shape[1:])]}
    if inner["class_name"] == "Dense":
        return convert("Dense", inner_cfg, weights, out, inputs, layer)
    if not shape or shape[0] is None:
        raise UnsupportedLayerError(f"{layer}: TimeDistributed over an input of shape {shape}")
    nodes, steps = [], []
    for t in range(int(shape[0])):
        take = f"{out}/{t}/x"
        nodes.append(Node(take, "take", inputs, {"axis": 1, "index": t}, (), layer))
        nodes += convert(inner["class_name"], inner_cfg, weights, f"{out}/{t}", (take,), layer)
        steps.append(f"{out}/{t}")
    return nodes + [Node(out, "stack", tuple(steps), {"axis": 1}, (), layer)]
