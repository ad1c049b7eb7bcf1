"""The mean of score files made by several models (folds) on the same windows with the same settings.

Every float dataset but ``input_seqs`` is averaged row by row: ``hyp_scores``,
``contrib_scores`` (or ``ism_scores``), ``predictions``,
``reference_predictions``, ``deltas`` and ``residuals``.  All of them are
linear in the explained target, so the mean file is exactly the file of the
model whose target is the mean of the folds' targets: its per-pair deltas are
the mean of the folds' deltas, and summation-to-delta holds with the mean
predictions.  ``max_abs_delta`` is recomputed from the mean deltas; each
input's own is kept in ``averaged_max_abs_delta``.

Files of ``variants`` runs are averaged the same way (both alleles' sequences
compared, their scores, predictions and variant scores averaged); their
``NAME.pval`` datasets get the geometric mean of the folds' p-values, as
variant-scorer's summary across folds does, and the mean file's table
``MEAN.variant_scores.tsv`` holds the ``NAME.mean`` columns
(:mod:`genolift.writers.variant_table`).

Files are refused, naming the first difference, when a setting in
:data:`~genolift._constants.SETTINGS` differs (other than the model and
:data:`MAY_DIFFER`), or their datasets, windows (coordinates, names, strands)
or one-hot sequences differ.  A file given twice counts twice.  The mean file's
regions narrowPeak (the windows in row order, as the inputs have them) is
written beside it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from .. import _constants as C
from ..errors import OutputError
from ..writers.hdf5 import create_layout
from ..writers.paths import check_output, refuse_clobbering
from ..writers.reading import open_scores
from ..writers.variant_table import is_variant_file, table_path, write_table
from .blocks import CHUNK_ROWS, read_blocks
from .regions_file import regions_path_for, write_regions_file

#: Settings that may differ: the model (the point of averaging); where the windows and sequences came from
#: (they are compared row by row instead); how the work was batched (it does not change the scores).
MAY_DIFFER = ("model_sha256", "regions_sha256", "genome_file", "batch_size", "chunk_size")

#: Root attributes recording the inputs of a mean file, one entry per input in order.
AVERAGED_FROM = "averaged_from"
AVERAGED_MODEL_SHA256 = "averaged_model_sha256"
AVERAGED_MODEL_FILE = "averaged_model_file"
AVERAGED_MAX_ABS_DELTA = "averaged_max_abs_delta"

#: Coordinate rows compared at a time.
_COORD_ROWS = 65536

_REMEDY = "average only files of models scored on the same windows with the same settings"


def _must_agree() -> tuple[str, ...]:
    keys = (*C.SETTINGS, C.TOTAL_ROWS, C.ROW_OFFSET, "channel_order")
    return tuple(dict.fromkeys(k for k in keys if k not in MAY_DIFFER))


def _sequences(f: h5py.File) -> list[str]:
    """The one-hot datasets of a file: ``input_seqs``, or a variants file's ``ref_seqs`` and ``alt_seqs``."""
    found = [name for name in C.SEQUENCE_DATASETS if name in f]
    if not found:
        raise OutputError(f"{f.filename}: holds no sequences (input_seqs); give files written by genolift score, "
                          "hypothetical, ism or variants")
    return found


def _check_sizes(files: Sequence[h5py.File]) -> None:
    first = files[0]
    n, length = first[_sequences(first)[0]].shape[:2]
    for f in files[1:]:
        if f[_sequences(f)[0]].shape[:2] != (n, length):
            rows, bases = f[_sequences(f)[0]].shape[:2]
            raise OutputError(f"{f.filename}: {rows} windows of {bases} bp where {first.filename} has {n} of "
                              f"{length} bp; {_REMEDY}")


def _check_settings(files: Sequence[h5py.File]) -> None:
    first = files[0]
    for f in files[1:]:
        for key in _must_agree():
            mine, theirs = f.attrs.get(key), first.attrs.get(key)
            if str(mine) != str(theirs):
                raise OutputError(f"{f.filename}: {key} is {_show(mine)} where {first.filename} has "
                                  f"{_show(theirs)}; {_REMEDY}")


def _show(value) -> str:
    return "not recorded" if value is None else repr(value.item() if isinstance(value, np.generic) else value)


def _layout(f: h5py.File) -> dict[str, tuple]:
    return {name: f[name].shape for name in f if isinstance(f[name], h5py.Dataset)}


