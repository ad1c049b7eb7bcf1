"""Last-exit arborescences of the dinucleotide shuffle: enumeration, weights and exact draws.

With at most four letters, every spanning arborescence over a subset of the
letters is one of 125 parent maps (the forest table), so the arborescences of
a segment are enumerated and one is drawn exactly, with no rejection.  The
weights and draws are numba kernels, imported only when shuffling (through
:mod:`.walk`), so that importing the package does not load numba.
"""

from __future__ import annotations

import numpy as np

from ..sequences import ALPHABET
from .jit import kernel

_LETTERS = np.arange(len(ALPHABET))


def _forest_table() -> np.ndarray:
    """All maps f: {0..3} -> {0..3} whose only cycles are fixed points.

    Returns
    -------
    ndarray, shape (125, 4), intp : row f gives the parent of each letter
    (a letter that is its own parent has none).  Every spanning
    arborescence over a subset of letters is one such row.
    """
    grid = np.stack(np.meshgrid(*[_LETTERS] * 4, indexing="ij"), -1).reshape(-1, 4)
    rows = np.arange(len(grid))[:, None]
    f4 = grid
    for _ in range(2):  # f^4 = (f^2)^2
        f4 = f4[rows, f4]
    acyclic = np.all(grid[rows, f4] == f4, axis=1)  # f^4 lands on fixed points
    return grid[acyclic].astype(np.intp)


def _forest_roots(forests: np.ndarray) -> np.ndarray:
    """f^4 of each forest (F, 4): where each letter ends when following parents."""
    rows = np.arange(len(forests))[:, None]
    roots = forests[rows, forests]
    return roots[rows, roots]


FORESTS = _forest_table()
FORESTS.setflags(write=False)
FOREST_ROOTS = _forest_roots(FORESTS)
FOREST_ROOTS.setflags(write=False)


@kernel
def segment_weights(counts: np.ndarray, root: int, weights: np.ndarray) -> int:
    """Weight of every candidate last-exit arborescence of one segment.

    Parameters
    ----------
    counts : ndarray, shape (4, 4), int64
        Dinucleotide counts ``n[v, w]`` of the segment.
    root : int
        Last letter of the segment.
    weights : ndarray, shape (F,), int64
        Filled: for each row f of the forest table, the number of labeled
        spanning arborescences into the root that use the parents ``f``
        (product of the edge multiplicities ``n[v, f(v)]`` over the letters
        that need a parent), 0 when ``f`` is not an arborescence of the
        segment.

    Returns
    -------
    int : tau, the sum of the weights (the matrix-tree count, >= 1).
    """
    tau = 0
    for f in range(FORESTS.shape[0]):
        w = 1
        for v in range(4):
            p = FORESTS[f, v]
            inner = v != root and counts[v, 0] + counts[v, 1] + counts[v, 2] + counts[v, 3] > 0
            if not inner:
                ok = p == v
            else:
                ok = p != v and FOREST_ROOTS[f, v] == root
                w *= counts[v, p]
            if not ok:
                w = 0
                break
        weights[f] = w
        tau += w
    return tau


@kernel
def pick_forest(weights: np.ndarray, draw: int) -> int:
    """Exact categorical draw: the row f of the forest table with ``cum[f-1] <= draw < cum[f]``.

    Parameters
    ----------
    weights : ndarray, shape (F,), int64
        From :func:`segment_weights`.
    draw : int
        Uniform integer in ``[0, weights.sum())``.
    """
    acc = 0
    for f in range(weights.shape[0]):
        acc += weights[f]
        if acc > draw:
            return f
    return weights.shape[0] - 1


@kernel
def segment_taus(counts: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Number of labeled last-exit arborescences of every segment.

    Parameters
    ----------
    counts : ndarray, shape (S, 4, 4), int64
        Dinucleotide counts per segment.
    root : ndarray, shape (S,), int64
        Last letter of each segment.

    Returns
    -------
    ndarray, shape (S,), int64 : tau per segment (>= 1).
    """
    weights = np.empty(FORESTS.shape[0], dtype=np.int64)
    tau = np.empty(counts.shape[0], dtype=np.int64)
    for s in range(counts.shape[0]):
        tau[s] = segment_weights(counts[s], root[s], weights)
    return tau
