"""HDF5 score files, written incrementally and safely.

Layout of a finished file (DESIGN §7); every array is indexed by region row i:

=========================  ==============  ==========================================
dataset                    shape, dtype    content
=========================  ==============  ==========================================
``input_seqs``             (N, L, 4) f4    one-hot input, channels A, C, G, T
``hyp_scores``             (N, L, 4) f4    hypothetical scores
``contrib_scores``         (N, L, 4) f4    hyp_scores · input_seqs (``score`` only)
``coords_chrom``           (N,) str        window chromosome (FASTA input: record name)
``coords_start/_end``      (N,) i8         window, 0-based half-open
``coords_name/_strand``    (N,) str        region name and strand from the input
``region_line``            (N,) i8         1-based line of the region in its file
``predictions``            (N,) f4         target t(x)
``reference_predictions``  (N, K) f4       target t(r_k)
``deltas``                 (N, K) f4       per-pair summation-to-delta error
``residuals``              (N,) f4         Σ contrib − (t(x) − mean_k t(r_k))
=========================  ==============  ==========================================

``input_seqs`` and ``hyp_scores`` at the root, channels last, are what
``modisco motifs -i FILE`` reads.

While a run is going, each finished chunk of regions is a small file of its
own (``.npz``) in the directory ``NAME.partial/`` (written under a temporary name and
renamed, so a kill at any moment leaves only whole chunks), beside a
``manifest.json`` of the run's parameters and the run's ``lock``
(:mod:`genolift.writers.lock`), which the writer never touches.  ``--resume``
keeps the chunks whose parameters match.  When every chunk is there they are
assembled into one compressed file, which is renamed to ``NAME``; the
directory goes away with the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from .. import _constants as C
from ..errors import OutputError
from ..regions import Window
from .lock import LOCK_NAME

STR = h5py.string_dtype()
MANIFEST = "manifest.json"


def partial_path(path: str | Path) -> Path:
    """The directory where a file's chunks live until it is complete."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def _part_name(start: int) -> str:
    return f"part-{start:012d}.npz"


def _coordinate_arrays(windows: Sequence[Window]) -> dict[str, np.ndarray]:
    return {
        C.COORDS_CHROM: np.array([w.chrom for w in windows], dtype=str),
        C.COORDS_NAME: np.array([w.name for w in windows], dtype=str),
        C.COORDS_STRAND: np.array([w.strand for w in windows], dtype=str),
        C.COORDS_START: np.array([w.start for w in windows], dtype=np.int64),
        C.COORDS_END: np.array([w.end for w in windows], dtype=np.int64),
        C.REGION_LINE: np.array([w.line for w in windows], dtype=np.int64),
    }


