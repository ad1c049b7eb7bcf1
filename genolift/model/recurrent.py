"""Recurrent layers as loops over time: one ``lstm`` or ``gru`` node per direction.

An ``LSTM`` or ``GRU`` layer becomes one node whose engine implementation
(:mod:`genolift.engine.recurrent`) runs the layer's cell as a loop over
time, with DeepLIFT's rules inside the loop body: Rescale for the gate and
candidate activations, the two-player Shapley split for the products of two
changing tensors (gate × state), the ordinary chain rule for the kernels.
Summation-to-delta holds for each (sequence, reference) pair as for any
other graph, and neither the graph nor its compile time grows with the
number of steps.  ``Bidirectional`` runs a forward and a backward node and
merges them; ``TimeDistributed`` applies its layer to every step.

Converters have the signature of :mod:`.layers`; ``cfg["input_shapes"]`` holds
the shapes of the inputs without the batch axis (the reader adds it).  A
converter's ``act(name, layer)`` argument turns an activation name into
``(op, params)`` (from the support table).

A loop node's parameters: ``units``; ``activation`` and ``gate`` (the
candidate and recurrent activations: an elementwise op name, or
``identity``) with their ``activation_params`` and ``gate_params``;
``steps`` (T); ``reverse`` (process the steps from the last); ``return_sequences``;
``time_order`` (a reversed layer's sequence put back in time order, as a
Bidirectional layer's backward half; else in processing order, as Keras
returns a ``go_backwards`` layer's); ``reset_after`` (GRU).  Weights: the
input kernel (C, G·units), the recurrent kernel (units, G·units) and the bias
(G·units, or (2, 3·units) for a GRU with ``reset_after``), G = 4 (LSTM) or 3 (GRU).
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedLayerError
from .graph import Node

WORDS = "a loop over time: linear (kernels), rescale (gates), product (Shapley split)"
LSTM_OPS = ("lstm",)
GRU_OPS = ("gru",)
BIDIRECTIONAL_OPS = ("lstm", "gru", "concatenate", "add", "average", "multiply")
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


def _f32(w) -> np.ndarray:
    return np.asarray(w, np.float32)


def _steps(cfg: dict, layer: str) -> int:
    shapes = cfg.get("input_shapes") or [()]
    if len(shapes[0]) != 2 or shapes[0][0] is None:
        raise UnsupportedLayerError(f"{layer}: recurrent input of shape {shapes[0]} (need a fixed number of steps)")
    return int(shapes[0][0])


def loop_node(cls: str, name: str, source: str, cfg: dict, weights, act, layer: str, time_order: bool = False) -> Node:
    """The ``lstm`` or ``gru`` node of one direction of a recurrent layer."""
    steps = _steps(cfg, layer)
    units = int(cfg["units"])
    gates = 4 if cls == "LSTM" else 3
    after = cls == "GRU" and bool(cfg.get("reset_after", True))
    kernel, rec = _f32(weights[0]), _f32(weights[1])
    if cfg.get("use_bias", True):
        bias = _f32(weights[2])
    else:
        bias = np.zeros((2, gates * units) if after else gates * units, np.float32)
    cand, gate = act(cfg.get("activation", "tanh"), layer), act(cfg.get("recurrent_activation", "sigmoid"), layer)
    params = {"units": units, "steps": steps, "activation": cand[0], "activation_params": cand[1], "gate": gate[0],
              "gate_params": gate[1], "reverse": bool(cfg.get("go_backwards", False)),
              "return_sequences": bool(cfg.get("return_sequences", False)), "time_order": time_order}
    if cls == "GRU":
        params["reset_after"] = after
    return Node(name, cls.lower(), (source,), params, (kernel, rec, bias), layer)


def recurrent(cls: str):
    """Converter of an ``LSTM`` or ``GRU`` layer (``act``: activation name → (op, params))."""

    def convert(cfg, weights, out, inputs, layer, act):
        _steps(cfg, layer)
        return [loop_node(cls, out, inputs[0], cfg, weights, act, layer)]

    return convert


lstm, gru = recurrent("LSTM"), recurrent("GRU")

_MERGE = {"concat": "concatenate", "sum": "add", "ave": "average", "mul": "multiply"}


def bidirectional(cfg, weights, out, inputs, layer, act):
    """Bidirectional(LSTM | GRU): a forward and a backward loop merged (concat, sum, ave, mul)."""
    fwd = cfg["layer"]
    bwd = cfg.get("backward_layer") or {**fwd, "config": {**fwd["config"], "go_backwards": True}}
    if fwd["class_name"] not in RECURRENT or bwd["class_name"] not in RECURRENT:
        raise UnsupportedLayerError(f"{layer}: Bidirectional of {fwd['class_name']} (only LSTM, GRU)")
    merge = cfg.get("merge_mode", "concat")
    if merge not in _MERGE:
        raise UnsupportedLayerError(f"{layer}: Bidirectional with merge_mode {merge!r}")
    shapes = {"input_shapes": cfg.get("input_shapes")}
    n = 2 + bool(fwd["config"].get("use_bias", True))
    forward = loop_node(fwd["class_name"], f"{out}/forward", inputs[0], {**fwd["config"], **shapes}, weights[:n], act,
                        layer)
    backward = loop_node(bwd["class_name"], f"{out}/backward", inputs[0],
                         {**bwd["config"], **shapes, "go_backwards": True}, weights[n:], act, layer, time_order=True)
    merged = Node(out, _MERGE[merge], (forward.name, backward.name), {"axis": -1} if merge == "concat" else {}, (),
                  layer)
    return [forward, backward, merged]


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
