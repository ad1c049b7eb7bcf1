"""The run every command shares: model → engine → regions → chunks → writers → finished files.

Worker threads (``--threads``) fetch, one-hot encode and prepare the next
chunks of regions (:mod:`.source`) while the engine computes the current one; each
finished chunk goes to a writer thread (:mod:`.writing`) at once, so memory
stays flat in the number of regions.  Each output is locked for the run
(:mod:`genolift.writers.lock`); SIGINT/SIGTERM stop it after a whole chunk.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import threading

from .. import _constants as C
from ..errors import InterruptedRun, ModelError
from ..writers.hdf5 import ScoreWriter, partial_path
from ..writers.lock import OutputLock
from . import provenance, scored_windows
from .command import Clock, Command
from .config import Summary
from .outputs import check_outputs, per_task, shard_rows
from .source import RegionSource, chunks
from .writing import BackgroundWrites

log = logging.getLogger("genolift")

STARTUP = "engine start-up (tracing, compiling)"


class _Stop:
    """SIGINT/SIGTERM ask the run to stop after the chunk in progress (main thread only)."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self) -> "_Stop":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.signum = signum
        log.warning("signal %d: stopping after the current chunk (rerun with --resume to continue)", signum)

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _load_model(cfg):
    from ..engine.backends import resolve
    from ..model import load_model

    graph = load_model(cfg.model, known_lambdas=cfg.known_lambdas, backend=resolve(cfg.backend))
    for name, what in graph.substituted.items():
        log.warning("%s: Lambda %r recognised as the %s and replaced by genolift's own op (its code is not run; "
                    "--no-known-lambdas refuses it)", cfg.model, name, what)
    if graph.extra_inputs:
        raise ModelError(
            f"{cfg.model}: the model has inputs besides the sequence "
            f"({', '.join(name for name, _ in graph.extra_inputs)}); score it with the Python API "
            "(genolift.attribute(..., extras=...)), which takes their values"
        )
    return graph


def _engine(command: Command, graph):
    from ..engine import Engine

    cfg = command.cfg
    return Engine(graph, output=cfg.model_output, task=cfg.task, rule=command.rule, batch_size=cfg.batch_size,
                  memory=cfg.memory,
                  target=command.target, steps=command.steps, devices=cfg.devices, precision=cfg.precision,
                  compile=cfg.compile, backend=cfg.backend, **command.engine_options)


#: Default input threads beside a GPU engine.  On a 16-core GPU machine the whole host side
#: (``bench.py --host-only``, L = 1000 and 2114, K = 10) peaked at 2-4 threads and lost 9-21 %
#: at 8 and 16, where the threads contend with the writer for the interpreter.
GPU_INPUT_THREADS = 4


def input_threads(cfg, engine) -> int:
    """Worker threads building chunks: ``cfg.threads``; when 0, up to :data:`GPU_INPUT_THREADS` (one per usable
    core, at most that many) if the engine has a GPU, else 1 (TensorFlow already uses every core)."""
    import os

    if cfg.threads:
        return cfg.threads
    xp = getattr(engine, "xp", None)
    is_gpu = xp.is_gpu if xp is not None else (lambda name: "GPU" in str(name).upper() or "CUDA" in str(name).upper())
    if not any(is_gpu(name) for name in (engine.devices or [None])):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, GPU_INPUT_THREADS)


def _writers(command: Command, graph, engine, outputs: dict, total: int, lo: int, hi: int) -> list[ScoreWriter]:
    """One writer per task (the partial directories, checked or prepared for resuming)."""
    cfg, writers = command.cfg, []
    try:
        for task, path in outputs.items():
            target = engine.target if len(outputs) == 1 else command.task_target(graph, task)
            settings = provenance.settings(cfg, graph, target, task, command.settings())
            writers.append(ScoreWriter(path, hi - lo, graph.length, command.k,
                                       manifest=provenance.manifest(cfg, settings, lo),
                                       attrs=provenance.attributes(cfg, settings, command.gc_source, total, lo),
                                       resume=cfg.resume, restart=cfg.force, compression=cfg.compression,
                                       score_dtype=cfg.score_dtype, **command.layout()))
    except BaseException:
        for writer in writers:
            writer.discard_if_empty()
        raise
    return writers


