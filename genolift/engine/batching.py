"""Batch layout, row padding, aligned chunks, devices and dispatch: the one batching path of the engine.

A device batch holds S sequences × J references (pairs); a short last batch
uses a smaller traced shape (:func:`batch_rows`); chunks of regions hold whole
device batches (:func:`aligned_chunk`).  The DeepLIFT rules, the gradient
rules and in-silico mutagenesis all cut their rows with :func:`row_blocks` or
:func:`pair_batches`, pad them with :func:`pad_rows` and run their traced step
functions through one :class:`Dispatcher`.
"""

from __future__ import annotations

from typing import Callable, Iterator, NamedTuple

import numpy as np

from ..errors import DeviceError
from .results import ChunkResult


def resolve_devices(spec, xp=None) -> list[str] | None:
    """Device names from None, "all", "0,1", ["/GPU:0", "cpu"]...; checked against the backend's devices.

    ``xp`` is the backend module (default: the default backend).  GPU indices name the
    backend's GPUs in order; names are compared without case and without
    TensorFlow's ``/device:`` prefix.
    """
    if spec is None:
        return None
    if xp is None:
        from .backends import load

        xp = load()
    logical = xp.devices()
    gpus = [name for name in logical if xp.is_gpu(name)]
    if spec == "all":
        return gpus or [name for name in logical if not xp.is_gpu(name)][:1]
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    short = {_short(name): name for name in logical}
    resolved = []
    for item in (str(i).strip() for i in items):
        if item.isdigit() and int(item) < len(gpus):
            resolved.append(gpus[int(item)])
        elif _short(item) in short:
            resolved.append(short[_short(item)])
        else:
            raise DeviceError(f"--devices {spec!r}: device {item!r} is not available; {xp.NAME} sees "
                              f"{', '.join(logical)} (give GPU indices like 0,1, device names, or all)")
    return resolved


def _short(name: str) -> str:
    return name.replace("/device:", "/").lstrip("/").upper()


