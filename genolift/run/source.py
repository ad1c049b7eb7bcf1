"""Regions in, one-hot chunks out: the region source and the producer thread that works one chunk ahead."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from ..errors import ReferencesError, RegionError
from ..regions import Window, duplicates, is_fasta, read_bed, read_fasta_sequences
from ..sequences import Genome, filter_windows, one_hot_encode_many
from .config import RunConfig

log = logging.getLogger("genolift")


class RegionSource:
    """The windows of a run and their one-hot sequences.

    A FASTA of sequences is read whole; BED/narrowPeak windows are fetched from
    the genome per chunk.  Windows running off a chromosome end are handled by
    ``cfg.off_edge`` and counted in :attr:`skipped`.  Use as a context manager
    (closes the genome).
    """

    def __init__(self, cfg: RunConfig, length: int):
        self.genome = None
        self._seqs = None
        self.skipped = 0
        if is_fasta(cfg.regions):
            if cfg.genome is not None:
                log.info("%s is a FASTA of sequences; the genome (-g/GENOLIFT_GENOME) is not used", cfg.regions)
            self.windows, self._seqs = read_fasta_sequences(cfg.regions, length)
            return
        if cfg.genome is None:
            raise RegionError(f"{cfg.regions}: BED regions need a genome FASTA; pass -g/--genome "
                              "or set the GENOLIFT_GENOME environment variable")
        self.genome = Genome(cfg.genome)
        windows = read_bed(cfg.regions, length)
        repeated = duplicates(windows)
        if repeated:
            log.warning("%s: %d region(s) repeat an earlier window; each is scored (same references)",
                        cfg.regions, repeated)
        self.windows, self.skipped = filter_windows(windows, self.genome, cfg.regions, cfg.off_edge)
        if not self.windows:
            self.close()
            raise RegionError(f"{cfg.regions}: every window runs off a chromosome end; try --off-edge pad")

    def __enter__(self) -> "RegionSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def one_hot(self, start: int, stop: int) -> np.ndarray:
        """(stop − start, L, 4) float32 sequences of windows[start:stop]."""
        if self._seqs is not None:
            return one_hot_encode_many(self._seqs[start:stop])
        return one_hot_encode_many([self.genome.fetch(w) for w in self.windows[start:stop]])

    def close(self) -> None:
        if self.genome is not None:
            self.genome.close()
            self.genome = None


def estimate_gc(source: RegionSource, chunk: int) -> float:
    """G+C fraction over the A, C, G and T bases of every window of ``source`` (read ``chunk`` at a time)."""
    gc = acgt = 0.0
    for start in range(0, len(source.windows), chunk):
        X = source.one_hot(start, min(start + chunk, len(source.windows)))
        counts = X.sum(axis=(0, 1))
        gc += counts[1] + counts[2]
        acgt += counts.sum()
    if acgt == 0:
        raise ReferencesError("the scored windows hold no A, C, G or T; cannot estimate --gc")
    return float(gc / acgt)


class Chunk(NamedTuple):
    """Rows [start, start + len(windows)) of the run, ready for the engine.

    ``X`` is (n, L, 4) float32; ``inputs`` is what the command built beside it
    in the producer thread (its references), or None.
    """

    start: int
    windows: list[Window]
    X: np.ndarray
    inputs: Any


#: What a command builds for a chunk in the producer thread: (windows, X) -> its inputs.
Prepare = Callable[[list, np.ndarray], Any]


def _produce(source: RegionSource, starts: list[int], size: int, prepare: Prepare, out: queue.Queue,
             stop: threading.Event) -> None:
    try:
        for start in starts:
            if stop.is_set():
                return
            end = min(start + size, len(source.windows))
            windows, X = source.windows[start:end], source.one_hot(start, end)
            out.put(Chunk(start, windows, X, prepare(windows, X)))
        out.put(None)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        out.put(exc)


def chunks(source: RegionSource, starts: list[int], size: int, prepare: Prepare) -> Iterator[Chunk]:
    """The chunks of ``size`` rows at ``starts``, each built one step ahead in a producer thread."""
    q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(source, starts, size, prepare, q, stop), daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