def _check_datasets(files: Sequence[h5py.File]) -> None:
    first, expected = files[0], _layout(files[0])
    for f in files[1:]:
        found = _layout(f)
        for name in sorted(set(expected) | set(found)):
            if name not in found or name not in expected:
                where, other = (f, first) if name not in found else (first, f)
                raise OutputError(f"{where.filename}: has no {name}, which {other.filename} has; {_REMEDY}")
            if found[name] != expected[name]:
                raise OutputError(f"{f.filename}: {name} has shape {found[name]} where {first.filename} "
                                  f"has {expected[name]}; {_REMEDY}")


def _window(f: h5py.File, row: int) -> str:
    names = (C.COORDS_CHROM, C.COORDS_START, C.COORDS_END, C.COORDS_STRAND, C.COORDS_NAME)
    chrom, start, end, strand, name = (f[n].asstr()[row] if f[n].dtype.kind == "O" else f[n][row] for n in names)
    return f"{chrom}:{start}-{end}({strand}) {name!r}"


def _first_difference(a: h5py.File, b: h5py.File, names: Sequence[str], chunk_rows: int) -> int | None:
    """First row where any of the datasets ``names`` differ between ``a`` and ``b`` (None if none)."""
    row = 0
    for blocks_a, blocks_b in zip(read_blocks(a, names, None, chunk_rows), read_blocks(b, names, None, chunk_rows)):
        same = np.ones(len(blocks_a[0]), dtype=bool)
        for x, y in zip(blocks_a, blocks_b):
            same &= (x == y).reshape(len(x), -1).all(axis=1)
        if not same.all():
            return row + int(np.argmin(same))
        row += len(same)
    return None


def _check_rows(files: Sequence[h5py.File], chunk_rows: int) -> None:
    first = files[0]
    windows = (*C.STRING_DATASETS, C.COORDS_START, C.COORDS_END)
    for f in files[1:]:
        row = _first_difference(first, f, windows, _COORD_ROWS)
        if row is not None:
            raise OutputError(f"{f.filename}: row {row} is the window {_window(f, row)} where {first.filename} "
                              f"has {_window(first, row)}; {_REMEDY}")
        row = _first_difference(first, f, _sequences(first), chunk_rows)
        if row is not None:
            raise OutputError(f"{f.filename}: the sequence of row {row} ({_window(f, row)}) differs from the one "
                              f"in {first.filename}; {_REMEDY}")


def _averaged(f: h5py.File) -> list[str]:
    return [n for n in f if f[n].dtype.kind == "f" and n not in C.SEQUENCE_DATASETS]


def _texts_and_ints(f: h5py.File) -> tuple[list[str], list[str]]:
    """The (N,) text and integer datasets beyond the coordinates (the variants' fields)."""
    strings = [n for n in f if n not in C.STRING_DATASETS and h5py.check_string_dtype(f[n].dtype)]
    ints = [n for n in f if n not in C.INT_DATASETS and f[n].dtype.kind == "i"]
    return strings, ints


def _mean(name: str, blocks: list[np.ndarray]) -> np.ndarray:
    """The mean of the folds' rows: geometric for p-values (variant-scorer's summary), arithmetic otherwise."""
    if name.endswith(C.PVAL_SUFFIX):
        return np.exp(sum(np.log(b.astype(np.float64)) for b in blocks) / len(blocks)).astype(np.float32)
    return (sum(b.astype(np.float64) for b in blocks) / len(blocks)).astype(np.float32)


def _write_mean(out: h5py.File, files: Sequence[h5py.File], chunk_rows: int) -> float:
    """Copy the rows that agree from the first file, average the rest; returns max |mean delta|."""
    first = files[0]
    n = first[C.COORDS_START].shape[0]
    strings, ints = _texts_and_ints(first)
    for name in (*C.STRING_DATASETS, *C.INT_DATASETS, *strings, *ints):
        for lo in range(0, n, _COORD_ROWS):
            out[name][lo:lo + _COORD_ROWS] = first[name][lo:lo + _COORD_ROWS]
    for name in _sequences(first):
        for lo in range(0, n, chunk_rows):
            out[name][lo:lo + chunk_rows] = first[name][lo:lo + chunk_rows]
    worst = 0.0
    for name in _averaged(first):
        for lo in range(0, n, chunk_rows):
            mean = _mean(name, [f[name][lo:lo + chunk_rows] for f in files])
            out[name][lo:lo + chunk_rows] = mean
            if name in (C.DELTAS, C.REF_DELTAS, C.ALT_DELTAS) and mean.size:
                worst = max(worst, float(np.abs(mean).max()))
    return worst


