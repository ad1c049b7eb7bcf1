"""Names of the ``.npz`` pair that ``modisco motifs -s SEQS -a ATTRS`` reads (written by
:func:`genolift.downstream.export`, streaming, for ``--format npz`` and ``genolift export --to modisco-npz``)."""

from __future__ import annotations

from pathlib import Path


def npz_paths(output: str | Path) -> tuple[Path, Path]:
    """``scores.h5`` → (``scores.ohe.npz``, ``scores.attr.npz``)."""
    output = Path(output)
    stem = output.with_suffix("") if output.suffix in (".h5", ".hdf5") else output
    return stem.with_name(stem.name + ".ohe.npz"), stem.with_name(stem.name + ".attr.npz")
