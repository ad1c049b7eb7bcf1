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
keeps the chunks whose parameters match.  Each chunk is also copied into the
compressed final file as soon as it is on disk (:mod:`.assembly`), so when
the last chunk is there the file is renamed to ``NAME`` at once (a resumed
run assembles it from the chunk files); the directory goes away with the lock.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from .. import _constants as C
from ..errors import OutputError
from ..regions import Window
from .assembly import Assembler, assemble_parts
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
    on_complete : called with the path of the assembled, complete file before it is renamed to ``path``
        (to add what needs every row, e.g. the variants' p-values); an OSError it raises fails the finish.

    The partial directory may hold the run's lock (:class:`~genolift.writers.lock.OutputLock`);
    the writer leaves it alone.
    """

    def __init__(self, path, n: int, length: int, k: int, *, manifest: dict,
                 with_contributions: bool = True, attrs: dict | None = None, resume: bool = False,
                 restart: bool = False, score_names=None, value_shapes=None, strings=(), ints=(),
                 compression: str = "gzip", score_dtype: str = "float32", on_complete=None):
        self.path = Path(path)
        self.on_complete = on_complete
        self.dir = partial_path(self.path)
        self.n, self.length, self.k = n, length, k
        self.names = score_names or (C.SCORE_DATASETS if with_contributions else C.SCORE_DATASETS[:2])
        self.values = value_shapes if value_shapes is not None else default_values(k)
        self.strings, self.ints = tuple(strings), tuple(ints)
        self.compression, self.score_dtype = compression, score_dtype
        self.attrs = {key: v for key, v in (attrs or {}).items() if v is not None}
        self.manifest = json.loads(json.dumps({**manifest, "rows": n, "length": length, "k": k}))
        self._prepare(resume, restart)
        #: The final file, built as chunks arrive in row order (a fresh run); None once that is given up.
        self._live: Assembler | None = None
        self._live_ok = not self.done()

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
        """Close the file being assembled; remove the partial directory of a failed run that wrote no chunk
        (its lock stays with its run)."""
        self._give_up_live()
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
        self._assemble_live(start, data)

    def _assemble_live(self, start: int, data: dict) -> None:
        """Copy a chunk that is safely on disk into the final file, if chunks have come in row order so far.

        Otherwise (a resumed run, a failed write) the file is assembled from the chunk files at the end.
        """
        if not self._live_ok:
            return
        try:
            if self._live is None and start == 0:
                self._live = Assembler(self.dir / "assembled.h5", self._create)
            if self._live is None or start != self._live.row:
                raise ValueError("out of order")
            self._live.add(start, data)
        except (OSError, ValueError):
            self._give_up_live()

    def _give_up_live(self) -> None:
        self._live_ok = False
        if self._live is not None:
            self._live.abort()
            self._live = None

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
        attrs = {**self.attrs, **{k: v for k, v in (attrs or {}).items() if v is not None}}
        try:
            live, self._live = self._live, None
            if live is not None and live.row == self.n:
                live.close(attrs)
            else:
                if live is not None:
                    live.abort()
                assemble_parts(assembled, parts, self._create, attrs)
            record_max_delta(assembled)  # over every chunk, those of an earlier, interrupted process too
            if self.on_complete is not None:
                self.on_complete(assembled)
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


def record_max_delta(path: Path) -> None:
    """Set the file's ``max_abs_delta`` from its delta datasets (a resumed run computed only some chunks)."""
    with h5py.File(path, "r+") as out:
        found = [float(np.abs(out[name][...]).max(initial=0.0)) for name in (C.DELTAS, C.REF_DELTAS, C.ALT_DELTAS)
                 if name in out and out[name].size]
        if found:
            out.attrs[C.MAX_ABS_DELTA] = max(found)


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
