"""What each command adds to the common run (:mod:`genolift.run.driver`); subclassed in score.py and ism.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .config import RunConfig


class Clock:
    """Seconds by stage, in the order the stages first ran."""

    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        """Add the time since the last lap to ``stage``."""
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
        self.last = now

    def skip(self) -> None:
        """Count the time since the last lap to no stage."""
        self.last = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class Command:
    """The parts of a run that differ between commands.

    The driver loads the model, builds the engine with :attr:`rule`,
    :attr:`target` and :attr:`steps`, reads the regions, and then, per chunk,
    calls :meth:`prepare` in an input worker thread and :meth:`compute` on the
    engine, and writes what :meth:`compute` returns, one dict of arrays per task.
    """

    #: The ``command`` setting of the files.
    name = ""
    rule = "rescale"
    target = "task"
    steps = 50
    #: Further keyword arguments of the engine (the rule's options).
    engine_options: dict = {}
    #: References per region (the pairs each region is scored against; 0 for none).
    k = 0
    #: Whether the run writes the regions narrowPeak of its rows beside each output (:mod:`.scored_windows`).
    writes_regions = True

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.max_delta = 0.0
        self.gc_source: str | None = None

    def use_engine(self, engine) -> None:
        """Record what the engine resolved: its batch size (``--batch-size auto``) and compilation."""
        from dataclasses import replace

        self.cfg = replace(self.cfg, batch_size=getattr(engine, "batch_size", 256),
                           compile=getattr(engine, "compile", self.cfg.compile or "auto"))

    def check(self, graph) -> None:
        """Refuse options that do not fit the model (before any region is read)."""

    def open_source(self, length: int):
        """The rows of the run (windows, one-hot chunks), a context manager: a :class:`.source.RegionSource`."""
        from .source import RegionSource

        return RegionSource(self.cfg, length)

    def pairs(self, n: int) -> int:
        """(sequence, reference) pairs computed for ``n`` rows."""
        return n * self.k

    def extra_outputs(self, outputs: dict[int, Path]) -> list[tuple[str, Path]]:
        """(option, path) of the files written besides the HDF5 ``outputs`` (task → path)."""
        return []

    def start(self, source, clock: Clock) -> None:
        """Work on all the regions before the first chunk (e.g. estimate the GC fraction)."""

    def settings(self) -> dict:
        """This command's part of :data:`genolift._constants.SETTINGS`."""
        raise NotImplementedError

    def layout(self) -> dict:
        """Keyword arguments of :class:`~genolift.writers.hdf5.ScoreWriter`: the datasets to store."""
        raise NotImplementedError

    def task_target(self, graph, task):
        """The target of task ``task``'s file when the run writes several."""
        from ..engine import select_target

        return select_target(graph, self.cfg.model_output, task, self.target)

    def describe(self, n: int) -> str:
        """What the run does to its ``n`` rows, for the log."""
        return f"scoring {n} region(s)"

    def prepare(self, windows: list, X: np.ndarray) -> Any:
        """What the engine needs beside the (n, L, 4) sequences X (input worker threads)."""
        return None

    def compute(self, chunk, engine) -> list[dict[str, np.ndarray]]:
        """Arrays to write for ``chunk``, by dataset name, one dict per task."""
        raise NotImplementedError

    def finish(self, outputs: dict[int, Path], clock: Clock) -> list[Path]:
        """Write the extra outputs from the finished HDF5 ``outputs`` (task → path); return their paths."""
        return []

    def report(self, n: int) -> None:
        """Warnings at the end of a run of ``n`` rows."""
