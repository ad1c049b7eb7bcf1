"""bigWig tracks of per-base projected contributions (Σ_b hyp[l, b] · x[l, b]).

Chromosome sizes and their order come from the genome FASTA index.  Where
scored windows overlap, each base takes the value of the window whose centre
is nearest (on a tie, the window that starts first); bases no window covers
have no entry.  Entries are written per chromosome in header order, sorted,
as fixed-step runs of span 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from .. import _constants as C
from ..errors import OutputError
from ..sequences import Genome
from .paths import check_output, refuse_clobbering
from .reading import open_scores

BLOCK = 1024


def assigned_ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest-centre ownership of bases for windows on one chromosome.

    Parameters
    ----------
    starts, ends : (n,) int, windows (0-based, half-open).

    Returns
    -------
    order : (n,) indices of the windows sorted by centre (then start).
    lo, hi : (n,) int, the bases [lo, hi) each window (in ``order``) owns;
        lo >= hi means it owns none.
    """
    twice_centre = starts + ends  # 2·centre, exact in integers
    order = np.lexsort((starts, twice_centre))
    s, e, c2 = starts[order], ends[order], twice_centre[order]
    lo, hi = np.zeros(len(order), np.int64), np.zeros(len(order), np.int64)
    first = np.flatnonzero(np.r_[True, c2[1:] != c2[:-1]])  # later windows with an equal centre own nothing
    c = c2[first]
    # base b (centre b + 0.5) belongs to the next window iff 4b + 2 > c_i + c_next
    split = np.array([_first_base_of_next(a, b) for a, b in zip(c[:-1], c[1:])], dtype=np.int64)
    lo[first] = np.maximum(s[first], np.concatenate([[np.iinfo(np.int64).min], split]))
    hi[first] = np.minimum(e[first], np.concatenate([split, [np.iinfo(np.int64).max]]))
    return order, lo, hi


def _first_base_of_next(c2_a: int, c2_b: int) -> int:
    """Smallest base b with 4b + 2 > c2_a + c2_b (strictly nearer to the next centre)."""
    total = int(c2_a) + int(c2_b)
    return (total - 2) // 4 + 1


def _per_base(f: h5py.File, rows: np.ndarray) -> np.ndarray:
    """(len(rows), L) projected contributions of rows (any order)."""
    sorted_rows = np.sort(rows)
    if C.CONTRIB_SCORES in f:
        values = f[C.CONTRIB_SCORES][sorted_rows].sum(axis=-1)
    else:
        values = (f[C.HYP_SCORES][sorted_rows] * f[C.INPUT_SEQS][sorted_rows]).sum(axis=-1)
    return values[np.searchsorted(sorted_rows, rows)]


def write_bigwig(scores: str | Path, genome: str | Path, output: str | Path, force: bool = False,
                 per_base=None, needs=(C.HYP_SCORES, C.INPUT_SEQS)) -> Path:
    """Write the per-base projected contributions of a score file to a bigWig.

    ``per_base(f, rows)`` gives another track: the (len(rows), L) values of rows (any order) of the open
    file ``f``, which must hold the datasets ``needs``.
    """
    import pyBigWig

    output = Path(output)
    refuse_clobbering([("-o", output)], [("the score file", scores), ("the genome", genome)])
    check_output(output, force)
    with Genome(genome) as g:
        sizes = list(g.sizes.items())
    size_of = dict(sizes)
    tmp = output.with_name(output.name + ".partial")
    with open_scores(scores, needs=needs) as f:
        chroms = np.array([c.decode() if isinstance(c, bytes) else c for c in f[C.COORDS_CHROM][()]])
        starts, ends = f[C.COORDS_START][()], f[C.COORDS_END][()]
        missing = sorted(set(chroms) - set(size_of))
        if missing:
            raise OutputError(f"{scores}: chromosome(s) {', '.join(missing[:5])} are not in {genome}; "
                              "use the genome the scores were made with")
        bw = pyBigWig.open(str(tmp), "w")
        if bw is None:
            raise OutputError(f"{tmp}: cannot be created")
        try:
            bw.addHeader(sizes, maxZooms=10)
            for chrom, size in sizes:
                rows = np.flatnonzero(chroms == chrom)
                if len(rows):
                    _write_chrom(bw, f, chrom, size, rows, starts[rows], ends[rows], per_base or _per_base)
        finally:
            bw.close()
    os.replace(tmp, output)
    return output


def _write_chrom(bw, f, chrom, size, rows, starts, ends, per_base) -> None:
    order, lo, hi = assigned_ranges(starts, ends)
    lo, hi = np.maximum(lo, 0), np.minimum(hi, size)
    keep = hi > lo
    order, lo, hi = order[keep], lo[keep], hi[keep]
    for b0 in range(0, len(order), BLOCK):
        block = slice(b0, b0 + BLOCK)
        values = per_base(f, rows[order[block]])
        for v, a, b, s in zip(values, lo[block], hi[block], starts[order[block]]):
            bw.addEntries(chrom, int(a), values=v[a - s:b - s].astype(np.float64).tolist(), span=1, step=1)
