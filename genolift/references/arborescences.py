"""Last-exit arborescences of the dinucleotide shuffle: enumeration, weights and exact draws.

With at most four letters, every spanning arborescence over a subset of the
letters is one of 125 parent maps (the forest table), so the arborescences of
a segment are enumerated and one is drawn exactly, with no rejection.
"""

from __future__ import annotations

import numpy as np

from ..sequences import ALPHABET

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


def arborescence_weights(counts: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Weight of every candidate last-exit arborescence of every segment.

    Parameters
    ----------
    counts : ndarray, shape (S, 4, 4), int64
        Dinucleotide counts per segment.
    root : ndarray, shape (S,), intp
        Last letter of each segment.

    Returns
    -------
    ndarray, shape (S, F), int64
        For each row f of the forest table, the number of labeled spanning
        arborescences into the root that use the parents ``f`` (product of
        edge multiplicities), 0 when ``f`` is not an arborescence of the
        segment.  Rows sum to tau, the matrix-tree count (>= 1).
    """
    d = counts.sum(axis=2)
    inner = (d > 0) & (_LETTERS[None, :] != root[:, None])          # (S, 4) need a parent
    F, ends = FORESTS[None], FOREST_ROOTS[None]
    own = F == _LETTERS                                              # (1, F, 4)
    ok = np.where(inner[:, None, :], ~own & (ends == root[:, None, None]), own)
    mult = counts[:, _LETTERS, FORESTS]                              # (S, F, 4) n[v, f(v)]
    mult = np.where(inner[:, None, :], mult, 1)
    return np.where(ok.all(axis=2), mult.prod(axis=2), 0)


def draw_parents(weights: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Exact categorical draw of arborescences.

    Parameters
    ----------
    weights : ndarray, shape (S, F), int64
        From :func:`arborescence_weights`.
    draws : ndarray, shape (S, k), int64
        Uniform integers in ``[0, weights[s].sum())``.

    Returns
    -------
    ndarray, shape (S, k, 4), intp : parent letter of each letter per shuffle.
    """
    cum = np.cumsum(weights, axis=1)
    choice = np.zeros(draws.shape, dtype=np.intp)
    for f in range(cum.shape[1]):
        choice += cum[:, f, None] <= draws
    return FORESTS[choice]
