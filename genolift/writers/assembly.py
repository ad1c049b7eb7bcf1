"""The finished score file, assembled from chunks of rows handed over in row order.

An :class:`Assembler` creates the file's empty datasets and copies each chunk
of rows into them.  The writer feeds it each chunk as soon as the chunk is
safely on disk, so the file is built while the run goes on and finishing is a
rename; a resumed run, whose chunks do not arrive in order, assembles the file
from the chunk files at the end instead (:func:`assemble_parts`).

The compressed score datasets are written as ready-made HDF5 chunks
(:class:`_ChunkCompressor`), compressed on every core; the rest go through
h5py.  HDF5's chunk cache is off so that a failed write (a full disk) raises
at the write call, and the file is closed in a way that cannot raise again.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from .. import _constants as C


class Assembler:
    """Build the file at ``path`` (its datasets made by ``create(file)``) from chunks of rows, in row order.

    :meth:`add` raises OSError when a write fails; :meth:`abort` then closes
    the file without raising again.
    """

    def __init__(self, path: Path, create: Callable[[h5py.File], None]):
        self.path, self.row = Path(path), 0
        self.out = h5py.File(self.path, "w", rdcc_nbytes=0)
        self.packed: dict = {}
        try:
            create(self.out)
            self.packed = {name: _ChunkCompressor(self.out[name]) for name in self.out
                           if _ChunkCompressor.fits(self.out[name])}
        except BaseException:
            self.abort()
            raise

    def add(self, start: int, arrays) -> None:
        """Copy the rows ``start ..`` of ``arrays`` (a mapping: dataset name → rows); ``start`` must be :attr:`row`."""
        if start != self.row:
            raise ValueError(f"rows {start}.. handed over after rows ..{self.row}: chunks must come in row order")
        rows = len(arrays[C.COORDS_START])
        for name in arrays:
            values = arrays[name]
            if name in self.packed:
                self.packed[name].add(values)
            elif values.dtype.kind == "U":
                self.out[name][start:start + rows] = values.astype(object)
            else:  # converted here: HDF5's own float32 -> float16 conversion is many times slower
                self.out[name][start:start + rows] = values.astype(self.out[name].dtype, copy=False)
        self.row += rows

    def close(self, attrs: dict) -> None:
        """Write what is pending and the attributes, mark the file complete and close it; raise OSError on failure."""
        try:
            for compressor in self.packed.values():
                compressor.close()
            self.out.attrs.update(attrs)
            self.out.attrs[C.COMPLETE] = True
            self.out.flush()
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop the compressing threads and close the file (left incomplete), without raising."""
        for compressor in self.packed.values():
            compressor.pool.shutdown(wait=True, cancel_futures=True)
        try:
            self.out.close()
        except (OSError, RuntimeError):
            pass


def assemble_parts(path: Path, parts, create, attrs: dict) -> None:
    """Assemble the chunk files ``parts`` ((row start, .npz path), in order) into ``path``; raise OSError on failure."""
    assembler = Assembler(path, create)
    try:
        for start, part in parts:
            with np.load(part) as handle:
                assembler.add(start, handle)
    except BaseException:
        assembler.abort()
        raise
    assembler.close(attrs)


class _ChunkCompressor:
    """Fill a chunked dataset (shuffle + gzip filters) row by row with chunks compressed here.

    Rows arrive in order; each whole chunk of rows goes through the same
    filters HDF5 would apply (byte shuffle, then zlib at the dataset's
    level) in a thread pool, and is stored with ``write_direct_chunk``, so
    compression runs on every core instead of one.  The last chunk is
    padded with zeros to full size, as HDF5 stores edge chunks.
    """

    def __init__(self, dataset: h5py.Dataset, workers: int | None = None):
        from concurrent.futures import ThreadPoolExecutor

        self.dataset, self.rows = dataset, dataset.chunks[0]
        self.level = dataset.compression_opts
        self.workers = workers or min(8, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(max_workers=self.workers)
        self.pending: list = []
        self.buffer: list[np.ndarray] = []
        self.buffered = 0
        self.written = 0

    @staticmethod
    def fits(dataset) -> bool:
        """Whether ``dataset`` is chunked by rows with exactly the shuffle and gzip filters."""
        return (isinstance(dataset, h5py.Dataset) and dataset.chunks is not None
                and dataset.compression == "gzip" and dataset.shuffle and not dataset.fletcher32
                and dataset.scaleoffset is None and dataset.chunks[1:] == dataset.shape[1:]
                and dataset.dtype.kind == "f")

    def _compress(self, block: np.ndarray) -> bytes:
        raw = np.ascontiguousarray(block, dtype=self.dataset.dtype.newbyteorder("<"))
        shuffled = raw.view(np.uint8).reshape(-1, raw.itemsize).T.tobytes()
        return zlib.compress(shuffled, self.level)

    def _submit(self, block: np.ndarray) -> None:
        self.pending.append((self.written, self.pool.submit(self._compress, block)))
        self.written += self.rows
        while len(self.pending) > 2 * self.workers:
            self._write_oldest()

    def _write_oldest(self) -> None:
        row, future = self.pending.pop(0)
        self.dataset.id.write_direct_chunk((row,) + (0,) * (self.dataset.ndim - 1), future.result())

    def add(self, values: np.ndarray) -> None:
        """Append rows (in order)."""
        self.buffer.append(values)
        self.buffered += len(values)
        if self.buffered < self.rows:
            return
        rows = np.concatenate(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
        whole = len(rows) // self.rows * self.rows
        for i in range(0, whole, self.rows):
            self._submit(rows[i:i + self.rows])
        self.buffer = [rows[whole:]] if whole < len(rows) else []
        self.buffered = len(rows) - whole

    def close(self) -> None:
        """Write the last (zero-padded) chunk and everything pending; raise OSError if a write failed."""
        try:
            if self.buffered:
                last = np.zeros((self.rows, *self.dataset.shape[1:]), self.dataset.dtype)
                rows = np.concatenate(self.buffer)
                last[: len(rows)] = rows
                self._submit(last)
            while self.pending:
                self._write_oldest()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.written < self.dataset.shape[0]:
            raise OSError(f"{self.dataset.name}: {self.written} of {self.dataset.shape[0]} rows written")
