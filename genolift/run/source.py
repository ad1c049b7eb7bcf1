"""Regions in, one-hot chunks out: the region source and the worker threads that build chunks ahead."""

from __future__ import annotations

import logging
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
        self.skipped_items: list = []  # the windows left out (--off-edge skip), in input order
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
        self.windows, self.skipped_items = filter_windows(windows, self.genome, cfg.regions, cfg.off_edge)
        self.skipped = len(self.skipped_items)
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
    in an input worker thread (its references), or None.
    """

    start: int
    windows: list[Window]
    X: np.ndarray
    inputs: Any


#: What a command builds for a chunk in an input worker thread: (windows, X) -> its inputs.
Prepare = Callable[[list, np.ndarray], Any]


def _build(source: RegionSource, start: int, size: int, prepare: Prepare) -> Chunk:
    end = min(start + size, len(source.windows))
    windows, X = source.windows[start:end], source.one_hot(start, end)
    return Chunk(start, windows, X, prepare(windows, X))


def chunks(source: RegionSource, starts: list[int], size: int, prepare: Prepare,
           threads: int = 1) -> Iterator[Chunk]:
    """The chunks of ``size`` rows at ``starts``, in order, built ahead by ``threads`` worker threads.

    At most ``threads + 1`` chunks are being built or waiting at any time, so
    memory stays flat; a worker's error is raised here, at its chunk.  The
    workers fetch, one-hot encode and build references (the shuffle releases
    the GIL), so they run in parallel with each other and with the engine.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pending: deque = deque()
    todo = iter(starts)
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="genolift-inputs")
    try:
        for start in todo:
            pending.append(pool.submit(_build, source, start, size, prepare))
            if len(pending) > threads:
                break
        while pending:
            chunk = pending.popleft().result()
            for start in todo:
                pending.append(pool.submit(_build, source, start, size, prepare))
                break
            yield chunk
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
