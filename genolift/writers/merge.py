"""Join the shard files of one run (``--shard i/n``) back into one file, in row order, and write its regions
narrowPeak (:mod:`genolift.downstream.regions_file`); a ``variants`` run's p-values are computed again from
the null of every shard, and its scores table written beside the merged file (:mod:`.variant_table`)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from .. import _constants as C
from ..downstream.regions_file import regions_path_for, write_regions_file
from ..errors import OutputError
from .hdf5 import create_layout
from .paths import check_output, refuse_clobbering
from .reading import open_scores
from .variant_table import add_pvalues, table_path, write_table

#: Attributes that must agree between the shards of one run: the settings the run records, and the row count.
MUST_AGREE = (*C.SETTINGS, C.TOTAL_ROWS)


def _read_shards(paths: list[Path]) -> list[tuple[int, int, Path, dict]]:
    shards = []
    for path in paths:
        with open_scores(path) as f:
            attrs = dict(f.attrs)
            rows = f[C.COORDS_START].shape[0]
        shards.append((int(attrs.get(C.ROW_OFFSET, 0)), rows, path, attrs))
    return sorted(shards, key=lambda s: s[0])


def _check(shards) -> None:
    first = shards[0]
    for offset, rows, path, attrs in shards[1:]:
        diff = [k for k in MUST_AGREE if str(attrs.get(k)) != str(first[3].get(k))]
        if diff:
            raise OutputError(
                f"{path}: made with other settings than {first[2]} ({', '.join(diff)}); "
                "merge only the shards of one run"
            )
    expected = 0
    for offset, rows, path, attrs in shards:
        if offset != expected:
            what = "overlaps the previous shard" if offset < expected else f"leaves rows {expected}..{offset} missing"
            raise OutputError(f"{path}: starts at row {offset} and {what}; give every shard once")
        expected += rows
    total = int(first[3].get(C.TOTAL_ROWS, expected))
    if expected != total:
        raise OutputError(f"the shards hold {expected} of {total} rows; some shard files are missing")


def merge(paths: list[Path], output: Path, force: bool = False, regions_out: Path | None = None) -> Path:
    """Write the rows of every shard, in order, to ``output``, and their windows to ``regions_out``
    (default :func:`~genolift.downstream.regions_file.regions_path_for` of ``output``)."""
    output = Path(output)
    regions = regions_path_for(output) if regions_out is None else Path(regions_out)
    refuse_clobbering([("-o", output), ("--regions-out", regions)], [("a shard file", p) for p in paths])
    check_output(output, force)
    check_output(regions, force)
    shards = _read_shards([Path(p) for p in paths])
    _check(shards)
    variants = shards[0][3].get("command") == "variants"
    if variants:
        refuse_clobbering([("the variant scores table of -o", table_path(output))], [("a shard file", p) for p in paths])
        check_output(table_path(output), force)
    total = sum(rows for _, rows, _, _ in shards)
    attrs = {k: v for k, v in shards[0][3].items() if k not in C.PER_SHARD}
    tmp = output.with_name(output.name + ".partial")
    try:
        with h5py.File(tmp, "w") as out:
            with h5py.File(shards[0][2], "r") as f0:
                names = [n for n in f0 if f0[n].ndim == 3]
                length = f0[names[0]].shape[1]
                values = {n: f0[n].shape[1:] for n in f0 if f0[n].dtype.kind == "f" and f0[n].ndim < 3}
                strings = [n for n in f0 if n not in C.STRING_DATASETS and h5py.check_string_dtype(f0[n].dtype)]
                ints = [n for n in f0 if n not in C.INT_DATASETS and f0[n].dtype.kind == "i"]
                compression = f0[names[0]].compression or "none"  # the shards' filter and score dtype
                score_dtype = next((f0[n].dtype.name for n in names if n not in C.SEQUENCE_DATASETS), "float32")
            create_layout(out, total, length, names, values, strings, ints, compression, score_dtype)
            for offset, rows, path, _ in shards:
                with h5py.File(path, "r") as f:
                    for name in out:
                        out[name][offset:offset + rows] = f[name][()]
            out.attrs.update(attrs)
            out.attrs[C.ROW_OFFSET] = 0
            out.attrs[C.MAX_ABS_DELTA] = max(float(s[3].get(C.MAX_ABS_DELTA, 0.0)) for s in shards)
            out.attrs[C.MERGED_FROM] = [Path(s[2]).name for s in shards]
            out.attrs[C.SCORED_REGIONS] = os.path.relpath(os.path.abspath(regions), os.path.abspath(output.parent))
        if variants:
            add_pvalues(tmp)
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{output}: writing the merged file failed ({exc})") from None
    write_regions_file(output, regions, force=True)
    if variants:
        write_table(output)
    return output
