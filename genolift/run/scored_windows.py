"""The run's regions narrowPeak: line i is the window of score row i, beside each task's file.

Fi-NeMo's ``-p`` and ``modisco seqlet-bed -p`` need the windows that were
scored, in row order; the input file is not that file once windows are skipped
or regions come from BED or FASTA (:mod:`genolift.downstream.regions_file`).
The file is named after the output (``scores.h5`` → ``scores.regions.narrowPeak``)
or given by ``--regions-out`` (``{task}`` per task), checked with the other
outputs before the run, and written from the finished file at the end, so a
resumed run (re)writes it too; a shard writes the rows of its shard.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .. import _constants as C
from ..downstream.regions_file import regions_path_for, write_regions_file
from .command import Clock
from .config import RunConfig
from .outputs import per_task

log = logging.getLogger("genolift")

#: How the regions file is named in refusals when ``--regions-out`` was not given.
DEFAULT_LABEL = "the regions file of -o (--regions-out)"


def regions_paths(cfg: RunConfig, outputs: dict[int, Path]) -> dict[int, Path]:
    """The regions file of each task's output (task → path)."""
    if cfg.regions_out is None:
        return {task: regions_path_for(path) for task, path in outputs.items()}
    return per_task(cfg.regions_out, tuple(outputs), "--regions-out")


def labelled(cfg: RunConfig, regions: dict[int, Path]) -> list[tuple[str, Path]]:
    """(option, path) of the regions files, for the checks before the run."""
    label = "--regions-out" if cfg.regions_out is not None else DEFAULT_LABEL
    return [(label, path) for path in regions.values()]


def attributes(length: int, output: Path, regions: Path | None) -> dict:
    """Root attributes of the score file ``output``: the window length, and where its regions file is
    (relative to the score file's directory: its name when beside it; None when there is none)."""
    if regions is None:
        return {C.WINDOW_LENGTH: length, C.SCORED_REGIONS: None}
    where = os.path.relpath(os.path.abspath(regions), os.path.abspath(Path(output).parent))
    return {C.WINDOW_LENGTH: length, C.SCORED_REGIONS: where}


def write(outputs: dict[int, Path], regions: dict[int, Path], clock: Clock) -> list[Path]:
    """Write the regions file of each finished output that has one (overwriting: the run checked them
    before it started).

    Returns
    -------
    list of Path : the regions files written, in the order of ``outputs``.
    """
    written = []
    for task, path in outputs.items():
        if task in regions:
            written.append(write_regions_file(path, regions[task], force=True))
            log.info("scored windows, in row order -> %s", regions[task])
    if written:
        clock.lap("writing the regions file")
    return written
