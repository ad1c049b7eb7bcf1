"""The variant scores QTL and GWAS users rank by, from a model's plain outputs on the two allele windows.

The definitions are those of kundajelab's variant-scorer (its ``variant_scoring.py``
and ``utils/helpers.py``), restated here for genolift's arrays:

- predicted counts of an allele: ``exp`` of the log-counts head (summed over its units
  when it has several, e.g. two strands);
- ``logfc = log2(allele2_pred_counts / allele1_pred_counts)``, ``abs_logfc = |logfc|``;
- ``jsd``: the Jensen-Shannon *distance* (square root of the divergence), base 2,
  between the two alleles' profile probabilities, each the softmax of the profile
  head's logits, mean-normalised, positions and strands flattened together; for an
  indel (REF and ALT of different lengths) the two profiles are first realigned as
  variant-scorer's ``adjust_indel_jsd`` does (:func:`realigned_js_distance`), the
  plain distance kept as ``original_jsd``;
- ``logfc_x_jsd``, ``abs_logfc_x_jsd``;
- with peaks, an allele's quantile is ``max(fraction of the peaks' predicted counts
  strictly below the allele's, 1 / number of peaks)``; ``active_allele_quantile`` is
  the larger of the two, ``quantile_change`` = allele2 − allele1, and the products
  of ``logfc``, ``abs_logfc``, ``jsd``, ``logfc_x_jsd``, ``abs_logfc_x_jsd`` with it;
- empirical p-values against a pooled null of the same scores (:func:`empirical_pvalues`),
  with the tail variant-scorer uses for each score (:data:`TAILS`).

Models with neither a profile nor a log-counts head (:mod:`.heads`) get the scores
that apply to the explained output unit: its value for each allele (``allele1_pred``,
``allele2_pred``), ``diff`` = allele2 − allele1 and ``abs_diff``.  A log-counts head
without a profile head gets the counts scores (``logfc`` ...) and no ``jsd``.

Arrays: n variants; base values are float64 (n,) or (n, m) for a null of m per variant.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import _constants as C

#: The tail of each score's p-value: right for magnitudes, both for signed scores (as variant-scorer).
TAILS = {
    C.LOGFC: "both", C.ABS_LOGFC: "right", C.JSD: "right", C.LOGFC_X_JSD: "both", C.ABS_LOGFC_X_JSD: "right",
    C.ACTIVE_ALLELE_QUANTILE: "right", C.QUANTILE_CHANGE: "both", C.ABS_QUANTILE_CHANGE: "right",
    "logfc_x_active_allele_quantile": "both", "abs_logfc_x_active_allele_quantile": "right",
    "jsd_x_active_allele_quantile": "right", "logfc_x_jsd_x_active_allele_quantile": "both",
    "abs_logfc_x_jsd_x_active_allele_quantile": "right",
    C.DIFF: "both", C.ABS_DIFF: "right",
}

#: Scores multiplied by the active allele's quantile, in variant-scorer's column order.
_BY_QUANTILE = (C.LOGFC, C.ABS_LOGFC, C.JSD, C.LOGFC_X_JSD, C.ABS_LOGFC_X_JSD)

#: Every score column, in the order of variant-scorer's table; p-values follow their block.
_BLOCKS = (
    (C.ALLELE1_PRED, C.ALLELE2_PRED, C.DIFF, C.ABS_DIFF,
     C.ALLELE1_PRED_COUNTS, C.ALLELE2_PRED_COUNTS, C.LOGFC, C.ABS_LOGFC, C.JSD, C.ORIGINAL_JSD, C.LOGFC_X_JSD,
     C.ABS_LOGFC_X_JSD),
    (C.ALLELE1_QUANTILE, C.ALLELE2_QUANTILE, C.ACTIVE_ALLELE_QUANTILE, C.QUANTILE_CHANGE, C.ABS_QUANTILE_CHANGE,
     *(f"{name}_x_{C.ACTIVE_ALLELE_QUANTILE}" for name in _BY_QUANTILE)),
)

#: The scores variant-scorer averages over folds (``.mean`` columns), in its order.
FOLD_MEANS = (C.LOGFC, C.ABS_LOGFC, C.JSD, C.LOGFC_X_JSD, C.ABS_LOGFC_X_JSD, C.ACTIVE_ALLELE_QUANTILE,
              *(f"{name}_x_{C.ACTIVE_ALLELE_QUANTILE}" for name in _BY_QUANTILE), C.QUANTILE_CHANGE,
              C.ABS_QUANTILE_CHANGE, C.DIFF, C.ABS_DIFF)

#: All score names, in table order.
SCORE_COLUMNS = tuple(name for block in _BLOCKS for name in block)


def table_columns(scores, pvalues: bool) -> list[str]:
    """The table's score columns among ``scores`` (names), in variant-scorer's order, with their
    ``.pval`` columns after each block when ``pvalues``."""
    present = set(scores)
    columns = []
    for block in _BLOCKS:
        names = [name for name in block if name in present]
        columns += names
        if pvalues:
            columns += [name + C.PVAL_SUFFIX for name in names if name in TAILS]
    return columns


def predicted_counts(log_counts: np.ndarray) -> np.ndarray:
    """Counts of a log-counts head: (n, C) or (n,) log counts -> (n,) float64, Σ_c exp(log_counts[:, c])."""
    values = np.asarray(log_counts, np.float64)
    return np.exp(values.reshape(len(values), -1)).sum(axis=1)


def profile_probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax of a profile head's logits over positions and strands together.

    (n, P) or (n, P, S) float logits -> (n, P, S) float64 probabilities (S = 1 for (n, P)).
    Mean-normalising first (as variant-scorer) does not change the softmax; the maximum
    is taken off for numerical safety.
    """
    z = np.asarray(logits, np.float64)
    z = z.reshape(len(z), z.shape[1] if z.ndim > 1 else 1, -1)
    z = z - z.mean(axis=(1, 2), keepdims=True)
    w = np.exp(z - z.max(axis=(1, 2), keepdims=True))
    return w / w.sum(axis=(1, 2), keepdims=True)


