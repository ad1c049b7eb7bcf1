"""Alternate-allele values on the reference window's positions, for per-base differences.

The two windows of a variant (:mod:`genolift.variants.windows`) share their
left flank; REF occupies ``[h, h + ref_len)`` of the reference window and ALT
``[h, h + alt_len)`` of the alternate one (``h = allele_start``), and right of
the alleles alternate index ``i`` holds the reference base at ``i - shift``.
:func:`alt_on_reference` carries values of the alternate window (scores,
projected scores) over to reference index ``j``:

- ``j < h`` (left flank): alternate index ``j``;
- ``j`` in ``[h, h + min(ref_len, alt_len))`` (the alleles' shared part,
  base by base, the whole allele of an SNV or MNV): alternate index ``j``;
  for an insertion, the alternate bases ``[h + ref_len, h + alt_len)`` beyond
  it are added onto its last position (the anchor base of a VCF insertion);
- ``j`` in ``[h + alt_len, h + ref_len)`` (the bases a deletion removes): 0;
- ``j >= h + ref_len`` (right flank): alternate index ``j + shift`` where it
  lies inside the window, else 0 (the last ``shift`` positions of an
  insertion's window, which the trimmed alternate window no longer covers).

So ``alt_on_reference(v) - ref_values`` is the per-base difference on the
reference coordinates.  Summed over the window it loses only the alternate
bases that have no reference position: none for SNVs, MNVs and insertions,
the last ``-shift`` bases of a deletion's alternate window (its extended
right flank).
"""

from __future__ import annotations

import numpy as np


def alt_on_reference(values: np.ndarray, allele_start: np.ndarray, ref_len: np.ndarray,
                     alt_len: np.ndarray) -> np.ndarray:
    """Values of alternate windows placed on their reference windows' positions.

    Parameters
    ----------
    values : ndarray, shape (N, L, ...)
        Per-position values of the alternate windows (e.g. (N, L, 4) scores or (N, L) projected scores).
    allele_start, ref_len, alt_len : ndarray, shape (N,), int
        Each variant's alignment, as stored in its score file.

    Returns
    -------
    ndarray, shape (N, L, ...), same dtype: the values on reference positions (see the module notes).
    """
    values = np.asarray(values)
    out = np.zeros_like(values)
    length = values.shape[1]
    for i, (h, rl, al) in enumerate(zip(np.asarray(allele_start), np.asarray(ref_len), np.asarray(alt_len))):
        h, rl, al = int(h), int(rl), int(al)
        shared = min(h + min(rl, al), length)
        out[i, :shared] = values[i, :shared]
        if al > rl and h + rl < length:  # inserted bases onto the last shared one
            out[i, h + rl - 1] += values[i, h + rl:h + al].sum(axis=0)
        shift = al - rl  # right flank: reference j in [h + rl, L) holds alternate j + shift if below L
        lo, hi = h + rl, min(length, length - shift)
        if hi > lo:
            out[i, lo:hi] = values[i, lo + shift:hi + shift]
    return out
