"""bigWig tracks of a ``variants`` file: each allele's projected scores and their difference, per base.

All three tracks are on the reference genome's coordinates, over each
variant's reference window (nearest-centre rule where windows overlap, as in
:mod:`genolift.writers.bigwig`):

- ``ref``: Σ_b C_ref[l, b] of the reference window;
- ``alt``: Σ_b C_alt of the alternate window placed on the reference positions
  by the stored alignment (:func:`genolift.variants.alt_on_reference`: right of
  the alleles shifted by ``shift``, inserted bases added onto the last shared
  base, deleted bases 0);
- ``delta``: ``alt − ref``, the per-base change the variant makes.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .. import _constants as C
from ..variants.alignment import alt_on_reference
from .bigwig import write_bigwig

NEEDS = (C.REF_CONTRIB_SCORES, C.ALT_CONTRIB_SCORES, C.ALLELE_START, C.REF_LEN, C.ALT_LEN)


def _read(f: h5py.File, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(len(rows), L) projected reference scores and alternate scores on reference positions, rows in any order."""
    sorted_rows = np.sort(rows)
    ref = f[C.REF_CONTRIB_SCORES][sorted_rows].sum(axis=-1)
    alt = alt_on_reference(f[C.ALT_CONTRIB_SCORES][sorted_rows].sum(axis=-1), f[C.ALLELE_START][sorted_rows],
                           f[C.REF_LEN][sorted_rows], f[C.ALT_LEN][sorted_rows])
    back = np.searchsorted(sorted_rows, rows)
    return ref[back], alt[back]


def _track(name: str):
    def per_base(f: h5py.File, rows: np.ndarray) -> np.ndarray:
        ref, alt = _read(f, rows)
        return {"ref": ref, "alt": alt, "delta": alt - ref}[name]

    return per_base


def write_variant_bigwigs(scores: str | Path, genome: str | Path, outputs: dict[str, Path],
                          force: bool = False) -> list[Path]:
    """Write the ``delta``, ``ref`` and ``alt`` tracks of a variants file.

    Parameters
    ----------
    scores : a file written by ``genolift variants``.
    genome : the genome FASTA it was scored on (chromosome sizes and order).
    outputs : bigWig path by track name (``delta``, ``ref``, ``alt``).

    Returns
    -------
    list of Path : the files written, in the order of ``outputs``.
    """
    return [write_bigwig(scores, genome, path, force=force, per_base=_track(name), needs=NEEDS)
            for name, path in outputs.items()]
