"""``.npz`` archives written a block of rows at a time, so memory stays flat in the row count.

An ``.npz`` file is a zip archive of ``.npy`` members; a member whose shape
and dtype are known in advance can be written as its header followed by its
rows in order.  ``np.load`` reads the result like any ``np.savez_compressed``
file.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import numpy as np


class NpzStream:
    """A compressed ``.npz`` file being written, one member at a time.

    Parameters
    ----------
    path : the archive to create (overwritten).
    level : zlib level of the members (1 is fast and close to the default's size on scores).
    """

    def __init__(self, path: str | Path, level: int = 1):
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.zip.close()

    def add(self, name: str, array: np.ndarray) -> None:
        """Write a whole (small) array as member ``name``."""
        with self.zip.open(name + ".npy", "w", force_zip64=True) as handle:
            np.lib.format.write_array(handle, np.asarray(array), allow_pickle=False)

    @contextmanager
    def rows(self, name: str, shape: tuple[int, ...], dtype) -> Iterator[Callable[[np.ndarray], None]]:
        """Member ``name`` of ``shape`` written in blocks of rows: yields ``write(block)``.

        Blocks must arrive in row order, each shaped ``(rows, *shape[1:])``; raises
        ValueError on leaving the block if they did not add up to ``shape[0]`` rows.
        """
        dtype = np.dtype(dtype)
        written = 0
        with self.zip.open(name + ".npy", "w", force_zip64=True) as handle:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
            np.lib.format.write_array_header_1_0(handle, header)

            def write(block: np.ndarray) -> None:
                nonlocal written
                block = np.ascontiguousarray(block, dtype=dtype)
                if block.shape[1:] != tuple(shape[1:]):
                    raise ValueError(f"{name}: block of shape {block.shape}, rows of {tuple(shape[1:])} expected")
                handle.write(block.tobytes())
                written += len(block)

            yield write
        if written != shape[0]:
            raise ValueError(f"{name}: {written} of {shape[0]} rows written")
