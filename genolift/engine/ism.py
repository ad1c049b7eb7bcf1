"""In-silico mutagenesis: the change of the target for every single-base substitution.

``ism[l, b] = t(x with base b at l) − t(x)``; the observed base's own entry is
0 (an N position gets all four).  Every position of a ``window`` (default the
whole sequence) is mutated.  Mutants run as batched forward passes, or, when
the model starts with a chain of local layers and the input is long, only each
substitution's receptive field is recomputed through that chain (5-9x faster
on a Basset-like model of length 1000).  Either way the result is exact up to
float round-off: this is the brute-force ground truth the attribution rules
are compared against.

Receptive-field recomputation: the network's *local prefix* — the chain of
position-wise and windowed layers starting at the input (Conv1D, elementwise
activations, batch norm, identity, max and valid average pooling, cropping,
zero padding), each feeding only the next — is evaluated once for the
sequence.  For a substitution at position p only a window of each prefix
layer's output changes; it is recomputed from a window of the cached input
around p (interval arithmetic on kernel span, stride and padding), patched
into the cached activation at the end of the prefix, and the rest of the
network runs on the patched tensors.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np

from .backends import Spec
from .batching import Dispatcher, pad_rows, row_blocks
from .compile import Step

LOCAL = ("conv1d", "affine", "identity", "maxpool1d", "avgpool1d", "crop1d", "pad1d")

#: Below this input length plain batched forward passes are faster than windowed recomputation.
FAST_MIN_LENGTH = 256


def substitutions(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """(M, 2) int: (position, base) of every single-base substitution of x (L, 4) in [lo, hi)."""
    return np.array([(l, b) for l in range(lo, hi) for b in range(4) if x[l, b] != 1], dtype=np.int64).reshape(-1, 2)


def mutants(x: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """All single-base substitutions of x (L, 4) in positions [lo, hi).

    Returns
    -------
    batch : (M, L, 4) mutated sequences.
    where : (M, 2) int, (position, base) of each.
    """
    where = substitutions(x, lo, hi)
    batch = np.repeat(x[None], len(where), axis=0)
    rows = np.arange(len(where))
    batch[rows, where[:, 0]] = 0
    batch[rows, where[:, 0], where[:, 1]] = 1
    return batch, where


class Geometry(NamedTuple):
    """Output o of a layer reads inputs [o·stride − left, o·stride − left + span)."""

    span: int
    stride: int
    left: int
    length_in: int
    length_out: int
    fill: float  # value of positions outside the input (0, or −inf for max pooling)


def _geometry(node, length: int) -> Geometry | None:
    p = node.params
    if node.op == "conv1d":
        span, stride = p["dilation"] * (node.weights[0].shape[0] - 1) + 1, p["strides"]
        return _windowed(span, stride, p["padding"], length, 0.0)
    if node.op in ("maxpool1d", "avgpool1d"):
        if node.op == "avgpool1d" and p["padding"] != "valid":
            return None  # 'same' averages exclude padding: not a fixed window
        return _windowed(p["pool"], p["strides"], p["padding"], length, -np.inf if node.op == "maxpool1d" else 0.0)
    if node.op == "crop1d":
        a, b = p["cropping"]
        return Geometry(1, 1, -a, length, length - a - b, 0.0)
    if node.op == "pad1d":
        a, b = p["padding"]
        return Geometry(1, 1, a, length, length + a + b, 0.0)
    if node.op == "affine" and p.get("axis", -1) not in (-1, 2):
        return None
    return Geometry(1, 1, 0, length, length, 0.0)


def _windowed(span: int, stride: int, padding: str, length: int, fill: float) -> Geometry:
    if padding == "valid":
        return Geometry(span, stride, 0, length, (length - span) // stride + 1, fill)
    if padding == "causal":
        return Geometry(span, stride, span - 1, length, (length - 1) // stride + 1, fill)
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + span - length, 0)
    return Geometry(span, stride, total // 2, length, out, fill)


def local_prefix(network) -> list[tuple[object, Geometry]]:
    """The chain of local layers from the sequence input, with their geometry (may be empty)."""
    graph, consumers = network.graph, network.graph.consumers()
    kept = {n.name for n in network.nodes}
    chain, name, length = [], network.input, network.graph.length
    while True:
        nexts = [c for c in consumers[name] if c in kept]
        if len(nexts) != 1:
            return chain
        node = graph.node(nexts[0])
        local = node.op in LOCAL or network.entries[node.name][1] == "elementwise"
        geometry = _geometry(node, length) if local and len(node.inputs) == 1 else None
        if geometry is None or len([c for c in consumers[node.name] if c in kept]) != 1:
            return chain
        chain.append((node, geometry))
        name, length = node.name, geometry.length_out


def affected(geometry: Geometry, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output ranges [lo', hi') changed when the input changed on [lo, hi) (arrays, one per mutant)."""
    g = geometry
    first = np.maximum(-((g.span - 1 - lo - g.left) // g.stride), 0)  # ceil((lo + left − span + 1) / stride)
    last = np.minimum((hi - 1 + g.left) // g.stride + 1, g.length_out)
    last = np.where(hi > lo, np.maximum(last, first), first)  # nothing changed stays nothing
    return first, last


class Mutagenesis:
    """Batched ISM of a network's target (every task of it).

    Parameters
    ----------
    network : the :class:`~genolift.engine.network.Network` of the target.
    batch_size : mutants per forward pass.
    dtype : host dtype of inputs and results (float32, or float64).
    dispatcher : runs the traced forward passes (its devices and start-up time);
        a new one on the backend's default device when None.
    fast : receptive-field recomputation on (True, where the model has a local
        prefix), off (False), or for inputs of :data:`FAST_MIN_LENGTH` or more (None).
    compile, key : how the forward steps are compiled, and what identifies them with the batch shape
        (:class:`~genolift.engine.compile.Step`).
    weights : ``weights(device)``, the network's weights on a device (default: the network's own).

    Attributes
    ----------
    steps : {rows: the forward :class:`~genolift.engine.compile.Step` of that batch shape}.
    """

    def __init__(self, network, batch_size: int, dtype=np.float32, dispatcher: Dispatcher | None = None,
                 fast: bool | None = None, compile: str = "auto", key: tuple | None = None, weights=None):
        self.network, self.batch, self.dtype = network, int(batch_size), np.dtype(dtype)
        self.xp = network.xp
        self.dispatcher = dispatcher or Dispatcher(None, network.xp)
        self.weights = weights or (lambda device: network.consts)
        self.chain = local_prefix(network)
        if fast is None:
            fast = network.graph.length >= FAST_MIN_LENGTH
        self.use_fast = bool(fast) and bool(self.chain)
        self.compile, self.key = compile, key
        self.steps: dict[int, Step] = {}

    def _forward_step(self, rows: int):
        """Traced targets (rows, T) of (rows, L, 4) sequences, one per batch shape."""
        if rows not in self.steps:
            network, dt, xp = self.network, self.dtype.name, self.xp

            def targets(consts, x):
                return xp.cast(network.bind(consts).point_target(x), dt)

            self.steps[rows] = Step(targets, [Spec((rows, network.graph.length, 4), dt)], self.compile,
                                    None if self.key is None else (*self.key, rows), xp, self.weights)
        return self.steps[rows]

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        """Targets (M, T) of sequences X (M, L, 4), in batches of the batch size (short ones padded)."""
        jobs = [((i0, i1), self._forward_step(rows), (pad_rows(X[i0:i1], rows),))
                for i0, i1, rows in row_blocks(len(X), self.batch)]
        out = [values[: i1 - i0] for (i0, i1), (values,) in self.dispatcher.run(jobs)]
        return np.concatenate(out) if out else np.zeros((0, len(self.network.target.all_tasks)), self.dtype)

    def run(self, X: np.ndarray, window: tuple[int, int] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per task: (ism (n, L, 4), predictions (n,)) for X (n, L, 4), mutating positions [window)."""
        X = np.asarray(X, self.dtype)
        lo, hi = window or (0, X.shape[1])
        base = self._evaluate(X)  # (n, T)
        scores = np.zeros((base.shape[1], *X.shape), self.dtype)
        for i, x in enumerate(X):
            if self.use_fast:
                with self.dispatcher.placed():
                    targets, where = self._receptive_field(x, lo, hi)
            else:
                batch, where = mutants(x, lo, hi)
                targets = self._evaluate(batch)
            if len(where):
                scores[:, i, where[:, 0], where[:, 1]] = (targets.astype(self.dtype) - base[i]).T
        return [(scores[t], base[:, t]) for t in range(base.shape[1])]

    # -- receptive-field recomputation ----------------------------------
    def _receptive_field(self, x: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Targets (M, T) of every substitution of x (L, 4) in [lo, hi) and their (position, base) (M, 2)."""
        where = substitutions(x, lo, hi)
        network, xp = self.network.bind(self.weights(None)), self.xp
        # the unmutated prefix, cached once
        start_values = {network.input: xp.put(x[None], network.device, network.dtype)}
        values = network.evaluate(start_values, [n for n, _ in self.chain])
        start, stop = where[:, 0].copy(), where[:, 0] + 1
        changed = xp.put(np.eye(4)[where[:, 1]][:, None], network.device, network.dtype)  # (M, 1, 4): the new base
        source = network.input
        for node, g in self.chain:
            changed, start, stop = self._window_step(network, node, g, values[source][0], changed, start, stop)
            source = node.name
        return self._patched_targets(network, source, values[source][0], changed, start, stop), where

    def _apply(self, network, node, windows):
        """Run a local layer in 'valid' mode on windows (M, W, C); the geometry already placed them."""
        if node.op in ("crop1d", "pad1d", "identity"):
            return windows
        fn, _ = network.entries[node.name]
        if node.op in ("conv1d", "maxpool1d", "avgpool1d"):
            node = dataclasses.replace(node, params={**node.params, "padding": "valid"})
        return fn(self.xp, node, [windows], network.consts[node.name])

    def _window_step(self, network, node, g: Geometry, original, changed, start, stop):
        """The changed slices (M, H, C) of ``node``'s output and their ranges [start, stop) there.

        Each mutant's window of the layer's input is gathered in one take from
        the rows of ``original`` (P, C), padded with the layer's fill value,
        followed by the rows of ``changed`` (M, K, C): the changed rows where
        the mutant changed its input, the original ones elsewhere.
        """
        xp = self.xp
        first, last = affected(g, start, stop)
        height = int((last - first).max()) if len(first) else 0
        if height == 0:  # the substitutions no longer show (e.g. cropped away)
            return changed[:, :0], first, first
        width = (height - 1) * g.stride + g.span
        begin = first * g.stride - g.left  # window start in input coordinates (may be < 0)
        margin_lo = int(max(0, -begin.min()))
        margin_hi = int(max(0, (begin + width).max() - g.length_in))
        padded = xp.pad(original, [(margin_lo, margin_hi), (0, 0)], g.fill)
        rows = (begin + margin_lo)[:, None] + np.arange(width)[None]  # (M, width) into padded
        k = xp.shape(changed)[1]
        offsets = np.arange(width)[None] - (start - begin)[:, None]  # index into each mutant's changed rows
        from_changed = (offsets >= 0) & (offsets < np.minimum(stop - start, k)[:, None])
        changed_rows = xp.shape(padded)[0] + np.arange(len(first))[:, None] * k + np.clip(offsets, 0, max(k - 1, 0))
        index = np.where(from_changed, changed_rows, rows)
        table = xp.concat([padded, xp.reshape(changed, [-1, xp.shape(changed)[2]])], axis=0)
        windows = xp.take(table, index, axis=0)  # (M, width, C)
        out = self._apply(network, node, windows)[:, :height]
        return out, first, last

    def _patched_targets(self, network, source: str, original, changed, start, stop) -> np.ndarray:
        """Patch the changed slices into the prefix's last activation (P, C) and run the rest of the network."""
        xp = self.xp
        length, k = xp.shape(original)[0], xp.shape(changed)[1]
        targets = []
        for i0, i1, _ in row_blocks(xp.shape(changed)[0], self.batch):  # eager: no padding needed
            offsets = np.arange(length)[None] - start[i0:i1, None]
            covered = (offsets >= 0) & (offsets < np.minimum(stop[i0:i1] - start[i0:i1], k)[:, None])
            index = np.where(covered, length + np.arange(i1 - i0)[:, None] * k + np.clip(offsets, 0, max(k - 1, 0)),
                             np.arange(length)[None])
            table = xp.concat([original, xp.reshape(changed[i0:i1], [-1, xp.shape(changed)[2]])], axis=0)
            full = xp.take(table, index, axis=0)  # (m, P, C)
            targets.append(xp.to_numpy(xp.cast(network.target_from(source, full), "float64")))
        return np.concatenate(targets) if targets else np.zeros((0, len(network.target.all_tasks)))