class ScoreWriter:
    """Write an N-region score file chunk by chunk.

    Parameters
    ----------
    path : final file name.
    n, length, k : regions, window length, references per region.
    manifest : the run's parameters; a resumed run must match them exactly.
    with_contributions : also store ``contrib_scores``.
    attrs : provenance attributes for the finished file.
    resume : keep the chunks of an earlier run with the same manifest.
    restart : discard the chunks of an earlier run (``--force``) unless resuming.
    score_names : the (N, L, 4) datasets (default :data:`~genolift._constants.SCORE_DATASETS`,
        without ``contrib_scores`` unless ``with_contributions``).
    value_shapes : per-region float32 datasets and their shapes after the row axis
        (default :func:`default_values`).
    strings, ints : names of further per-region (N,) text and int64 datasets (e.g. the variants' fields).
    compression : filter of the (N, L, 4) datasets, one of :data:`COMPRESSIONS`.
    score_dtype : ``float32`` or ``float16`` storage of the (N, L, 4) scores (sequences stay float32).

    The partial directory may hold the run's lock (:class:`~genolift.writers.lock.OutputLock`);
    the writer leaves it alone.
    """

    def __init__(self, path, n: int, length: int, k: int, *, manifest: dict,
                 with_contributions: bool = True, attrs: dict | None = None, resume: bool = False,
                 restart: bool = False, score_names=None, value_shapes=None, strings=(), ints=(),
                 compression: str = "gzip", score_dtype: str = "float32"):
        self.path = Path(path)
        self.dir = partial_path(self.path)
        self.n, self.length, self.k = n, length, k
        self.names = score_names or (C.SCORE_DATASETS if with_contributions else C.SCORE_DATASETS[:2])
        self.values = value_shapes if value_shapes is not None else default_values(k)
        self.strings, self.ints = tuple(strings), tuple(ints)
        self.compression, self.score_dtype = compression, score_dtype
        self.attrs = {key: v for key, v in (attrs or {}).items() if v is not None}
        self.manifest = json.loads(json.dumps({**manifest, "rows": n, "length": length, "k": k}))
        self._prepare(resume, restart)

    def _prepare(self, resume: bool, restart: bool) -> None:
        manifest_file = self.dir / MANIFEST
        if self.dir.exists() and resume and manifest_file.exists():
            old = json.loads(manifest_file.read_text())
            diff = sorted(key for key in set(old) | set(self.manifest) if old.get(key) != self.manifest.get(key))
            if diff:
                raise OutputError(
                    f"{self.dir}: the interrupted run used other parameters ({', '.join(diff)}); "
                    "rerun it with those, or pass --force to start over"
                )
            return
        if self.dir.exists():
            if not resume and not restart and any(self.dir.glob("part-*.npz")):
                raise OutputError(
                    f"{self.dir}: an interrupted run left chunks here; pass --resume to continue it "
                    "or --force to start over"
                )
            self._clear()
        try:
            self.dir.mkdir(exist_ok=True)
            _atomic_write_text(manifest_file, json.dumps(self.manifest, indent=1, sort_keys=True))
        except OSError as exc:
            raise OutputError(f"{self.dir}: cannot be created ({exc.strerror})") from None

    def done(self) -> set[int]:
        """Row starts of the chunks already written (by this or an interrupted run)."""
        return {int(p.name[5:17]) for p in self.dir.glob("part-*.npz")}

    def _clear(self) -> None:
        """Remove everything in the partial directory but a run's lock; the directory too if nothing is left."""
        if not self.dir.is_dir():
            return
        for entry in self.dir.iterdir():
            if entry.name == LOCK_NAME:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:  # the lock is still there: its run removes it with the directory
            pass

    def discard_if_empty(self) -> None:
        """Remove the partial directory of a failed run that wrote no chunk (its lock stays with its run)."""
        if self.dir.exists() and not self.done():
            self._clear()

    def write(self, start: int, windows: Sequence[Window], arrays: dict[str, np.ndarray]) -> None:
        """Store rows ``start .. start + len(windows)`` (``arrays`` by dataset name)."""
        final = self.dir / _part_name(start)
        tmp = final.with_suffix(".tmp")
        kept = {*self.names, *self.values, *self.strings, *self.ints}
        data = {**_coordinate_arrays(windows), **{k: v for k, v in arrays.items() if k in kept}}
        try:
            with open(tmp, "wb") as handle:
                np.savez(handle, **data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(
                f"{self.path}: writing rows {start}..{start + len(windows)} failed ({_reason(exc)}); free "
                "space and rerun with --resume"
            ) from None

    def _parts(self) -> list[tuple[int, Path]]:
        parts = sorted((int(p.name[5:17]), p) for p in self.dir.glob("part-*.npz"))
        expected = 0
        for start, part in parts:
            if start != expected:
                raise OutputError(f"{self.dir}: rows {expected}..{start} are missing; rerun with --resume")
            with np.load(part) as handle:
                expected += len(handle[C.COORDS_START])
        if expected != self.n:
            raise OutputError(f"{self.dir}: {expected} of {self.n} rows written; rerun with --resume")
        return parts

    def finish(self, attrs: dict | None = None) -> Path:
        """Assemble the chunks into the final file and remove the partial directory."""
        assembled = self.dir / "assembled.h5"
        parts = self._parts()
        try:
            _assemble(assembled, parts, self._create,
                      {**self.attrs, **{k: v for k, v in (attrs or {}).items() if v is not None}})
            os.replace(assembled, self.path)
        except OSError as exc:
            assembled.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: assembling the output failed ({_reason(exc)}); free space and "
                              "rerun with --resume") from None
        self._clear()
        return self.path

    def _create(self, out: h5py.File) -> None:
        create_layout(out, self.n, self.length, self.names, self.values, self.strings, self.ints,
                      self.compression, self.score_dtype)


