"""Result types of the engine."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


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
