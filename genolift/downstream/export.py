"""A score file in the layouts other tools read, without a converter script.

=================  ================================================================================
``to``             files written (arrays (M, 4, L), channels A, C, G, T, M the rows kept)
=================  ================================================================================
``chrombpnet``     one HDF5 with ``raw/seq`` (int8 one-hot), ``shap/seq`` (float32 hypothetical
                   scores) and ``projected_shap/seq`` (float32 hypothetical · one-hot): the layout
                   of chrombpnet's deepdish score files, read by h5py, deepdish and Fi-NeMo's
                   ``extract-regions-chrombpnet-h5``.
``modisco-npz``    the ``modisco motifs -s SEQS -a ATTRS`` pair ``OUT.ohe.npz`` and ``OUT.attr.npz``,
                   float32 under ``arr_0`` (what ``--format npz`` of a run writes).
``finemo-npz``     the regions ``.npz`` Fi-NeMo's ``call-hits -r`` reads: ``sequences`` (int8),
                   ``contributions`` (float16 hypothetical scores, the precision of Fi-NeMo's own
                   ``extract-regions-*``) and the window coordinates ``chr``, ``chr_id``, ``start``,
                   ``peak_id`` and ``peak_name``, so no extraction step (and no ``-w``) is needed.
=================  ================================================================================

With ``drop_n`` windows holding any N (an all-zero one-hot position, which
modisco cannot take) are left out, and the regions narrowPeak of the rows kept
(:func:`~genolift.downstream.regions_file.regions_path_for` of ``out``) is
written too, so rows still match.  The (N, L, 4) arrays stream a block of rows
at a time (memory flat in the row count; the coordinate columns of
``finemo-npz``, a few bytes a row, are read whole); each file appears under its
name only once complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from .. import _constants as C
from ..errors import OutputError
from ..writers.npz import npz_paths
from ..writers.paths import check_output, refuse_clobbering
from ..writers.reading import open_scores
from .blocks import CHUNK_ROWS, kept_rows, read_blocks, rows_without_n
from .npz_stream import NpzStream
from .regions_file import regions_path_for, write_regions_file

FORMATS = ("chrombpnet", "modisco-npz", "finemo-npz")

#: Root attributes of a chrombpnet export besides the score file's own.
EXPORT_FORMAT = "export_format"
EXPORTED_FROM = "exported_from"
DROPPED_ROWS = "dropped_rows"

#: Attributes of a score file not copied into an export (it is no genolift score file).
_NOT_COPIED = (C.FORMAT, C.FORMAT_VERSION_ATTR, C.COMPLETE, C.SCORED_REGIONS)


class Exported(NamedTuple):
    """What :func:`export` wrote.

    Attributes
    ----------
    paths : the exported files (two for ``modisco-npz``).
    regions : the regions narrowPeak of the rows kept (``drop_n`` only), else None.
    rows : rows written.
    dropped : rows left out because they hold N.
    """

    paths: tuple[Path, ...]
    regions: Path | None
    rows: int
    dropped: int


def export_paths(to: str, out: str | Path) -> tuple[Path, ...]:
    """The files :func:`export` writes for ``out``: ``out`` itself, or the modisco pair
    (``x.npz`` or ``x.h5`` → ``x.ohe.npz``, ``x.attr.npz``)."""
    _check_format(to)
    out = Path(out)
    if to == "modisco-npz":
        return npz_paths(out.with_suffix("") if out.suffix.lower() == ".npz" else out)
    return (out,)


def _check_format(to: str) -> None:
    if to not in FORMATS:
        raise OutputError(f"export format {to!r} is not known; choose one of {', '.join(FORMATS)}")


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _finish(paths: tuple[Path, ...], write: Callable[[tuple[Path, ...]], None]) -> None:
    """Run ``write`` on temporary names, then rename them to ``paths`` (all removed on failure)."""
    tmps = tuple(_tmp(p) for p in paths)
    try:
        write(tmps)
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{paths[0]}: writing the export failed ({exc.strerror or exc})") from None
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)


def _chrombpnet(f: h5py.File, paths: tuple[Path, ...], keep, chunk_rows: int) -> None:
    n, length, _ = f[C.INPUT_SEQS].shape
    rows = kept_rows(n, keep)
    names = [C.INPUT_SEQS, C.HYP_SCORES] + ([C.CONTRIB_SCORES] if C.CONTRIB_SCORES in f else [])
    packing = {"chunks": (min(64, rows), 4, length), "compression": "gzip", "compression_opts": 1,
               "shuffle": True} if rows else {}
    attrs = {k: v for k, v in f.attrs.items() if k not in _NOT_COPIED}
    attrs.update({EXPORT_FORMAT: "chrombpnet", EXPORTED_FROM: Path(f.filename).name, DROPPED_ROWS: n - rows})
    with h5py.File(paths[0], "w") as out:
        raw = out.create_dataset("raw/seq", (rows, 4, length), np.int8, **packing)
        shap = out.create_dataset("shap/seq", (rows, 4, length), np.float32, **packing)
        projected = out.create_dataset("projected_shap/seq", (rows, 4, length), np.float32, **packing)
        row = 0
        for blocks in read_blocks(f, names, keep, chunk_rows):
            seqs, hyp = blocks[0], blocks[1]
            contrib = blocks[2] if len(blocks) > 2 else hyp * seqs
            stop = row + len(seqs)
            raw[row:stop] = seqs.transpose(0, 2, 1)
            shap[row:stop] = hyp.transpose(0, 2, 1)
            projected[row:stop] = contrib.transpose(0, 2, 1)
            row = stop
        out.attrs.update(attrs)


def _modisco_npz(f: h5py.File, paths: tuple[Path, ...], keep, chunk_rows: int) -> None:
    n, length, _ = f[C.INPUT_SEQS].shape
    shape = (kept_rows(n, keep), 4, length)
    with (NpzStream(paths[0]) as seqs_file, NpzStream(paths[1]) as attr_file,
          seqs_file.rows("arr_0", shape, np.float32) as put_seqs,
          attr_file.rows("arr_0", shape, np.float32) as put_attr):
        for seqs, hyp in read_blocks(f, (C.INPUT_SEQS, C.HYP_SCORES), keep, chunk_rows):
            put_seqs(seqs.transpose(0, 2, 1))
            put_attr(hyp.transpose(0, 2, 1))


def _finemo_coordinates(f: h5py.File, keep) -> dict[str, np.ndarray]:
    """Fi-NeMo's peak columns of the kept rows: ``peak_id`` is the row in the export, ``chr_id`` numbers
    chromosomes in order of first appearance (what Fi-NeMo does without ``--chrom-order``)."""
    pick = slice(None) if keep is None else np.asarray(keep, bool)
    chroms = f[C.COORDS_CHROM].asstr()[()][pick].astype(str)
    starts = f[C.COORDS_START][()][pick]
    if len(starts) and (starts.min() < np.iinfo(np.int32).min or starts.max() > np.iinfo(np.int32).max):
        raise OutputError(f"{f.filename}: window starts beyond 2^31 do not fit Fi-NeMo's int32 coordinates")
    _, first, inverse = np.unique(chroms, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # rank of each distinct chromosome by first appearance
    return {"chr": chroms, "chr_id": order[inverse].astype(np.uint32), "start": starts.astype(np.int32),
            "peak_id": np.arange(len(starts), dtype=np.uint32),
            "peak_name": f[C.COORDS_NAME].asstr()[()][pick].astype(str)}


def _finemo_npz(f: h5py.File, paths: tuple[Path, ...], keep, chunk_rows: int) -> None:
    n, length, _ = f[C.INPUT_SEQS].shape
    if length % 2:
        raise OutputError(f"{f.filename}: windows of {length} bp; Fi-NeMo needs an even window length")
    shape = (kept_rows(n, keep), 4, length)
    with NpzStream(paths[0]) as out:
        for member, name, dtype in (("sequences", C.INPUT_SEQS, np.int8), ("contributions", C.HYP_SCORES, np.float16)):
            with out.rows(member, shape, dtype) as put:
                for (block,) in read_blocks(f, (name,), keep, chunk_rows):
                    put(block.transpose(0, 2, 1))
        for member, values in _finemo_coordinates(f, keep).items():
            out.add(member, values)


_WRITERS = {"chrombpnet": _chrombpnet, "modisco-npz": _modisco_npz, "finemo-npz": _finemo_npz}


#: Per allele of a ``genolift variants`` file: its datasets in the roles of a score file's.
ALLELE_DATASETS = {
    "ref": {C.INPUT_SEQS: C.REF_SEQS, C.HYP_SCORES: C.REF_HYP_SCORES, C.CONTRIB_SCORES: C.REF_CONTRIB_SCORES},
    "alt": {C.INPUT_SEQS: C.ALT_SEQS, C.HYP_SCORES: C.ALT_HYP_SCORES, C.CONTRIB_SCORES: C.ALT_CONTRIB_SCORES},
}


class _AlleleView:
    """A variants file read as the score file of one allele (``input_seqs`` → ``ref_seqs``, ...)."""

    def __init__(self, f: h5py.File, allele: str):
        self._f, self._names = f, ALLELE_DATASETS[allele]
        self.attrs, self.filename = f.attrs, f.filename

    def __getitem__(self, name: str):
        return self._f[self._names.get(name, name)]

    def __contains__(self, name: str) -> bool:
        return self._names.get(name, name) in self._f


def export(scores: str | Path, to: str, out: str | Path, *, drop_n: bool = False, force: bool = False,
           chunk_rows: int = CHUNK_ROWS, allele: str | None = None) -> Exported:
    """Write the score file ``scores`` in the layout ``to`` (one of :data:`FORMATS`).

    Parameters
    ----------
    scores : a file written by ``score``, ``hypothetical``, ``merge`` or ``average``
        (``input_seqs`` and ``hyp_scores`` (N, L, 4); ``contrib_scores`` used when present).
    to : ``chrombpnet``, ``modisco-npz`` or ``finemo-npz``.
    out : the output file (for ``modisco-npz`` the stem of the pair, see :func:`export_paths`).
    drop_n : leave out windows holding N, and write their regions narrowPeak beside ``out``.
    force : overwrite existing outputs.
    chunk_rows : rows read and written at a time.
    allele : for a file of ``genolift variants``: ``ref`` or ``alt``, the allele whose sequences and
        scores are exported (rows are the variants, windows the reference windows).

    Returns
    -------
    Exported : the paths written, the regions file (``drop_n``), rows kept and dropped.

    Raises
    ------
    OutputError : unknown format; an output is the score file, exists (without ``force``) or cannot be
        written; the score file is not a complete genolift file with hypothetical scores; every window
        holds N (``drop_n``); the window length is odd (``finemo-npz``).
    """
    scores = Path(scores)
    paths = export_paths(to, out)
    regions = regions_path_for(out) if drop_n else None
    outputs = [("-o", p) for p in paths] + ([("the regions file", regions)] if regions else [])
    refuse_clobbering(outputs, [("the score file", scores)])
    for _, path in outputs:
        check_output(path, force)
    if allele is not None and allele not in ALLELE_DATASETS:
        raise OutputError(f"--allele {allele!r}: give ref or alt")
    names = ALLELE_DATASETS[allele] if allele else {}
    with open_scores(scores, needs=[names.get(n, n) for n in (C.INPUT_SEQS, C.HYP_SCORES)]) as h5:
        f = _AlleleView(h5, allele) if allele else h5
        n = f[C.INPUT_SEQS].shape[0]
        keep = rows_without_n(f[C.INPUT_SEQS], chunk_rows) if drop_n else None
        rows = kept_rows(n, keep)
        if drop_n and n and not rows:
            raise OutputError(f"{scores}: every one of its {n} windows holds N; nothing is left to export")
        _finish(paths, lambda tmps: _WRITERS[to](f, tmps, keep, chunk_rows))
    if regions is not None:
        write_regions_file(scores, regions, force=force, keep=keep)
    return Exported(paths, regions, rows, n - rows)
