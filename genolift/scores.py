"""Hypothetical and contribution scores: the one copy of each formula (DESIGN §4).

For a one-hot input x (L, 4), references r_k and their multipliers m_k (L, 4):

    hyp_k[l, b] = m_k[l, b] − Σ_c r_k[l, c] · m_k[l, c]
    hyp[l, b]   = mean_k hyp_k[l, b]
    contrib     = hyp · x
    delta_k     = t(x) − t(r_k) − Σ_l Σ_b m_k[l, b] · (x − r_k)[l, b]

``hyp[l, b]`` is the contribution base b would have at position l.  The
functions of single pairs take an array module ``xp`` (numpy, or a backend
module of :mod:`genolift.engine.backends`) so the engine runs the same
formula on the device.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from .sequences import reverse_complement


def pair_hypothetical(multipliers, references, xp=np):
    """Hypothetical scores of single pairs.

    Parameters
    ----------
    multipliers : array (..., L, 4), float32 — m_k for each pair.
    references : array (..., L, 4), float32 — r_k for each pair.
    xp : numpy or a backend module.

    Returns
    -------
    array (..., L, 4) : m_k − Σ_c r_k·m_k, broadcast over the 4 bases.
    """
    return multipliers - xp.einsum("...c,...c->...", multipliers, references)[..., None]


def reference_sum(multipliers, references, weight, xp=np):
    """Σ_k weight_k · hyp_k over the reference axis: the numerator of the mean over references.

    Parameters
    ----------
    multipliers, references : arrays (..., K, L, 4), float32.
    weight : array (..., K), 1 for real pairs, 0 for padding.
    xp : numpy or a backend module.

    Returns
    -------
    array (..., L, 4).
    """
    hyp = pair_hypothetical(multipliers, references, xp) * weight[..., None, None]
    return xp.sum(hyp, axis=-3)


def reference_mean(summed: np.ndarray, k: int) -> np.ndarray:
    """hyp = mean_k hyp_k from Σ_k hyp_k (:func:`reference_sum`) over k references; shapes (..., L, 4)."""
    return summed / k


def pair_deltas(multipliers, x, references, target_difference, xp=np):
    """Summation-to-delta error of single pairs, t(x) − t(r_k) − Σ m_k·(x − r_k).

    Parameters
    ----------
    multipliers, x, references : arrays (..., L, 4) (x broadcasts against the pairs).
    target_difference : array (...), t(x) − t(r_k).
    xp : numpy or a backend module.

    Returns
    -------
    array (...).
    """
    moved = multipliers * (x - references)
    total = xp.sum(moved, axis=(-2, -1))
    return target_difference - total


def contributions(hypothetical: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Projected ("actual") contributions hyp · x, shape (N, L, 4) float32."""
    return (hypothetical * X).astype(np.float32)


def residuals(contributions: np.ndarray, predictions: np.ndarray, reference_predictions: np.ndarray) -> np.ndarray:
    """Summation-to-delta residual of the mean over references, per sequence.

    Σ_l Σ_b contributions − (t(x) − mean_k t(r_k)); shapes (n, L, 4), (n,), (n, K) → (n,).
    """
    return contributions.sum(axis=(1, 2)) - (predictions - reference_predictions.mean(axis=1))


Result = TypeVar("Result", bound=tuple)


def average_strands(forward: Result, reverse: Result) -> Result:
    """Mean of the two strands' results, the reverse one mapped back to forward coordinates.

    Parameters
    ----------
    forward, reverse : results with ``hypothetical`` (n, L, 4) first, then
        per-sequence arrays (predictions (n,), reference predictions and
        deltas (n, K)); ``reverse`` is of the reverse-complemented sequences.

    Summation-to-delta carries over: Σ mean(hyp)·x = mean of the two strands' Δt.
    """
    hyp = (forward.hypothetical + np.ascontiguousarray(reverse_complement(reverse.hypothetical))) / 2
    return type(forward)(hyp, *((f + r) / 2 for f, r in zip(forward[1:], reverse[1:])))
