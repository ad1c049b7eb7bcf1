"""Reading a score file's (N, L, 4) datasets a block of rows at a time, optionally leaving rows out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import h5py
import numpy as np

#: Rows of the (N, L, 4) datasets read at a time: 4 MB per dataset at L = 1000.
CHUNK_ROWS = 256


def rows_without_n(seqs: h5py.Dataset, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Which rows hold no N (no all-zero one-hot position).

    Parameters
    ----------
    seqs : dataset of shape (N, L, 4), one-hot ``input_seqs``.

    Returns
    -------
    ndarray, shape (N,), bool : True where every position has a base.
    """
    keep = np.empty(seqs.shape[0], dtype=bool)
    for lo in range(0, seqs.shape[0], chunk_rows):
        block = seqs[lo:lo + chunk_rows]
        keep[lo:lo + len(block)] = (block != 0).any(axis=2).all(axis=1)
    return keep


def read_blocks(f: h5py.File, names: Sequence[str], keep: np.ndarray | None = None,
                chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[np.ndarray, ...]]:
    """The datasets ``names`` of ``f``, ``chunk_rows`` rows at a time, in row order.

    Parameters
    ----------
    names : datasets with the same row count N.
    keep : ndarray, shape (N,), bool, optional: rows to yield (all when None).

    Yields
    ------
    tuple of ndarray : one block per name, the kept rows of rows ``lo .. lo + chunk_rows``
        (blocks with no kept row are skipped).
    """
    n = f[names[0]].shape[0]
    for lo in range(0, n, chunk_rows):
        hi = min(n, lo + chunk_rows)
        pick = None if keep is None else keep[lo:hi]
        if pick is not None and not pick.any():
            continue
        blocks = tuple(f[name][lo:hi] for name in names)
        yield blocks if pick is None else tuple(block[pick] for block in blocks)


def kept_rows(n: int, keep: np.ndarray | None) -> int:
    """Rows left of n once ``keep`` (None: all) is applied."""
    return n if keep is None else int(np.count_nonzero(keep))
