"""Batched forward passes of the target: the engine's forward pass for the methods that need no gradient.

Occlusion and Shapley value sampling evaluate the target on many sequences
made from an input and its references (each row a blend of the two).  Rows
are built on the host a device batch at a time (:meth:`ForwardPass.stream`),
so memory stays flat in their number, and run through one compiled forward
step per batch shape (a short last batch takes a smaller traced shape, as
every step of the engine: :func:`~.batching.batch_rows`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .backends import Spec
from .batching import Dispatcher, batch_rows
from .compile import Step


def blend(x: np.ndarray, r: np.ndarray, take_x: np.ndarray) -> np.ndarray:
    """Rows (B, L, 4): x where ``take_x`` (B, L) is True, else r; x and r (L, 4), or (B, L, 4) each."""
    return np.where(take_x[..., None], x, r)


class ForwardPass:
    """Targets (M, T) of sequences (M, L, 4), in device batches of at most ``batch_size`` rows.

    Parameters
    ----------
    network : the :class:`~.network.Network` of the target (its ``point_target`` is what is evaluated).
    batch_size : rows per forward pass.
    dtype : host dtype of inputs and results.
    dispatcher : runs the steps (devices, start-up time).
    compile, key : how the steps are compiled and what identifies them (with the batch shape).
    weights : ``weights(device)``, the network's weights on a device.

    Attributes
    ----------
    steps : {rows: the forward :class:`~.compile.Step` of that batch shape}.
    """

    def __init__(self, network, batch_size: int, dtype, dispatcher: Dispatcher, compile: str = "auto", key=None,
                 weights=None):
        self.network, self.batch, self.dtype = network, int(batch_size), np.dtype(dtype)
        self.dispatcher, self.compile, self.key = dispatcher, compile, key
        self.weights = weights or (lambda device: network.consts)
        self.tasks = len(network.target.all_tasks)
        self.steps: dict[int, Step] = {}

    def step(self, rows: int) -> Step:
        """The traced forward step of (rows, L, 4) sequences → targets (rows, T)."""
        if rows not in self.steps:
            network, dt, xp = self.network, self.dtype.name, self.network.xp

            def targets(consts, x):
                return xp.cast(network.bind(consts).point_target(x), dt)

            self.steps[rows] = Step(targets, [Spec((rows, network.graph.length, 4), dt)], self.compile,
                                    None if self.key is None else (*self.key, rows), xp, self.weights)
        return self.steps[rows]

    def stream(self, n: int, build: Callable[[int, int], np.ndarray]) -> np.ndarray:
        """Targets (n, T) of rows 0..n−1, ``build(a, b)`` making rows [a, b) as (b − a, L, 4) when their batch runs.

        Batches go to every device before their results are read; at most one batch per device is
        built ahead, so memory does not grow with n.
        """
        out = np.zeros((n, self.tasks), self.dtype)
        starts = list(range(0, n, self.batch))
        group = len(self.dispatcher.devices or [None])
        for g0 in range(0, len(starts), group):
            jobs = []
            for a in starts[g0:g0 + group]:
                b = min(a + self.batch, n)
                rows = batch_rows(b - a, self.batch) if b - a < self.batch else self.batch
                block = np.zeros((rows, self.network.graph.length, 4), self.dtype)
                block[: b - a] = build(a, b)
                jobs.append(((a, b), self.step(rows), (block,)))
            for (a, b), (values,) in self.dispatcher.run(jobs):
                out[a:b] = values[: b - a]
        return out

    def targets(self, X: np.ndarray) -> np.ndarray:
        """Targets (M, T) of sequences X (M, L, 4)."""
        X = np.asarray(X, self.dtype)
        return self.stream(len(X), lambda a, b: X[a:b])
