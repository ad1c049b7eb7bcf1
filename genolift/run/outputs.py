"""Where a run writes: one file per task, the rows of a shard, and the checks made before anything is written."""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputError
from ..writers.paths import check_output, refuse_clobbering
from .config import RunConfig

TASK_PLACEHOLDER = "{task}"


def per_task(path: Path, tasks: tuple, option: str) -> dict[int, Path]:
    """Path of each task: ``{task}`` in the name is replaced by the task index (required for several tasks)."""
    name = str(path)
    if len(tasks) > 1 and TASK_PLACEHOLDER not in name:
        raise OutputError(f"{path}: several tasks need a {TASK_PLACEHOLDER} placeholder in {option} "
                          f"(e.g. scores.{TASK_PLACEHOLDER}.h5)")
    return {task: Path(name.replace(TASK_PLACEHOLDER, str(task))) for task in tasks}


def shard_rows(n: int, chunk: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """Rows [lo, hi) of shard (i, n_shards) of n rows: a contiguous run of whole chunks of ``chunk`` rows."""
    if shard is None:
        return 0, n
    i, count = shard
    chunks = (n + chunk - 1) // chunk
    lo, hi = i * chunks // count, (i + 1) * chunks // count
    return min(lo * chunk, n), min(hi * chunk, n)


def check_outputs(cfg: RunConfig, outputs: list[tuple[str, Path]], rewritten: list[tuple[str, Path]] = ()) -> None:
    """Refuse outputs that are an input (whatever --force says) or exist already (without --force).

    Parameters
    ----------
    outputs : (option, path) of every file the run writes: the HDF5 files, bigWigs, npz files.
    rewritten : (option, path) of files written again from the finished outputs at the end of every run
        (the regions files): an existing one is also overwritten by ``--resume``.
    """
    inputs = [("the model file", cfg.model), ("the regions file", cfg.regions), ("the genome", cfg.genome)]
    refuse_clobbering([*outputs, *rewritten], inputs)
    for _, path in outputs:
        check_output(path, cfg.force)
    for _, path in rewritten:
        check_output(path, cfg.force or cfg.resume)
