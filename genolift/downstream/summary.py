"""What ``genolift info SCORES`` prints: a score file's facts and the exact commands that come next.

The commands carry the widths read from the file, where the tools' defaults
would silently be wrong for any window length but theirs: ``modisco motifs
-w`` (default 400), ``modisco seqlet-bed -w``, Fi-NeMo's ``extract-regions-*
-w`` (default 1000) and ``report -W`` (default 400).  The peaks given to
``modisco seqlet-bed -p`` and Fi-NeMo's extraction ``-p`` are the file's
regions narrowPeak (line i = row i), and when some windows hold N (which
``modisco motifs`` cannot take) the route goes through ``genolift export
--drop-n``, whose rows both tools then share.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import h5py
import numpy as np

from .. import _constants as C
from ..writers.reading import open_scores
from .blocks import rows_without_n
from .regions_file import regions_path_for

#: ``modisco motifs -n``: seqlets kept per sign (modisco-lite's own examples use 2000).
MAX_SEQLETS = 2000


def is_score_file(path: str | Path) -> bool:
    """Whether ``path`` is an HDF5 file with genolift's score format attribute (complete or not)."""
    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as f:
            return f.attrs.get(C.FORMAT) == C.FORMAT_NAME
    except OSError:
        return False


def regions_file_of(path: str | Path, f: h5py.File) -> Path:
    """The regions narrowPeak a score file records (beside it by default)."""
    recorded = f.attrs.get(C.SCORED_REGIONS)
    return Path(path).parent / str(recorded) if recorded else regions_path_for(path)


def _attr(f: h5py.File, name: str, default=None):
    value = f.attrs.get(name, default)
    return value.item() if isinstance(value, np.generic) else value


def _length(f: h5py.File) -> int:
    """The window length L: of the sequences, else as recorded, else of the first window."""
    if C.INPUT_SEQS in f:
        return f[C.INPUT_SEQS].shape[1]
    if C.WINDOW_LENGTH in f.attrs:
        return int(f.attrs[C.WINDOW_LENGTH])
    return int(f[C.COORDS_END][0] - f[C.COORDS_START][0]) if len(f[C.COORDS_START]) else 0


def _references(f: h5py.File) -> str:
    reference = _attr(f, "reference")
    if _attr(f, "command") == "ism":
        return "none (in-silico mutagenesis: t(mutant) - t(x))"
    if reference == "gc-background":
        gc, source = _attr(f, "gc"), _attr(f, "gc_source", "")
        text = f"GC background, GC fraction {gc:.4f}" if gc is not None else "GC background"
        text += f" (from {source})" if source else ""
    else:
        text = f"{_attr(f, 'shuffles')} dinucleotide shuffles per window, seed {_attr(f, 'seed')}"
    return text + (", averaged with the reverse complement" if _attr(f, "revcomp") else "")


def _rows(f: h5py.File, length: int) -> str:
    n = f[C.COORDS_START].shape[0]
    text = f"{n} windows of {length} bp"
    skipped = _attr(f, "skipped_windows")
    if skipped:
        text += f" ({skipped} off a chromosome end skipped, --off-edge {_attr(f, 'off_edge')})"
    if _attr(f, C.SHARD):
        offset = int(_attr(f, C.ROW_OFFSET, 0))
        text += f"; shard {_attr(f, C.SHARD)}: rows {offset}..{offset + n} of {_attr(f, C.TOTAL_ROWS)}"
    return text


def facts(path: str | Path, f: h5py.File, length: int, regions: Path) -> list[str]:
    """The summary lines of the open score file ``f``."""
    datasets = ", ".join(name for name in f if f[name].ndim == 3)
    lines = [
        f"scores: {path} (written by genolift {_attr(f, 'genolift_version', '?')}: {_attr(f, 'command')}, "
        f"rule {_attr(f, 'rule')})",
        f"model: {_attr(f, 'model_file')} (sha256 {_attr(f, 'model_sha256')})",
        f"rows: {_rows(f, length)}",
        f"input: {_attr(f, 'regions_file')}" + (f" on {_attr(f, 'genome_file')}" if _attr(f, "genome_file") else ""),
        f"target: {_target(f)}",
        f"references: {_references(f)}",
        f"precision: {_attr(f, 'precision')}; max |delta| {float(_attr(f, C.MAX_ABS_DELTA, np.nan)):.2e}",
        f"datasets (N, L, 4): {datasets}",
    ]
    for name, what in (("averaged_from", "mean of"), (C.MERGED_FROM, "merged from")):
        if name in f.attrs:
            lines.append(f"{what}: {', '.join(map(str, f.attrs[name]))}")
    there = "line i = row i" if regions.exists() else "MISSING: it is written beside the file by the run"
    lines.append(f"scored windows: {regions} ({there})")
    return lines


