"""In-silico mutagenesis that recomputes only the receptive field of each substitution.

The network's *local prefix* — the chain of position-wise and windowed layers
starting at the input (Conv1D, elementwise activations, batch norm, identity,
max and valid average pooling, cropping, zero padding), each feeding only the
next — is evaluated once for the sequence.  For a substitution at position p
only a window of each prefix layer's output changes; it is recomputed from a
window of the cached input around p (interval arithmetic on kernel span,
stride and padding), patched into the cached activation at the end of the
prefix, and the rest of the network runs on the patched tensors.  The result
equals plain ISM up to float round-off (tested); models without such a prefix
fall back to plain batched forward passes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf

LOCAL = ("conv1d", "affine", "identity", "maxpool1d", "avgpool1d", "crop1d", "pad1d")


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


class FastMutagenesis:
    """Receptive-field ISM for one engine (its network, target and batch size)."""

    def __init__(self, engine):
        self.engine = engine
        self.network = engine.network
        self.chain = local_prefix(self.network)

    def _apply(self, node, windows: tf.Tensor) -> tf.Tensor:
        """Run a local layer in 'valid' mode on windows (M, W, C); the geometry already placed them."""
        if node.op in ("crop1d", "pad1d", "identity"):
            return windows
        fn, _ = self.network.entries[node.name]
        if node.op in ("conv1d", "maxpool1d", "avgpool1d"):
            node = dataclasses.replace(node, params={**node.params, "padding": "valid"})
        return fn(node, [windows], self.network.consts[node.name])

    def run(self, x: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Targets (M, T) of every substitution of x (L, 4) in [lo, hi) and their (position, base) (M, 2)."""
        from .ism import substitutions

        where = substitutions(x, lo, hi)
        dtype = self.network.dtype
        # the unmutated prefix, cached once
        values = self.network.evaluate({self.network.input: tf.constant(x[None], dtype)}, [n for n, _ in self.chain])
        start, stop = where[:, 0].copy(), where[:, 0] + 1
        changed = tf.constant(np.eye(4)[where[:, 1]][:, None], dtype)  # (M, 1, 4): the new base
        source = self.network.input
        for node, g in self.chain:
            changed, start, stop = self._step(node, g, values[source][0], changed, start, stop)
            source = node.name
        return self._finish(source, values, changed, start, stop), where

    def _step(self, node, g: Geometry, original: tf.Tensor, changed, start, stop):
        first, last = affected(g, start, stop)
        height = int((last - first).max()) if len(first) else 0
        if height == 0:  # the substitutions no longer show (e.g. cropped away)
            return changed[:, :0], first, first
        width = (height - 1) * g.stride + g.span
        begin = first * g.stride - g.left  # window start in input coordinates (may be < 0)
        margin_lo = int(max(0, -begin.min()))
        margin_hi = int(max(0, (begin + width).max() - g.length_in))
        padded = tf.pad(original, [[margin_lo, margin_hi], [0, 0]], constant_values=g.fill)
        rows = (begin + margin_lo)[:, None] + np.arange(width)[None]
        windows = tf.gather(padded, rows)  # (M, width, C)
        # write each mutant's changed input slice into its window
        offsets = (start - begin)[:, None] + np.arange(changed.shape[1])[None]
        valid = (np.arange(changed.shape[1])[None] < (stop - start)[:, None]) & (offsets < width)
        m_idx, k_idx = np.nonzero(valid)
        windows = tf.tensor_scatter_nd_update(windows, np.stack([m_idx, offsets[m_idx, k_idx]], axis=1),
                                              tf.gather_nd(changed, np.stack([m_idx, k_idx], 1)))
        out = self._apply(node, windows)[:, :height]
        return out, first, last

    def _finish(self, source: str, values: dict, changed, start, stop) -> np.ndarray:
        """Patch the changed slices into the prefix's last activation and run the rest of the network."""
        original = values[source][0]
        length = original.shape[0]
        targets = []
        for b0 in range(0, changed.shape[0], self.engine.batch_size):
            sl = slice(b0, b0 + self.engine.batch_size)
            full = tf.repeat(original[None], len(start[sl]), axis=0)
            k = np.arange(changed.shape[1])[None]
            pos = start[sl][:, None] + k
            ok = (pos < np.minimum(stop[sl], length)[:, None])
            m_idx, k_idx = np.nonzero(ok)
            full = tf.tensor_scatter_nd_update(full, np.stack([m_idx, pos[m_idx, k_idx]], 1),
                                               tf.gather_nd(changed[sl], np.stack([m_idx, k_idx], 1)))
            targets.append(tf.cast(self.network.target_from(source, full), tf.float64).numpy())
        return np.concatenate(targets) if targets else np.zeros((0, len(self.network.target.all_tasks)))