def _attributes(files: Sequence[h5py.File], max_abs_delta: float, regions: str) -> dict:
    hashes = [str(f.attrs.get("model_sha256", "")) for f in files]
    attrs = {k: v for k, v in files[0].attrs.items() if k not in ("created", "command_line", C.COMPLETE)}
    attrs.update({
        C.WINDOW_LENGTH: files[0][_sequences(files[0])[0]].shape[1],
        C.SCORED_REGIONS: regions,
        "model_sha256": hashlib.sha256(",".join(sorted(hashes)).encode()).hexdigest(),
        "model_file": f"mean of {len(files)} models",
        AVERAGED_FROM: [Path(f.filename).name for f in files],
        AVERAGED_MODEL_SHA256: hashes,
        AVERAGED_MODEL_FILE: [str(f.attrs.get("model_file", "")) for f in files],
        AVERAGED_MAX_ABS_DELTA: [float(f.attrs.get(C.MAX_ABS_DELTA, np.nan)) for f in files],
        C.MAX_ABS_DELTA: max_abs_delta,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "genolift_version": __version__,
    })
    return attrs


def _write(path: Path, files: Sequence[h5py.File], chunk_rows: int, regions: str) -> None:
    first = files[0]
    n, length = first[_sequences(first)[0]].shape[:2]
    scores = [name for name in first if first[name].ndim == 3]
    values = {name: first[name].shape[1:] for name in _averaged(first) if first[name].ndim < 3}
    with h5py.File(path, "w") as out:
        create_layout(out, n, length, scores, values, *_texts_and_ints(first))
        worst = _write_mean(out, files, chunk_rows)
        out.attrs.update(_attributes(files, worst, regions))
        out.attrs[C.COMPLETE] = True


def average(paths: Sequence[str | Path], out: str | Path, *, force: bool = False,
            chunk_rows: int = CHUNK_ROWS) -> Path:
    """Write the mean of the score files ``paths`` (one per model or fold) to ``out``.

    Parameters
    ----------
    paths : two or more files written by ``score``, ``hypothetical`` or ``ism`` (or ``merge``), of
        different models on the same windows with the same settings.
    out : the mean file, a genolift score file with the same datasets (``input_seqs`` and
        ``hyp_scores`` (N, L, 4) at the root, as ``modisco motifs -i`` reads them).
    force : overwrite an existing ``out``.
    chunk_rows : rows read and written at a time.

    Returns
    -------
    Path : ``out``; its attributes record every input's file name and model hash
        (:data:`AVERAGED_FROM`, :data:`AVERAGED_MODEL_SHA256`), ``model_sha256`` is a hash of them.
        Its regions narrowPeak is written to :func:`~.regions_file.regions_path_for` of ``out``.

    Raises
    ------
    OutputError : fewer than two files; ``out`` or its regions file is an input, exists (without ``force``)
        or cannot be written; an input is not a complete genolift score file, or differs from the first in a setting,
        its datasets, its windows or its sequences (the message names the first difference).
    """
    paths, out = [Path(p) for p in paths], Path(out)
    if len(paths) < 2:
        raise OutputError("averaging needs at least two score files")
    regions, table = regions_path_for(out), table_path(out)
    refuse_clobbering([("-o", out), ("the regions file", regions), ("the variant scores table", table)],
                      [("an input score file", p) for p in paths])
    check_output(out, force)
    check_output(regions, force)
    tmp = out.with_name(out.name + ".tmp")
    with ExitStack() as stack:
        files = [stack.enter_context(open_scores(p)) for p in paths]
        variants = is_variant_file(files[0])
        if variants:
            check_output(table, force)
        _check_sizes(files)
        _check_settings(files)
        _check_datasets(files)
        _check_rows(files, chunk_rows)
        try:
            _write(tmp, files, chunk_rows, regions.name)
            os.replace(tmp, out)
        except OSError as exc:
            raise OutputError(f"{out}: writing the mean file failed ({exc.strerror or exc})") from None
        finally:
            tmp.unlink(missing_ok=True)
    write_regions_file(out, regions, force=True)
    if variants:
        write_table(out, table)
    return out
