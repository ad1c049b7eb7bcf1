"""Exact number of dinucleotide shuffles (BEST theorem) and sequences with no other shuffle."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ReferencesError
from ..sequences import ALPHABET, decode_one_hot


def _det(M: list[list[int]]) -> int:
    """Exact determinant of a small integer matrix (cofactor expansion)."""
    if not M:
        return 1
    if len(M) == 1:
        return M[0][0]
    total = 0
    for j, a in enumerate(M[0]):
        if a:
            minor = [row[:j] + row[j + 1:] for row in M[1:]]
            total += (-1) ** j * a * _det(minor)
    return total


def _count_segment(seg: str) -> int:
    """Number of distinct ACGT strings with ``seg``'s dinucleotide counts and ends."""
    if len(seg) <= 2:
        return 1
    idx = {c: i for i, c in enumerate(ALPHABET)}
    n = [[0] * len(ALPHABET) for _ in ALPHABET]
    for a, b in zip(seg, seg[1:]):
        n[idx[a]][idx[b]] += 1
    d = [sum(row) for row in n]
    root = idx[seg[-1]]
    others = sorted({idx[c] for c in seg} - {root})
    # Reduced out-degree Laplacian (self-loops cancel on the diagonal).
    lap = [[(d[v] - n[v][v]) if v == w else -n[v][w] for w in others] for v in others]
    tau = _det(lap)
    labeled = tau * math.factorial(d[root])
    for v in others:
        labeled *= math.factorial(d[v] - 1)
    same = math.prod(math.factorial(c) for row in n for c in row)
    count, rest = divmod(labeled, same)
    assert rest == 0, "BEST theorem count is not divisible; this is a bug"
    return count


def count_dinucleotide_shuffles(seq: str) -> int:
    """Exact number of distinct dinucleotide shuffles of a DNA string.

    Parameters
    ----------
    seq : str
        DNA; case is ignored and any letter other than A, C, G, T is an N that
        stays in place (segments between Ns are counted separately).

    Returns
    -------
    int
        Number of distinct sequences (the input included) with the same
        dinucleotide counts, first and last base of every ACGT segment, by the
        BEST / matrix-tree theorem in exact integer arithmetic; 1 for
        sequences of length <= 2.
    """
    if not isinstance(seq, str):
        raise ReferencesError(f"expected a DNA string, got {type(seq).__name__}")
    cleaned = "".join(c if c in ALPHABET else "N" for c in seq.upper())
    return math.prod(_count_segment(part) for part in cleaned.split("N") if part)


def degenerate_rows(X: np.ndarray, shuffles: np.ndarray) -> np.ndarray:
    """Which sequences have a single valid dinucleotide shuffle (themselves).

    Parameters
    ----------
    X : ndarray, shape (N, L, 4)
        One-hot sequences.
    shuffles : ndarray, shape (N, k, L, 4)
        Their shuffles, from :func:`~genolift.references.dinucleotide_shuffle`.

    Returns
    -------
    ndarray, shape (N,), bool
        True where the sequence has exactly one valid shuffle, so every
        contribution against its shuffles is zero.  Only rows whose k
        shuffles all equal the input are counted exactly.
    """
    X = np.asarray(X)
    shuffles = np.asarray(shuffles)
    if X.ndim != 3 or shuffles.ndim != 4 or shuffles.shape[0] != X.shape[0] \
            or shuffles.shape[2:] != X.shape[1:]:
        raise ReferencesError(
            f"expected X of shape (N, L, 4) and shuffles of shape (N, k, L, 4), got {X.shape} and {shuffles.shape}")
    same = np.all(shuffles == X[:, None], axis=(1, 2, 3))
    result = np.zeros(X.shape[0], dtype=bool)
    for i in np.flatnonzero(same):
        result[i] = count_dinucleotide_shuffles(decode_one_hot(X[i])) == 1
    return result
