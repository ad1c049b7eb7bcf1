"""The scored windows as a 10-column narrowPeak, one line per score row, in row order.

Fi-NeMo (``-p``), modisco-lite (``seqlet-bed -p``) and every step that maps
window offsets back to the genome need a peaks file whose line ``i`` is the
window of score row ``i``.  The user's regions file is not that file: genolift
skips windows that run off a chromosome end, centres BED regions (no summit)
itself, and reads FASTA records without coordinates.  Each line written here is

=====  ===========  ==========================================================
col    field        value
=====  ===========  ==========================================================
1-3    chrom,       the scored window, 0-based half-open (``coords_chrom``,
       start, end   ``coords_start``, ``coords_end``)
4      name         the region's name from the input (``coords_name``), or
                    ``row_N`` (N the row in the whole run) when it has none
5      score        0
6      strand       ``+``, ``-`` or ``.``
7-9    signal,      -1 (not assigned, the narrowPeak convention)
       p, q
10     summit       ``(end - start) // 2``, the offset of the window's centre
=====  ===========  ==========================================================

so Fi-NeMo's ``start + summit - width // 2`` and modisco's
``(start + end) // 2 - width // 2`` both give back the window's start when the
width equals the window length.  FASTA input has no genome coordinates: its
lines name the record as the chromosome and span ``0 .. L``, so motif hits come
out relative to each sequence.  A window padded with N (``--off-edge pad``) is
written as scored, and may start below 0 or end past the chromosome.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .. import _constants as C
from ..errors import OutputError
from ..writers.paths import check_output, refuse_clobbering
from ..writers.reading import open_scores

#: Suffix of the regions file that goes with a score file or an export.
REGIONS_SUFFIX = ".regions.narrowPeak"

#: Suffixes replaced by :data:`REGIONS_SUFFIX` (any other name gets it appended).
_REPLACED_SUFFIXES = (".h5", ".hdf5", ".npz")

#: Coordinate rows read from a score file at a time.
COORD_CHUNK_ROWS = 65536

_STRANDS = frozenset("+-.")


def regions_path_for(out_path: str | Path) -> Path:
    """The regions file beside an output: ``scores.h5`` → ``scores.regions.narrowPeak``.

    ``.h5``, ``.hdf5`` and ``.npz`` are replaced; any other name gets the suffix appended.
    """
    out_path = Path(out_path)
    stem = out_path.with_suffix("") if out_path.suffix.lower() in _REPLACED_SUFFIXES else out_path
    return stem.with_name(stem.name + REGIONS_SUFFIX)


def regions_rows(chroms: Sequence[str], starts: Sequence[int], ends: Sequence[int],
                 names: Sequence[str] | None = None, strands: Sequence[str] | None = None, *,
                 first_row: int = 0, rows: Sequence[int] | None = None) -> list[str]:
    """narrowPeak lines (without newline) of windows given by their coordinates.

    Parameters
    ----------
    chroms, starts, ends : sequences of n str, int, int
        The windows, 0-based half-open (``coords_chrom``, ``coords_start``, ``coords_end``).
    names : n str, optional
        Region names; empty or ``.`` names (and all, when None) become ``row_N``.
    strands : n str, optional
        ``+``, ``-`` or ``.``; anything else (and all, when None) is written as ``.``.
    first_row : int
        Row of the first window in the whole run (a shard's ``row_offset``), for ``row_N``.
    rows : n int, optional
        Row of each window in the whole run, instead of ``first_row + i`` (rows left out before).

    Returns
    -------
    list of n str : tab-separated 10-field lines, summit at ``(end - start) // 2``.
    """
    n = len(chroms)
    if not len(starts) == len(ends) == n or any(c is not None and len(c) != n for c in (names, strands, rows)):
        raise ValueError("regions_rows: every column needs one value per window")
    row_ids = range(first_row, first_row + n) if rows is None else rows
    lines = []
    for i, (chrom, start, end, row) in enumerate(zip(chroms, starts, ends, row_ids)):
        name = names[i] if names is not None else ""
        strand = strands[i] if strands is not None else "."
        start, end = int(start), int(end)
        lines.append(f"{chrom}\t{start}\t{end}\t{name if name not in ('', '.') else f'row_{int(row)}'}\t0\t"
                     f"{strand if strand in _STRANDS else '.'}\t-1\t-1\t-1\t{(end - start) // 2}")
    return lines


def _write_lines_atomically(path: Path, blocks: Iterable[list[str]]) -> None:
    """Write blocks of lines to ``path`` through a temporary file renamed at the end."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            for lines in blocks:
                if lines:
                    handle.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: writing the regions file failed ({exc.strerror or exc})") from None


def write_regions(out_path: str | Path, chroms: Sequence[str], starts: Sequence[int], ends: Sequence[int],
                  names: Sequence[str] | None = None, strands: Sequence[str] | None = None, *,
                  first_row: int = 0, force: bool = False) -> Path:
    """Write the regions file of windows held in memory (see :func:`regions_rows` for the columns).

    Raises
    ------
    OutputError : ``out_path`` exists (without ``force``), or cannot be written.
    """
    out_path = Path(out_path)
    check_output(out_path, force)
    _write_lines_atomically(out_path, [regions_rows(chroms, starts, ends, names, strands, first_row=first_row)])
    return out_path


def _file_blocks(f, keep: np.ndarray | None, chunk_rows: int):
    """Lines of the score file ``f``'s rows (those where ``keep`` is True), ``chunk_rows`` rows at a time."""
    n = f[C.COORDS_START].shape[0]
    offset = int(f.attrs.get(C.ROW_OFFSET, 0))
    for lo in range(0, n, chunk_rows):
        hi = min(n, lo + chunk_rows)
        rows = np.arange(lo, hi) if keep is None else np.flatnonzero(keep[lo:hi]) + lo
        if not len(rows):
            continue
        sel = slice(lo, hi)
        pick = rows - lo
        chroms = f[C.COORDS_CHROM].asstr()[sel][pick]
        names = f[C.COORDS_NAME].asstr()[sel][pick]
        strands = f[C.COORDS_STRAND].asstr()[sel][pick]
        yield regions_rows(chroms, f[C.COORDS_START][sel][pick], f[C.COORDS_END][sel][pick], names, strands,
                           rows=rows + offset)


def write_regions_file(score_path: str | Path, out_path: str | Path | None = None, *, force: bool = False,
                       keep: np.ndarray | None = None, chunk_rows: int = COORD_CHUNK_ROWS) -> Path:
    """Write the regions file of a finished score file, read from its coordinate datasets.

    Parameters
    ----------
    score_path : a file written by ``score``, ``hypothetical``, ``ism``, ``merge`` or ``average``.
    out_path : the narrowPeak to write (default :func:`regions_path_for` of ``score_path``).
    force : overwrite an existing ``out_path``.
    keep : ndarray, shape (N,), bool, optional
        Rows to write (the others are left out, as an export with ``drop_n`` leaves them out).
    chunk_rows : rows read at a time.

    Returns
    -------
    Path : ``out_path``, one line per (kept) score row, in row order.

    Raises
    ------
    OutputError : the score file is not a complete genolift file, ``out_path`` is the score file,
        exists (without ``force``) or cannot be written, or ``keep`` has the wrong length.
    """
    score_path = Path(score_path)
    out_path = regions_path_for(score_path) if out_path is None else Path(out_path)
    refuse_clobbering([("the regions file", out_path)], [("the score file", score_path)])
    check_output(out_path, force)
    with open_scores(score_path) as f:
        n = f[C.COORDS_START].shape[0]
        if keep is not None and np.shape(keep) != (n,):
            raise OutputError(f"{score_path}: {n} rows, but rows to keep were given for {np.shape(keep)}")
        _write_lines_atomically(out_path, _file_blocks(f, None if keep is None else np.asarray(keep, bool),
                                                       chunk_rows))
    return out_path
