"""Batched DeepLIFT over (sequence, reference) pairs.

The unit of work is a pair; a batch holds ``batch_size`` pairs whatever K is.
Per batch the device does: one recorded forward pass of the batch's distinct
sequences (shared by their references), one forward and one input-only
backward pass of the B references, and the hypothetical projection summed
over each sequence's references, so only (sequences, L, 4) comes back to the
host.  When every sequence shares one reference (a GC background) the roles
swap: the reference is recorded once per batch (one row) and the sequences
are taped.

Shapes are fixed per engine (padding the last batch), so each step function
is traced once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from ..model.graph import Graph
from ..scores import pair_hypothetical
from .network import Network
from .targets import select_target


class ChunkResult(NamedTuple):
    """Engine output for n sequences and K references each.

    Attributes
    ----------
    hypothetical : (n, L, 4) float32, mean over references of the pair scores.
    predictions : (n,) float32, target of each sequence t(x).
    reference_predictions : (n, K) float32, t(r_k).
    deltas : (n, K) float32, per-pair summation-to-delta error
        t(x) − t(r_k) − Σ m_k·(x − r_k) from the raw multipliers.
    """

    hypothetical: np.ndarray
    predictions: np.ndarray
    reference_predictions: np.ndarray
    deltas: np.ndarray


@dataclass
class _Step:
    fn: object
    batch: int
    others: int


def distinct_per_batch(batch: int, k: int) -> int:
    """Most distinct sequences a batch of ``batch`` consecutive pairs can touch."""
    if batch % k == 0:
        return batch // k
    return math.ceil((batch + k - 1) / k)


class Engine:
    """DeepLIFT for one model target.

    Parameters
    ----------
    graph : the model.
    output : output name or index (default the first).
    task : unit of that output.
    rule : DeepLIFT rule name.
    batch_size : pairs per device batch.
    """

    def __init__(self, graph: Graph, *, output=None, task: int = 0, rule: str = "rescale", batch_size: int = 128):
        self.target = select_target(graph, output, task)
        self.network = Network(graph, self.target, rule)
        self.length = graph.length
        self.batch_size = int(batch_size)
        self._steps: dict[tuple, _Step] = {}

    # -- compiled steps -------------------------------------------------
    def _make_step(self, taped_is_reference: bool, batch: int, others: int) -> _Step:
        net, L = self.network, self.length
        segments = others + 1 if taped_is_reference else batch

        @tf.function(
            input_signature=[
                tf.TensorSpec((batch, L, 4), tf.float32),
                tf.TensorSpec((others, L, 4), tf.float32),
                tf.TensorSpec((batch,), tf.int32),
                tf.TensorSpec((batch,), tf.int32),
            ],
            reduce_retracing=True,
            autograph=False,
        )
        def step(taped, other, index, segment):
            t_other, acts = net.record(other)
            with tf.GradientTape() as tape:
                tape.watch(taped)
                t_taped = net.pair_target(taped, acts, index)
            m = tape.gradient(t_taped, taped)
            other_rows = tf.gather(other, index)
            t_pair_other = tf.gather(t_other, index)
            if taped_is_reference:
                x, r, t_x, t_r = other_rows, taped, t_pair_other, t_taped
            else:
                x, r, t_x, t_r = taped, other_rows, t_taped, t_pair_other
            delta = (t_x - t_r) - tf.reduce_sum(m * (x - r), axis=[1, 2])
            hyp = pair_hypothetical(m, r, xp=tf)
            hyp_sum = tf.math.unsorted_segment_sum(hyp, segment, segments)
            return hyp_sum, t_x, t_r, delta

        return _Step(step, batch, others)

    def _step(self, taped_is_reference: bool, k: int) -> _Step:
        if taped_is_reference:
            key = (True, self.batch_size, distinct_per_batch(self.batch_size, k))
        else:
            key = (False, self.batch_size, 1)
        if key not in self._steps:
            self._steps[key] = self._make_step(*key)
        return self._steps[key]

    # -- public ---------------------------------------------------------
    def run(self, X: np.ndarray, references: np.ndarray) -> ChunkResult:
        """Attribute n sequences against their own references.

        Parameters
        ----------
        X : (n, L, 4) float32 one-hot sequences.
        references : (n, K, L, 4) float32, or (L, 4) for one reference shared
            by every sequence (K = 1).
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        if references.ndim == 2:
            return self._run_shared(X, np.asarray(references, dtype=np.float32))
        return self._run_paired(X, np.ascontiguousarray(references, dtype=np.float32))

    def _run_paired(self, X: np.ndarray, R: np.ndarray) -> ChunkResult:
        n, k = R.shape[:2]
        step = self._step(True, k)
        flat = R.reshape(n * k, self.length, 4)
        hyp = np.zeros((n, self.length, 4), np.float32)
        t_x = np.zeros(n * k, np.float32)
        t_r = np.zeros(n * k, np.float32)
        delta = np.zeros(n * k, np.float32)
        for p0 in range(0, n * k, step.batch):
            p1 = min(p0 + step.batch, n * k)
            pairs = np.arange(p0, p1)
            i0, i1 = p0 // k, (p1 - 1) // k + 1
            seq = (pairs // k - i0).astype(np.int32)
            taped = _pad_rows(flat[p0:p1], step.batch)
            other = _pad_rows(X[i0:i1], step.others)
            index = _pad_index(seq, step.batch, 0)
            segment = _pad_index(seq, step.batch, step.others)
            out = [o.numpy() for o in step.fn(taped, other, index, segment)]
            hyp[i0:i1] += out[0][: i1 - i0]
            t_x[p0:p1], t_r[p0:p1], delta[p0:p1] = (o[: p1 - p0] for o in out[1:])
        return ChunkResult(hyp / k, t_x[::k].copy(), t_r.reshape(n, k), delta.reshape(n, k))

    def _run_shared(self, X: np.ndarray, r: np.ndarray) -> ChunkResult:
        n = X.shape[0]
        step = self._step(False, 1)
        other = r[None]
        hyp = np.zeros((n, self.length, 4), np.float32)
        t_x, t_r, delta = (np.zeros(n, np.float32) for _ in range(3))
        for i0 in range(0, n, step.batch):
            i1 = min(i0 + step.batch, n)
            rows = np.arange(i1 - i0, dtype=np.int32)
            index = np.zeros(step.batch, np.int32)
            segment = _pad_index(rows, step.batch, step.batch - 1)
            out = [o.numpy() for o in step.fn(_pad_rows(X[i0:i1], step.batch), other, index, segment)]
            hyp[i0:i1] = out[0][: i1 - i0]
            t_x[i0:i1], t_r[i0:i1], delta[i0:i1] = (o[: i1 - i0] for o in out[1:])
        return ChunkResult(hyp, t_x, t_r[:, None], delta[:, None])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Target t(x) for X (n, L, 4); returns (n,) float32."""
        t, _ = self.network.record(tf.constant(X, tf.float32))
        return t.numpy()


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] == rows:
        return a
    out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def _pad_index(idx: np.ndarray, size: int, fill: int) -> np.ndarray:
    out = np.full(size, fill, dtype=np.int32)
    out[: idx.shape[0]] = idx
    return out
