"""Hypothetical and contribution scores: the one copy of each formula (DESIGN §4).

For a one-hot input x (L, 4), references r_k and their multipliers m_k (L, 4):

    hyp_k[l, b] = m_k[l, b] − Σ_c r_k[l, c] · m_k[l, c]
    hyp[l, b]   = mean_k hyp_k[l, b]
    contrib     = hyp · x

``hyp[l, b]`` is the contribution base b would have at position l.  The
functions take an array module ``xp`` (numpy or tensorflow) so the engine can
run the same formula on the device.
"""

from __future__ import annotations

import numpy as np


def pair_hypothetical(multipliers, references, xp=np):
    """Hypothetical scores of single pairs.

    Parameters
    ----------
    multipliers : array (..., L, 4), float32 — m_k for each pair.
    references : array (..., L, 4), float32 — r_k for each pair.
    xp : numpy or tensorflow.

    Returns
    -------
    array (..., L, 4) : m_k − Σ_c r_k·m_k, broadcast over the 4 bases.
    """
    return multipliers - xp.einsum("...c,...c->...", multipliers, references)[..., None]


def contributions(hypothetical: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Projected ("actual") contributions hyp · x, shape (N, L, 4) float32."""
    return (hypothetical * X).astype(np.float32)


def residuals(contributions: np.ndarray, predictions: np.ndarray, reference_predictions: np.ndarray) -> np.ndarray:
    """Summation-to-delta residual of the mean over references, per sequence.

    Σ_l Σ_b contributions − (t(x) − mean_k t(r_k)); shapes (n, L, 4), (n,), (n, K) → (n,).
    """
    return contributions.sum(axis=(1, 2)) - (predictions - reference_predictions.mean(axis=1))