def js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance, base 2, row by row (scipy's ``jensenshannon(p, q, base=2)``).

    p, q : (n, M) non-negative, each row scaled to sum 1 first. Returns (n,) float64 in [0, 1].
    """
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    q = q / q.sum(axis=1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0)
        right = np.where(q > 0, q * np.log(q / m), 0.0)
    divergence = (left.sum(axis=1) + right.sum(axis=1)) / (2 * np.log(2.0))
    return np.sqrt(np.maximum(divergence, 0.0))


def _realigned(a1: np.ndarray, a2: np.ndarray, rl: int, al: int) -> tuple[np.ndarray, np.ndarray] | None:
    """One indel's two profiles (P, S) with the positions of the length difference taken out, or None
    when the indel is too long for the profile (the two cut profiles then differ in length)."""
    half = len(a1) // 2
    if rl > al:  # a deletion: REF's extra positions out of allele 1, the last positions out of allele 2
        right1 = np.concatenate([a1[half:half + al], a1[half + rl:]])
        right2 = a2[half:al - rl]
    else:  # an insertion: the inserted positions out of allele 2, the last positions out of allele 1
        right1 = a1[half:rl - al]
        right2 = np.concatenate([a2[half:half + rl], a2[half + al:]])
    if len(right1) != len(right2):
        return None
    return np.concatenate([a1[:half], right1]), np.concatenate([a2[:half], right2])


def realigned_js_distance(p1: np.ndarray, p2: np.ndarray, ref_len: np.ndarray, alt_len: np.ndarray,
                          plain: np.ndarray) -> np.ndarray:
    """variant-scorer's ``adjust_indel_jsd``: the distance of indels' profiles realigned around the indel.

    With ``h = P // 2`` (the profile position of the variant), for a deletion (``rl > al``)
    allele 1 keeps positions ``[0, h + al)`` and ``[h + rl, P)`` and allele 2 ``[0, P − (rl − al))``;
    for an insertion allele 2 keeps ``[0, h + rl)`` and ``[h + al, P)`` and allele 1
    ``[0, P − (al − rl))``.  Both are rescaled to sum 1 and compared.

    Parameters
    ----------
    p1, p2 : (n, P, S) probabilities of allele 1 (REF) and allele 2 (ALT).
    ref_len, alt_len : (n,) allele lengths as written.
    plain : (n,) the distance without realignment, kept for equal lengths and for indels
        longer than the profile's right half (which variant-scorer cannot score).

    Returns
    -------
    (n,) float64
    """
    out = np.array(plain, np.float64, copy=True)
    for i in np.flatnonzero(np.asarray(ref_len) != np.asarray(alt_len)):
        cut = _realigned(p1[i], p2[i], int(ref_len[i]), int(alt_len[i]))
        if cut is not None:
            out[i] = js_distance(cut[0].reshape(1, -1), cut[1].reshape(1, -1))[0]
    return out


def allele_quantiles(counts: np.ndarray, sorted_peaks: np.ndarray) -> np.ndarray:
    """max(fraction of the peaks' predicted counts strictly below ``counts``, 1 / number of peaks).

    counts : any shape, float; sorted_peaks : (P,) ascending. Returns float64 of counts' shape.
    """
    below = np.searchsorted(sorted_peaks, np.asarray(counts, np.float64), side="left")
    return np.maximum(below / len(sorted_peaks), 1.0 / len(sorted_peaks))


def derived_scores(base: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every score that applies, from the base values of each allele.

    Parameters
    ----------
    base : some of ``allele1_pred_counts``, ``allele2_pred_counts``, ``jsd``, ``original_jsd``,
        ``allele1_quantile``, ``allele2_quantile`` (profile and counts heads), or
        ``allele1_pred``, ``allele2_pred`` (a unit output); arrays of one shape ((n,), or (n, m)).

    Returns
    -------
    dict name -> float64 array of the base's shape, the base values included.
    """
    out = {name: np.asarray(values, np.float64) for name, values in base.items()}
    if C.ALLELE1_PRED in out:
        out[C.DIFF] = out[C.ALLELE2_PRED] - out[C.ALLELE1_PRED]
        out[C.ABS_DIFF] = np.abs(out[C.DIFF])
    if C.ALLELE1_PRED_COUNTS in out:
        out[C.LOGFC] = np.log2(out[C.ALLELE2_PRED_COUNTS] / out[C.ALLELE1_PRED_COUNTS])
    if C.LOGFC in out:
        out[C.ABS_LOGFC] = np.abs(out[C.LOGFC])
    if C.LOGFC in out and C.JSD in out:
        out[C.LOGFC_X_JSD] = out[C.LOGFC] * out[C.JSD]
        out[C.ABS_LOGFC_X_JSD] = out[C.ABS_LOGFC] * out[C.JSD]
    if C.ALLELE1_QUANTILE in out:
        q1, q2 = out[C.ALLELE1_QUANTILE], out[C.ALLELE2_QUANTILE]
        active = np.maximum(q1, q2)
        out[C.ACTIVE_ALLELE_QUANTILE] = active
        out[C.QUANTILE_CHANGE] = q2 - q1
        out[C.ABS_QUANTILE_CHANGE] = np.abs(q2 - q1)
        for name in _BY_QUANTILE:
            if name in out:
                out[f"{name}_x_{C.ACTIVE_ALLELE_QUANTILE}"] = out[name] * active
    return out


def empirical_pvalues(observed: np.ndarray, null: np.ndarray, tail: str) -> np.ndarray:
    """variant-scorer's ``get_pvals``: (rank of each observed score in the null + 1) / (null size + 1).

    right: the rank counts null scores >= the observed one; left: null scores <= it;
    both: twice the smaller of the two (not capped at 1, as variant-scorer).

    observed : (n,); null : (M,) finite, M >= 1. Returns (n,) float64.
    """
    ordered = np.sort(np.asarray(null, np.float64))
    obs = np.asarray(observed, np.float64)
    size = len(ordered)
    right = (size - np.searchsorted(ordered, obs, side="left") + 1) / (size + 1)
    left = (np.searchsorted(ordered, obs, side="right") + 1) / (size + 1)
    if tail == "right":
        return right
    if tail == "left":
        return left
    if tail != "both":
        raise ValueError(f"tail {tail!r} is not left, right or both")
    return 2 * np.minimum(left, right)


def pvalue_columns(observed: Mapping[str, np.ndarray], null: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``NAME.pval`` for every score in both ``observed`` ((n,) each) and ``null`` ((n, m) each, NaN
    where an entry is left out) that has a tail; the null of a score is its finite entries, pooled."""
    out = {}
    for name, values in observed.items():
        if name in TAILS and name in null:
            pooled = np.asarray(null[name], np.float64).ravel()
            pooled = pooled[np.isfinite(pooled)]
            if len(pooled):
                out[name + C.PVAL_SUFFIX] = empirical_pvalues(values, pooled, TAILS[name])
    return out