def _compute_chunks(command: Command, source: RegionSource, engine, writers, lo: int, hi: int, clock: Clock) -> None:
    """Compute and write the chunks of rows [lo, hi) not yet written by every writer."""
    from ..progress import Progress

    cfg = command.cfg
    done = set.intersection(*({lo + s for s in w.done()} for w in writers))
    starts = [s for s in range(lo, hi, cfg.chunk_size) if s not in done]
    if done:
        log.info("resuming: %d chunk(s) already written, %d to go", len(done), len(starts))
    for stage in ("waiting for inputs", "engine", "writing chunks"):
        clock.timings.setdefault(stage, 0.0)
    progress = Progress(sum(min(s + cfg.chunk_size, hi) - s for s in starts), command.k, enabled=not cfg.quiet)
    clock.skip()
    with BackgroundWrites() as writes, _Stop() as stop:
        try:
            for chunk in chunks(source, starts, cfg.chunk_size, command.prepare, input_threads(cfg, engine)):
                clock.lap("waiting for inputs")
                arrays = command.compute(chunk, engine)
                clock.lap("engine")
                for writer, task_arrays in zip(writers, arrays):
                    writes.submit(functools.partial(writer.write, chunk.start - lo, chunk.windows, task_arrays))
                clock.lap("writing chunks")
                progress.update(len(chunk.windows))
                if stop.signum is not None:
                    writes.wait()
                    raise InterruptedRun(
                        f"{cfg.output}: stopped by signal {stop.signum}; the chunks written so far are kept "
                        "in the .partial directory: rerun the same command with --resume",
                        128 + stop.signum,
                    )
            writes.wait()
            clock.lap("writing chunks")
        finally:
            progress.close()


#: Skipped windows named in the warning; the regions file of the run lists every row it scored.
NAMED_SKIPPED = 3


def skipped_words(cfg, skipped: list, regions: dict) -> str:
    """The warning of windows left out by ``--off-edge skip``: how many, the first few by name and line."""
    named = ", ".join(f"{getattr(item, 'name', None) or getattr(item, 'id', None) or item.key} (line {item.line})"
                      for item in skipped[:NAMED_SKIPPED])
    more = f" and {len(skipped) - NAMED_SKIPPED} more" if len(skipped) > NAMED_SKIPPED else ""
    listed = next(iter(regions.values()), None)
    where = (f"; {listed} lists the windows scored, row by row" if listed else "")
    return (f"{len(skipped)} window(s) of {cfg.regions} run off a chromosome end and were skipped (--off-edge skip; "
            f"pad keeps them with N beyond the end): {named}{more}{where}")


def _with_startup(timings: dict, startup: float) -> dict:
    """The engine's tracing and compiling as a stage of its own, before the chunks' stages."""
    if not startup:
        return timings
    timings = {**timings, "engine": timings.get("engine", 0.0) - startup}
    ordered = {}
    for stage, seconds in timings.items():
        if stage == "waiting for inputs":
            ordered[STARTUP] = startup
        ordered[stage] = seconds
    return ordered


def execute(command: Command, make_engine=None) -> Summary:
    """Run ``command`` over every region of its config; write and return what it made.

    ``make_engine(command, graph)`` builds the engine (default: genolift's
    :class:`~genolift.engine.Engine` from the config); the host-only benchmark
    passes one that returns arrays of the right shapes without computing.
    """
    cfg, clock = command.cfg, Clock()
    graph = _load_model(cfg)
    engine = (make_engine or _engine)(command, graph)
    if hasattr(engine, "describe"):
        cfg.extra_attrs.update(engine.circumstances())
    command.use_engine(engine)  # auto resolved: the settings record the batch and compilation used
    cfg = command.cfg
    command.check(graph)
    outputs = per_task(cfg.output, engine.target.all_tasks, "-o")
    regions = scored_windows.regions_paths(cfg, outputs) if command.writes_regions else {}
    check_outputs(cfg, [("-o", path) for path in outputs.values()] + command.extra_outputs(outputs),
                  scored_windows.labelled(cfg, regions))
    clock.lap("loading the model")
    with contextlib.ExitStack() as stack:
        for path in outputs.values():
            stack.enter_context(OutputLock(partial_path(path), path))
        source = stack.enter_context(command.open_source(graph.length))
        clock.lap("reading regions")
        if source.skipped:
            log.warning("%s", skipped_words(cfg, source.skipped_items, regions))
        command.start(source, clock)
        if hasattr(engine, "describe"):  # once the inputs check out: a refused run prints its one line alone
            log.info("engine: %s", engine.describe())
        total = len(source.windows)
        lo, hi = shard_rows(total, cfg.chunk_size, cfg.shard)
        log.info("%s -> %s", command.describe(hi - lo), ", ".join(map(str, outputs.values())))
        writers = _writers(command, graph, engine, outputs, total, lo, hi)
        try:
            _compute_chunks(command, source, engine, writers, lo, hi, clock)
        except BaseException:
            for writer in writers:
                writer.discard_if_empty()
            raise
        results = {C.MAX_ABS_DELTA: command.max_delta, "skipped_windows": source.skipped}
        paths = [writer.finish({**results, **scored_windows.attributes(graph.length, path, regions.get(task))})
                 for (task, path), writer in zip(outputs.items(), writers)]
        clock.lap("assembling the output")
        extras = scored_windows.write(dict(zip(outputs, paths)), regions, clock)
        extras += command.finish(dict(zip(outputs, paths)), clock)
    n = hi - lo
    command.report(n)
    timings = _with_startup(clock.timings, engine.startup_seconds)
    return Summary(paths[0], n, command.pairs(n), clock.elapsed(), command.max_delta, source.skipped, timings, paths,
                   extras)
