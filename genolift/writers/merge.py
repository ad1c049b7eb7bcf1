"""Join the shard files of one run (``--shard i/n``) back into one file, in row order."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from ..errors import OutputError
from .hdf5 import FORMAT_NAME, create_layout

#: Attributes that must agree between shards (they decide the scores).
SETTINGS = (
    "model_sha256", "regions_sha256", "genome_file", "command", "rule", "steps", "reference", "shuffles", "seed",
    "gc", "output", "task", "target", "target_kind", "revcomp", "off_edge", "batch_size", "precision", "chunk_size",
    "total_rows",
)
PER_SHARD = ("shard", "row_offset", "created", "command_line", "max_abs_delta")


def _read_shards(paths: list[Path]) -> list[tuple[int, int, Path, dict]]:
    shards = []
    for path in paths:
        try:
            with h5py.File(path, "r") as f:
                attrs = dict(f.attrs)
                rows = f["coords_start"].shape[0]
        except (OSError, KeyError) as exc:
            raise OutputError(f"{path}: not a readable genolift score file ({exc})") from None
        if attrs.get("format") != FORMAT_NAME or not attrs.get("complete"):
            raise OutputError(f"{path}: not a complete genolift score file")
        shards.append((int(attrs.get("row_offset", 0)), rows, path, attrs))
    return sorted(shards, key=lambda s: s[0])


def _check(shards) -> None:
    first = shards[0]
    for offset, rows, path, attrs in shards[1:]:
        diff = [k for k in SETTINGS if str(attrs.get(k)) != str(first[3].get(k))]
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
    total = int(first[3].get("total_rows", expected))
    if expected != total:
        raise OutputError(f"the shards hold {expected} of {total} rows; some shard files are missing")


def merge(paths: list[Path], output: Path, force: bool = False) -> Path:
    """Write the rows of every shard, in order, to ``output``."""
    if output.exists() and not force:
        raise OutputError(f"{output}: exists already; pass --force to overwrite it")
    shards = _read_shards([Path(p) for p in paths])
    _check(shards)
    total = sum(rows for _, rows, _, _ in shards)
    attrs = {k: v for k, v in shards[0][3].items() if k not in PER_SHARD}
    tmp = output.with_name(output.name + ".partial")
    try:
        with h5py.File(tmp, "w") as out:
            with h5py.File(shards[0][2], "r") as f0:
                names = [n for n in f0 if f0[n].ndim == 3]
                length = f0[names[0]].shape[1]
                values = {n: f0[n].shape[1:] for n in f0 if f0[n].dtype.kind == "f" and f0[n].ndim < 3}
            create_layout(out, total, length, names, values)
            for offset, rows, path, _ in shards:
                with h5py.File(path, "r") as f:
                    for name in out:
                        out[name][offset:offset + rows] = f[name][()]
            out.attrs.update(attrs)
            out.attrs["row_offset"] = 0
            out.attrs["max_abs_delta"] = max(float(s[3].get("max_abs_delta", 0.0)) for s in shards)
            out.attrs["merged_from"] = [Path(s[2]).name for s in shards]
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{output}: writing the merged file failed ({exc})") from None
    return output
