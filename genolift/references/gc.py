"""Uniform GC background references."""

from __future__ import annotations

import numpy as np

from ..errors import ReferencesError
from ..sequences import ALPHABET

_GC_CHANNELS = slice(ALPHABET.index("C"), ALPHABET.index("G") + 1)


def gc_fraction(X: np.ndarray) -> float:
    """Fraction of G + C among the ACGT bases of one-hot sequences.

    Parameters
    ----------
    X : ndarray, shape (N, L, 4)
        One-hot sequences; all-zero (N) rows are ignored.

    Returns
    -------
    float
    """
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[-1] != 4:
        raise ReferencesError(f"expected one-hot sequences of shape (N, L, 4), got shape {X.shape}")
    total = float(X.sum(dtype=np.float64))
    if total <= 0:
        raise ReferencesError("cannot estimate GC content: the sequences hold no A, C, G or T; pass --gc")
    return float(X[..., _GC_CHANNELS].sum(dtype=np.float64)) / total


def _checked_gc(gc: float) -> float:
    """The GC fraction as a float strictly between 0 and 1."""
    try:
        g = float(gc)
    except (TypeError, ValueError):
        raise ReferencesError(f"GC fraction must be a number, got {gc!r}; pass e.g. --gc 0.41") from None
    if not 0.0 < g < 1.0:
        raise ReferencesError(f"GC fraction must lie strictly between 0 and 1, got {gc!r}; pass e.g. --gc 0.41")
    return g


def gc_background(X: np.ndarray, gc: float) -> np.ndarray:
    """Uniform GC background references.

    Parameters
    ----------
    X : ndarray, shape (N, L, 4)
        One-hot sequences; all-zero (N) rows give all-zero reference rows.
    gc : float
        GC fraction g, 0 < g < 1.

    Returns
    -------
    ndarray, shape (N, 1, L, 4), float32
        Each position is ``[(1 - g)/2, g/2, g/2, (1 - g)/2]`` (zeros at N).
    """
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise ReferencesError(f"expected one-hot sequences of shape (N, L, 4), got shape {X.shape}")
    g = _checked_gc(gc)
    row = np.array([(1 - g) / 2, g / 2, g / 2, (1 - g) / 2], dtype=np.float32)
    present = np.any(X != 0, axis=-1, keepdims=True)
    return np.where(present, row, np.float32(0)).astype(np.float32)[:, None]
