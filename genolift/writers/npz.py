"""The ``.npz`` pair that ``modisco motifs -s SEQS -a ATTRS`` reads: (N, 4, L) under ``arr_0``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import _constants as C
from .reading import open_scores


def npz_paths(output: str | Path) -> tuple[Path, Path]:
    """``scores.h5`` → (``scores.ohe.npz``, ``scores.attr.npz``)."""
    output = Path(output)
    stem = output.with_suffix("") if output.suffix in (".h5", ".hdf5") else output
    return stem.with_name(stem.name + ".ohe.npz"), stem.with_name(stem.name + ".attr.npz")


def write_npz_pair(scores: str | Path, output: str | Path) -> tuple[Path, Path]:
    """Write one-hot sequences and hypothetical scores, transposed to (N, 4, L).

    The arrays are held in memory once (npz cannot be written in pieces).
    """
    seqs_path, attr_path = npz_paths(output)
    with open_scores(scores, needs=(C.INPUT_SEQS, C.HYP_SCORES)) as f:
        for name, path in ((C.INPUT_SEQS, seqs_path), (C.HYP_SCORES, attr_path)):
            array = np.ascontiguousarray(f[name][()].transpose(0, 2, 1))
            tmp = path.with_name(path.name + ".partial.npz")
            np.savez_compressed(tmp, array)
            os.replace(tmp, path)
    return seqs_path, attr_path