def batch_layout(batch_size: int, k: int) -> tuple[int, int]:
    """(S sequences, J references each) per device batch for K references per sequence."""
    j = min(k, batch_size)
    return max(1, batch_size // j), j


#: Fewest rows of a short batch (when the full batch has more): tiny batches cost little to pad.
MIN_BATCH_ROWS = 16


def batch_rows(m: int, full: int) -> int:
    """Rows of the batch that holds the last m < full rows.

    The smallest of full, ⌈full/4⌉, ⌈full/16⌉, … that holds m rows, and at
    least min(full, :data:`MIN_BATCH_ROWS`).  A short last batch (the end of
    a run, the few sequences with N under a GC background) then pads at most
    about three quarters of itself or a handful of rows, and each engine
    traces and compiles (about a second each on a CPU) few batch shapes.
    """
    rows = full
    while rows > MIN_BATCH_ROWS and max(-(-rows // 4), MIN_BATCH_ROWS) >= m:
        rows = max(-(-rows // 4), MIN_BATCH_ROWS)
    return rows


def aligned_chunk(chunk: int, batch_size: int, k: int) -> int:
    """Sequences per chunk rounded down to whole device batches (unchanged when below one batch).

    A chunk of n sequences fills ⌈n / S⌉ batches of S sequences (S from
    :func:`batch_layout`; S = batch size with one shared reference, k = 1), the
    last one padded: a chunk that is a multiple of S pads none.
    """
    s, _ = batch_layout(batch_size, k)
    return chunk if chunk < s else chunk // s * s


def pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    """a (m, ...) with zero rows appended up to (rows, ...); a itself when it has them already."""
    if a.shape[0] == rows:
        return a
    out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def row_blocks(n: int, full: int) -> Iterator[tuple[int, int, int]]:
    """(start, stop, rows) of each batch of n rows, ``full`` at most: rows is its traced shape (:func:`batch_rows`)."""
    for i0 in range(0, n, full):
        i1 = min(i0 + full, n)
        yield i0, i1, batch_rows(i1 - i0, full)


class PairBatch(NamedTuple):
    """Sequences [i0, i1) × their references [j0, j1) in a device batch of s sequences × j references."""

    i0: int
    i1: int
    j0: int
    j1: int
    s: int
    j: int


def pair_batches(n: int, k: int, batch_size: int) -> list[PairBatch]:
    """The device batches of n sequences × k references each (:func:`batch_layout`, short last batches)."""
    s_full, j = batch_layout(batch_size, k)
    return [PairBatch(i0, i1, j0, min(j0 + j, k), s, j)
            for i0, i1, s in row_blocks(n, s_full) for j0 in range(0, k, j)]


def pair_arrays(b: PairBatch, X: np.ndarray, R: np.ndarray, extras) -> tuple:
    """The step arguments of batch b, padded with zero rows (weight 0).

    Returns (references (s·j, L, 4), sequences (s, L, 4), weight (s·j,) 1 for
    real pairs, then each extra input's (s, ...) rows).
    """
    block = np.zeros((b.s, b.j, *X.shape[1:]), X.dtype)
    block[: b.i1 - b.i0, : b.j1 - b.j0] = R[b.i0:b.i1, b.j0:b.j1]
    weight = np.zeros((b.s, b.j), X.dtype)
    weight[:, : b.j1 - b.j0] = 1.0
    return (block.reshape(b.s * b.j, *X.shape[1:]), pad_rows(X[b.i0:b.i1], b.s), weight.reshape(-1),
            *(pad_rows(e[b.i0:b.i1], b.s) for e in extras))


def run_pairs(dispatcher: "Dispatcher", step_for: Callable, X: np.ndarray, R: np.ndarray, extras, batch_size: int,
              tasks: int) -> list[ChunkResult]:
    """Every (sequence, reference) pair of X (n, L, 4) and R (n, K, L, 4) through the pair steps, per task.

    ``step_for(s, j)`` gives the traced step of a batch of s sequences × j
    references; it takes :func:`pair_arrays` and returns the hypothetical
    scores summed over the batch's references of each sequence (T, s, L, 4),
    then t(x) (T, s·j), t(r) (T, s·j) and the deltas (T, s·j).  The results
    hold the sums over all K references (divide by K for the mean).
    """
    n, k = R.shape[:2]
    hyp = np.zeros((tasks, *X.shape), X.dtype)
    t_x = np.zeros((tasks, n), X.dtype)
    t_r, delta = np.zeros((tasks, n, k), X.dtype), np.zeros((tasks, n, k), X.dtype)
    jobs = [(b, step_for(b.s, b.j), pair_arrays(b, X, R, extras)) for b in pair_batches(n, k, batch_size)]
    for b, (h, tx, tr, d) in dispatcher.run(jobs):
        m, width = b.i1 - b.i0, b.j1 - b.j0
        hyp[:, b.i0:b.i1] += h[:, :m]
        t_x[:, b.i0:b.i1] = tx.reshape(tasks, b.s, b.j)[:, :m, 0]
        t_r[:, b.i0:b.i1, b.j0:b.j1] = tr.reshape(tasks, b.s, b.j)[:, :m, :width]
        delta[:, b.i0:b.i1, b.j0:b.j1] = d.reshape(tasks, b.s, b.j)[:, :m, :width]
    return [ChunkResult(hyp[t], t_x[t], t_r[t], delta[t]) for t in range(tasks)]


class Dispatcher:
    """Runs step functions (:class:`~genolift.engine.compile.Step`) over a list of devices.

    Parameters
    ----------
    devices : resolved device names (:func:`resolve_devices`), or None for
        the backend's default device.
    xp : the backend module (default: :func:`~genolift.engine.backends.default_backend`).

    Attributes
    ----------
    startup_seconds : seconds of tracing and compiling of the steps run so far
        (:attr:`Step.startup_seconds <genolift.engine.compile.Step.startup_seconds>`).
    """

    def __init__(self, devices: list[str] | None = None, xp=None):
        if xp is None:
            from .backends import load

            xp = load()
        self.devices, self.xp = devices, xp
        self._steps: dict[int, object] = {}

    @property
    def startup_seconds(self) -> float:
        return sum(step.startup_seconds for step in self._steps.values())

    def placed(self, device: str | None = None):
        """Context placing eager work on ``device`` (default: the first device, else the backend's choice)."""
        return self.xp.placed(device or (self.devices[0] if self.devices else None))

    def run(self, jobs: list) -> Iterator[tuple[object, list[np.ndarray]]]:
        """Run step(*args) for each (key, step, args) job, spread over the devices.

        Calls are issued to every device before any result is read, so
        several devices compute at once; yields (key, numpy outputs) in job order.
        """
        devices = self.devices or [None]
        for g0 in range(0, len(jobs), len(devices)):
            pending = [(key, self._call(device, step, args))
                       for device, (key, step, args) in zip(devices, jobs[g0:g0 + len(devices)])]
            for key, out in pending:
                yield key, [self.xp.to_numpy(o) for o in out]

    def _call(self, device: str | None, step, args: tuple) -> list:
        self._steps.setdefault(id(step), step)
        with self.placed(device):
            return step(*args, device=device)
