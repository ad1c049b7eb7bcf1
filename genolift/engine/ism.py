"""In-silico mutagenesis: the change of the target for every single-base substitution.

``ism[l, b] = t(x with base b at l) − t(x)``; the observed base's own entry is
0 (an N position gets all four).  Every position of a ``window`` (default the
whole sequence) is mutated.  When the model starts with a chain of local layers
(convolutions, activations, pooling...), only each substitution's receptive
field is recomputed through that chain (:mod:`.fast_ism`, 5-9x faster on a
Basset-like model of length 1000); otherwise mutants run as batched forward
passes.  Either way the result is exact up to float round-off: this is the
brute-force ground truth the attribution rules are compared against.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


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


#: Below this input length plain batched forward passes are faster than windowed recomputation.
FAST_MIN_LENGTH = 256


class Mutagenesis:
    """Batched ISM for an engine's network and target (every task of it).

    ``fast``: None picks receptive-field recomputation for long inputs with a
    local prefix; True / False force it on or off.
    """

    def __init__(self, engine, fast: bool | None = None):
        from .fast_ism import FastMutagenesis

        self.engine = engine
        self.fast = FastMutagenesis(engine)
        if fast is None:
            fast = bool(self.fast.chain) and engine.length >= FAST_MIN_LENGTH
        self.use_fast = fast and bool(self.fast.chain)
        self.batch = engine.batch_size
        dtype = tf.as_dtype(engine.dtype)
        network = engine.network

        @tf.function(input_signature=[tf.TensorSpec((self.batch, engine.length, 4), dtype)], autograph=False)
        def targets(x):
            return tf.cast(network.record(x)[0], dtype)

        self.targets = targets

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        out = []
        for i0 in range(0, len(X), self.batch):
            block = np.zeros((self.batch, *X.shape[1:]), self.engine.dtype)
            block[: min(self.batch, len(X) - i0)] = X[i0:i0 + self.batch]
            out.append(self.targets(block).numpy()[: min(self.batch, len(X) - i0)])
        return np.concatenate(out) if out else np.zeros((0, len(self.engine.target.all_tasks)))

    def run(self, X: np.ndarray, window: tuple[int, int] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per task: (ism (n, L, 4), predictions (n,)) for X (n, L, 4)."""
        X = np.asarray(X, self.engine.dtype)
        lo, hi = window or (0, X.shape[1])
        base = self._evaluate(X)  # (n, T)
        scores = np.zeros((base.shape[1], *X.shape), self.engine.dtype)
        for i, x in enumerate(X):
            if self.use_fast:
                targets, where = self.fast.run(x, lo, hi)
            else:
                batch, where = mutants(x, lo, hi)
                targets = self._evaluate(batch) if len(where) else None
            if len(where):
                scores[:, i, where[:, 0], where[:, 1]] = (targets.astype(scores.dtype) - base[i]).T
        return [(scores[t], base[:, t]) for t in range(base.shape[1])]