def default_values(k: int) -> dict:
    """Per-region value datasets of a score file and their shapes after the row axis."""
    return {C.PREDICTIONS: (), C.RESIDUALS: (), C.REFERENCE_PREDICTIONS: (k,), C.DELTAS: (k,)}


#: Filters of the (N, L, 4) datasets: all three are read by plain h5py (LZF ships with it).
COMPRESSIONS = ("gzip", "lzf", "none")


def create_layout(out: h5py.File, n: int, length: int, score_names, value_shapes: dict, strings=(),
                  ints=(), compression: str = "gzip", score_dtype: str = "float32") -> None:
    """Create the empty datasets of an n-row file (chunked by region; gzip, lzf or no compression);
    ``strings`` and ``ints`` name further (n,) text and int64 datasets besides the coordinates."""
    if compression not in COMPRESSIONS:
        raise OutputError(f"--compression {compression!r}: give one of {', '.join(COMPRESSIONS)}")
    filters = {"gzip": {"compression": "gzip", "compression_opts": 1, "shuffle": True},
               "lzf": {"compression": "lzf", "shuffle": True}, "none": {}}[compression]
    packed = {"chunks": (min(64, n), length, 4), **filters} if n else {}
    for name in score_names:
        dtype = np.float32 if name in C.SEQUENCE_DATASETS else np.dtype(score_dtype)
        out.create_dataset(name, (n, length, 4), dtype, **packed)
    for name in (*C.STRING_DATASETS, *strings):
        out.create_dataset(name, (n,), STR)
    for name in (*C.INT_DATASETS, *ints):
        out.create_dataset(name, (n,), np.int64)
    for name, shape in value_shapes.items():
        out.create_dataset(name, (n, *shape), np.float32)
    out.attrs.update({C.FORMAT: C.FORMAT_NAME, C.FORMAT_VERSION_ATTR: C.FORMAT_VERSION})


def _assemble(path: Path, parts, create, attrs: dict) -> None:
    """Copy the chunk files into one file; raise OSError if any write fails.

    The compressed score datasets are written as ready-made HDF5 chunks
    (:class:`_ChunkCompressor`), compressed on every core; the rest go
    through h5py.  HDF5's chunk cache is off so that a failed write (a full
    disk) raises at the write call, and the file is closed in a way that
    cannot raise again.
    """
    out = h5py.File(path, "w", rdcc_nbytes=0)
    packed: dict = {}
    try:
        create(out)
        packed = {name: _ChunkCompressor(out[name]) for name in out if _ChunkCompressor.fits(out[name])}
        for start, part in parts:
            with np.load(part) as handle:
                rows = len(handle[C.COORDS_START])
                for name in handle.files:
                    values = handle[name]
                    if name in packed:
                        packed[name].add(values)
                    elif values.dtype.kind == "U":
                        out[name][start:start + rows] = values.astype(object)
                    else:  # converted here: HDF5's own float32 -> float16 conversion is many times slower
                        out[name][start:start + rows] = values.astype(out[name].dtype, copy=False)
        for compressor in packed.values():
            compressor.close()
        out.attrs.update(attrs)
        out.attrs[C.COMPLETE] = True
        out.flush()
    finally:
        for compressor in packed.values():  # after a failed write: stop the compressing threads
            compressor.pool.shutdown(wait=True, cancel_futures=True)
        _close_quietly(out)


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


def _close_quietly(handle: h5py.File) -> None:
    """Close a file whose last writes may have failed, without raising again."""
    try:
        handle.close()
    except (OSError, RuntimeError):
        pass


def _reason(exc: OSError) -> str:
    text = str(exc)
    if "errno = 28" in text or "No space" in text:
        return "no space left on device"
    if "errno = 27" in text or "too large" in text:
        return "file size limit reached"
    return text.splitlines()[0][:200]


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