def _target(f: h5py.File) -> str:
    """What the file explains: a profile target's own words, else the task of the output and its words."""
    if str(_attr(f, "target_kind", "task")).startswith("profile"):
        return str(_attr(f, "target"))
    return f"task {_attr(f, C.TASK)} of output {_attr(f, 'output')!r}: {_attr(f, 'target')}"


def _q(path) -> str:
    return shlex.quote(str(path))


def next_commands(path: str | Path, length: int, regions: Path, with_n: int) -> list[str]:
    """The commands from this score file to motifs, seqlet BED and Fi-NeMo hits, widths set to ``length``.

    Parameters
    ----------
    length : the window length L.
    regions : the file's regions narrowPeak.
    with_n : windows holding N; when any, modisco and Fi-NeMo read the ``--drop-n`` exports instead.
    """
    path = Path(path)
    stem = str(path.with_suffix("") if path.suffix.lower() in (".h5", ".hdf5") else path)
    modisco, hits = f"{stem}.modisco.h5", f"{stem}.finemo_hits"
    regions_npz, w = f"{stem}.finemo.npz", str(length)
    lines = []
    if with_n:
        pair = f"{stem}.noN"
        regions = Path(f"{pair}.regions.narrowPeak")
        regions_npz = f"{pair}.finemo.npz"
        lines += [f"genolift export {_q(path)} --to modisco-npz --drop-n -o {_q(pair + '.npz')}",
                  f"modisco motifs -s {_q(pair + '.ohe.npz')} -a {_q(pair + '.attr.npz')} -n {MAX_SEQLETS} "
                  f"-w {w} -o {_q(modisco)}",
                  f"genolift export {_q(path)} --to finemo-npz --drop-n -o {_q(regions_npz)}",
                  f"  (or: finemo extract-regions-modisco-fmt -s {_q(pair + '.ohe.npz')} -a {_q(pair + '.attr.npz')} "
                  f"-p {_q(regions)} -w {w} -o {_q(regions_npz)})"]
    else:
        lines += [f"modisco motifs -i {_q(path)} -n {MAX_SEQLETS} -w {w} -o {_q(modisco)}",
                  f"genolift export {_q(path)} --to finemo-npz -o {_q(regions_npz)}",
                  f"  (or: finemo extract-regions-bpnet-h5 -c {_q(path)} -p {_q(regions)} -w {w} -o {_q(regions_npz)})"]
    lines += [f"modisco seqlet-bed -i {_q(modisco)} -p {_q(regions)} -c '*' -w {w} -q -o {_q(stem + '.seqlets.bed')}",
              f"finemo call-hits -r {_q(regions_npz)} -m {_q(modisco)} -o {_q(hits)}",
              f"finemo report -r {_q(regions_npz)} -H {_q(hits)} -m {_q(modisco)} -W {w} "
              f"-o {_q(stem + '.finemo_report')}"]
    return lines


def summary(path: str | Path) -> list[str]:
    """Every line ``genolift info SCORES`` prints for the score file ``path``.

    Raises
    ------
    OutputError : not a complete genolift score file.
    """
    with open_scores(path) as f:
        length = _length(f)
        regions = regions_file_of(path, f)
        lines = facts(path, f, length, regions)
        if C.INPUT_SEQS not in f or C.HYP_SCORES not in f:
            return lines + ["modisco and Fi-NeMo read hypothetical scores, which this file has none of; make them "
                            "with genolift hypothetical (or score)"]
        with_n = int(np.count_nonzero(~rows_without_n(f[C.INPUT_SEQS])))
    lines.append(f"windows with N: {with_n}" + (" (modisco cannot take them: the route below leaves them out "
                                                "with genolift export --drop-n)" if with_n else ""))
    if length % 2:
        lines.append(f"note: Fi-NeMo needs an even window length; {length} is odd")
    lines.append(f"next (window length {length}: every -w and -W below is {length}; the tools' defaults, "
                 "modisco's 400 and Fi-NeMo's 1000, would silently shift or cut the windows):")
    return lines + ["  " + line for line in next_commands(path, length, regions, with_n)]
