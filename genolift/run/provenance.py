"""What a score file records about its making: the settings that decide it, and the circumstances.

:func:`settings` returns exactly the attributes named in
:data:`genolift._constants.SETTINGS` (the list ``merge`` and ``--resume``
compare); :func:`attributes` adds what differs from run to run.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from .. import __version__
from ..engine.backends import resolve
from .. import _constants as C
from .config import DELTA_WARN, RunConfig


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    from ..model.keras_reader import file_sha256 as sha

    return sha(path)


def settings(cfg: RunConfig, graph, target, task: int, command: dict) -> dict:
    """The settings of one task's file: the run's common ones and ``command``'s own.

    Parameters
    ----------
    graph : the loaded model.
    target : the task's :class:`~genolift.engine.Target`.
    command : the command's settings (rule, steps, references, ISM window ...).

    Raises
    ------
    KeyError : a name of :data:`~genolift._constants.SETTINGS` that neither part gives (a programming error).
    """
    values = {
        **dict.fromkeys(C.OPTIONAL_SETTINGS),
        "model_sha256": graph.sha256,
        "regions_sha256": file_sha256(Path(cfg.regions)),
        "genome_file": Path(cfg.genome).name if cfg.genome else None,
        "substituted_lambdas": json.dumps(graph.substituted) if graph.substituted else None,
        "output": target.output_name,
        "task": task,
        "target": target.description,
        "target_kind": target.kind,
        "off_edge": cfg.off_edge,
        "batch_size": cfg.batch_size,
        "backend": resolve(cfg.backend),
        "precision": cfg.precision,
        "compile": cfg.compile,
        "score_dtype": cfg.score_dtype,
        "chunk_size": cfg.chunk_size,
        "rules_version": C.RULES_VERSION,
        **command,
    }
    return {name: values[name] for name in C.SETTINGS}


def manifest(cfg: RunConfig, settings: dict, offset: int) -> dict:
    """What a resumed run must match: the settings and the shard's place."""
    return {**settings, C.SHARD: list(cfg.shard or ()), C.ROW_OFFSET: offset}


def attributes(cfg: RunConfig, settings: dict, gc_source: str | None, total: int, offset: int) -> dict:
    """Every attribute of the finished file but the run's results (``max_abs_delta``, ``skipped_windows``)."""
    return {
        **settings,
        "genolift_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command_line": cfg.command_line,
        "model_file": Path(cfg.model).name,
        "regions_file": Path(cfg.regions).name,
        "gc_source": gc_source,
        "channel_order": "ACGT",
        "delta_warn_threshold": DELTA_WARN,
        C.SHARD: f"{cfg.shard[0]}/{cfg.shard[1]}" if cfg.shard else None,
        C.ROW_OFFSET: offset,
        C.TOTAL_ROWS: total,
        **cfg.extra_attrs,
    }
