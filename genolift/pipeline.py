"""The scoring run: regions → sequences → references → engine → HDF5.

:func:`run` is what ``genolift score`` and ``genolift hypothetical`` call.  A
producer thread fetches, one-hot encodes and shuffles the next chunk of
regions while the engine scores the current one; each finished chunk is
written to the output at once, so memory stays flat in the number of regions.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from . import __version__
from .errors import GenoliftError, InterruptedRun, ModelError, OutputError, ReferencesError, RegionError
from .regions import duplicates, is_fasta, read_bed, read_fasta_sequences
from .scores import contributions, residuals
from .sequences import Genome, filter_windows, one_hot_encode_many

log = logging.getLogger("genolift")

#: Per-pair |delta| above DELTA_WARN · (1 + |Δt|) is reported as a warning.
DELTA_WARN = 1e-4


@dataclass
class RunConfig:
    """Everything a scoring run needs (the CLI options, typed)."""

    model: Path
    regions: Path
    output: Path
    genome: Path | None = None
    mode: str = "score"  # "score", "hypothetical" or "ism"
    reference: str = "shuffle"  # "shuffle" or "gc"
    shuffles: int = 10
    gc: float | None = None
    seed: int = 0
    model_output: str | None = None
    task: int = 0
    target: str = "auto"
    revcomp: bool = False
    window: tuple[int, int] | None = None  # ISM: positions to mutate
    rule: str = "rescale"
    steps: int = 50
    known_lambdas: bool = True
    devices: str | None = None
    precision: str = "float32"
    batch_size: int = 256
    chunk_size: int = 256
    off_edge: str = "skip"
    force: bool = False
    resume: bool = False
    shard: tuple[int, int] | None = None
    quiet: bool = False
    command_line: str = ""
    extra_attrs: dict = field(default_factory=dict)


class Summary(NamedTuple):
    """What a finished run reports; ``timings`` (seconds) by stage."""

    output: Path
    regions: int
    pairs: int
    seconds: float
    max_delta: float
    skipped: int
    timings: dict
    outputs: list


class _Source:
    """Windows and a way to get their one-hot sequences."""

    def __init__(self, cfg: RunConfig, length: int):
        self.genome = None
        if is_fasta(cfg.regions):
            if cfg.genome is not None:
                log.info("%s is a FASTA of sequences; the genome (-g/GENOLIFT_GENOME) is not used", cfg.regions)
            self.windows, self._seqs = read_fasta_sequences(cfg.regions, length)
            self.skipped = 0
        else:
            if cfg.genome is None:
                raise RegionError(
                    f"{cfg.regions}: BED regions need a genome FASTA; pass -g/--genome "
                    "or set the GENOLIFT_GENOME environment variable"
                )
            self.genome = Genome(cfg.genome)
            windows = read_bed(cfg.regions, length)
            repeated = duplicates(windows)
            if repeated:
                log.warning("%s: %d region(s) repeat an earlier window; each is scored (same references)",
                            cfg.regions, repeated)
            self.windows, self.skipped = filter_windows(windows, self.genome, cfg.regions, cfg.off_edge)
            if not self.windows:
                raise RegionError(f"{cfg.regions}: every window runs off a chromosome end; try --off-edge pad")
            self._seqs = None

    def one_hot(self, start: int, stop: int) -> np.ndarray:
        """(stop − start, L, 4) float32 sequences of windows[start:stop]."""
        if self._seqs is not None:
            return one_hot_encode_many(self._seqs[start:stop])
        return one_hot_encode_many([self.genome.fetch(w) for w in self.windows[start:stop]])

    def close(self) -> None:
        if self.genome is not None:
            self.genome.close()


def check_output(path: Path, force: bool) -> None:
    """Refuse to clobber an existing output or to write where it cannot."""
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; -o needs a file name")
    if path.exists() and not force:
        raise OutputError(f"{path}: exists already; pass --force to overwrite it or choose another -o")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: directory {parent} is not writable")


def estimate_gc(source: _Source, chunk: int) -> float:
    """G+C fraction over the ACGT bases of every scored window."""
    gc = acgt = 0.0
    for start in range(0, len(source.windows), chunk):
        X = source.one_hot(start, min(start + chunk, len(source.windows)))
        counts = X.sum(axis=(0, 1))
        gc += counts[1] + counts[2]
        acgt += counts.sum()
    if acgt == 0:
        raise ReferencesError("the scored windows hold no A, C, G or T; cannot estimate --gc")
    return float(gc / acgt)


class _Chunk(NamedTuple):
    start: int
    windows: list
    X: np.ndarray
    references: np.ndarray
    degenerate: int


def _build_chunk(cfg: RunConfig, source: _Source, start: int, gc: float | None) -> _Chunk:
    from .references import degenerate_rows, dinucleotide_shuffle, gc_background

    stop = min(start + cfg.chunk_size, len(source.windows))
    windows = source.windows[start:stop]
    X = source.one_hot(start, stop)
    if cfg.mode == "ism":
        return _Chunk(start, windows, X, np.zeros(0, np.float32), 0)
    if cfg.reference == "gc":
        background = gc_background(np.ones((1, 1, 4), np.float32), gc)[0, 0, 0]
        return _Chunk(start, windows, X, np.tile(background, (X.shape[1], 1)), 0)
    refs = dinucleotide_shuffle(X, cfg.shuffles, seed=cfg.seed, keys=[w.key for w in windows])
    degenerate = degenerate_rows(X, refs)
    for window in (w for w, bad in zip(windows, degenerate) if bad):
        log.warning("region %s (line %d) has a single valid dinucleotide shuffle: its scores are all 0",
                    window.name, window.line)
    return _Chunk(start, windows, X, refs, int(degenerate.sum()))


def _produce(cfg: RunConfig, source: _Source, starts: list[int], gc, out: queue.Queue,
             stop: threading.Event) -> None:
    try:
        for start in starts:
            if stop.is_set():
                return
            out.put(_build_chunk(cfg, source, start, gc))
        out.put(None)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        out.put(exc)


def _chunks(cfg: RunConfig, source: _Source, starts: list[int], gc) -> Iterator[_Chunk]:
    """Chunks built one step ahead in a producer thread."""
    q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(cfg, source, starts, gc, q, stop), daemon=True)
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


def file_sha256(path: Path) -> str:
    from .model.keras_reader import file_sha256 as sha

    return sha(path)


def task_outputs(cfg: RunConfig, tasks: tuple) -> dict:
    """Output path of each task: ``{task}`` in the name is replaced by the task index."""
    name = str(cfg.output)
    if len(tasks) > 1 and "{task}" not in name:
        raise OutputError(f"{cfg.output}: several tasks need a {{task}} placeholder in -o (e.g. scores.{{task}}.h5)")
    return {task: Path(name.replace("{task}", str(task))) for task in tasks}


def _settings(cfg: RunConfig, graph, engine, gc, k, task: int) -> dict:
    """Parameters that decide the scores: equal settings give identical files."""
    from .engine import select_target

    target = engine.target if len(engine.target.all_tasks) == 1 else select_target(
        graph, cfg.model_output, task, cfg.target)
    return {
        "model_sha256": graph.sha256,
        "regions_sha256": file_sha256(Path(cfg.regions)),
        "genome_file": Path(cfg.genome).name if cfg.genome else None,
        "command": cfg.mode,
        "rule": "ism" if cfg.mode == "ism" else cfg.rule,
        "steps": cfg.steps if cfg.rule == "integrated-gradients" else None,
        "ism_window": list(cfg.window) if cfg.mode == "ism" and cfg.window else None,
        "substituted_lambdas": json.dumps(graph.substituted) if graph.substituted else None,
        "reference": "dinucleotide-shuffle" if cfg.reference == "shuffle" else "gc-background",
        "shuffles": k,
        "seed": cfg.seed,
        "gc": gc,
        "output": target.output_name,
        "task": task,
        "target": target.description,
        "target_kind": target.kind,
        "revcomp": cfg.revcomp,
        "off_edge": cfg.off_edge,
        "batch_size": cfg.batch_size,
        "precision": cfg.precision,
        "chunk_size": cfg.chunk_size,
    }


def _attrs(cfg: RunConfig, settings: dict, gc_source, total: int, offset: int) -> dict:
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
        "shard": f"{cfg.shard[0]}/{cfg.shard[1]}" if cfg.shard else None,
        "row_offset": offset,
        "total_rows": total,
        **cfg.extra_attrs,
    }


def _chunk_arrays(chunk: _Chunk, res, with_contrib: bool) -> dict:
    contrib = contributions(res.hypothetical, chunk.X)
    arrays = {
        "input_seqs": chunk.X,
        "hyp_scores": res.hypothetical,
        "predictions": res.predictions,
        "reference_predictions": res.reference_predictions,
        "deltas": res.deltas,
        "residuals": residuals(contrib, res.predictions, res.reference_predictions),
    }
    if with_contrib:
        arrays["contrib_scores"] = contrib
    return arrays


def shard_rows(n: int, chunk: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """Rows [lo, hi) of shard (i, n_shards): a contiguous run of whole chunks."""
    if shard is None:
        return 0, n
    i, count = shard
    chunks = (n + chunk - 1) // chunk
    lo, hi = i * chunks // count, (i + 1) * chunks // count
    return min(lo * chunk, n), min(hi * chunk, n)


class _Stop:
    """SIGINT/SIGTERM ask the run to stop after the chunk in progress."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum
        log.warning("signal %d: stopping after the current chunk (rerun with --resume to continue)", signum)

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _check_finite(cfg: RunConfig, chunk: _Chunk, res) -> None:
    """Refuse NaN/inf results, naming the regions affected."""
    bad = ~(np.isfinite(res.predictions) & np.isfinite(res.hypothetical).all(axis=(1, 2))
            & np.isfinite(res.reference_predictions).all(axis=1))
    if bad.any():
        names = [f"{w.name} (line {w.line})" for w, b in zip(chunk.windows, bad) if b]
        raise ModelError(
            f"{cfg.model}: the model gives NaN or infinite values for {len(names)} region(s): "
            f"{', '.join(names[:5])}{' ...' if len(names) > 5 else ''}; check the model's weights"
        )


class _BackgroundWrites:
    """Chunk writes on one thread of their own, at most one chunk behind the engine.

    A failed write's exception is raised by the next :meth:`submit` or
    :meth:`wait`; :meth:`close` lets queued writes finish, so every chunk
    scored before an interruption is kept.
    """

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                if self.error is None:
                    job()
            except BaseException as exc:  # handed to the scoring thread
                self.error = exc
            finally:
                self.jobs.task_done()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, job) -> None:
        self._raise()
        self.jobs.put(job)

    def wait(self) -> None:
        """Block until every submitted write is done; raise a write's error."""
        self.jobs.join()
        self._raise()

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()


def _score_one(cfg: RunConfig, chunk: _Chunk, engine, writers, offset: int, totals, t: float,
               writes: _BackgroundWrites) -> None:
    """Attribute one chunk (every task) and hand it to each task's writer."""
    if chunk.references.ndim == 2:  # a GC background, zeroed at N by the engine
        results = engine.run_background_tasks(chunk.X, chunk.references, revcomp=cfg.revcomp)
    else:
        results = engine.run_tasks(chunk.X, chunk.references, revcomp=cfg.revcomp)
    t = totals.lap("engine", t)
    for writer, res in zip(writers, results):
        _check_finite(cfg, chunk, res)
        arrays = _chunk_arrays(chunk, res, cfg.mode == "score")
        writes.submit(lambda writer=writer, arrays=arrays: writer.write(chunk.start - offset, chunk.windows, arrays))
    totals.add(chunk, results)
    totals.lap("writing chunks", t)


def _write_ism(cfg: RunConfig, chunk: _Chunk, engine, writers, offset: int) -> None:
    for writer, (scores, predictions) in zip(writers, engine.mutagenesis(chunk.X, cfg.window)):
        if not (np.isfinite(scores).all() and np.isfinite(predictions).all()):
            raise ModelError(f"{cfg.model}: the model gives NaN or infinite values; check its weights")
        writer.write(chunk.start - offset, chunk.windows,
                     {"input_seqs": chunk.X, "ism_scores": scores, "predictions": predictions})


class _Totals:
    def __init__(self):
        self.max_delta, self.flagged, self.degenerate = 0.0, 0, 0
        self.timings = {"waiting for inputs": 0.0, "engine": 0.0, "writing chunks": 0.0}

    def lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[stage] += now - since
        return now

    def add(self, chunk: _Chunk, results: list) -> None:
        for res in results:
            scale = 1.0 + np.abs(res.predictions[:, None] - res.reference_predictions)
            self.flagged += int((np.abs(res.deltas) > DELTA_WARN * scale).sum())
            self.max_delta = max(self.max_delta, float(np.abs(res.deltas).max()))
        self.degenerate += chunk.degenerate


def _aligned(cfg: RunConfig) -> RunConfig:
    """cfg with chunks of whole device batches, so that only the last chunk pads a batch."""
    from .engine.network import GRADIENT_RULES
    from .engine.batching import aligned_chunk

    if cfg.mode == "ism" or cfg.rule in GRADIENT_RULES:
        return cfg
    chunk = aligned_chunk(cfg.chunk_size, cfg.batch_size, cfg.shuffles if cfg.reference == "shuffle" else 1)
    if chunk != cfg.chunk_size:
        log.debug("chunk size %d -> %d regions: a whole number of device batches", cfg.chunk_size, chunk)
    return replace(cfg, chunk_size=chunk)


def _score_chunks(cfg, source, engine, writers, lo, hi, gc, offset) -> _Totals:
    """Score the chunks of rows [lo, hi) not yet written to every writer (one per task)."""
    from .progress import Progress

    done = set.intersection(*({offset + s for s in w.done()} for w in writers))
    starts = [s for s in range(lo, hi, cfg.chunk_size) if s not in done]
    if done:
        log.info("resuming: %d chunk(s) already written, %d to go", len(done), len(starts))
    totals = _Totals()
    k = cfg.shuffles if cfg.reference == "shuffle" else 1
    progress = Progress(sum(min(s + cfg.chunk_size, hi) - s for s in starts), k, enabled=not cfg.quiet)
    writes = _BackgroundWrites()
    try:
        with _Stop() as stop:
            t = time.perf_counter()
            for chunk in _chunks(cfg, source, starts, gc):
                t = totals.lap("waiting for inputs", t)
                if cfg.mode == "ism":
                    _write_ism(cfg, chunk, engine, writers, offset)
                    t = totals.lap("engine", t)
                else:
                    _score_one(cfg, chunk, engine, writers, offset, totals, t, writes)
                    t = time.perf_counter()
                progress.update(len(chunk.windows))
                if stop.signum is not None:
                    writes.wait()
                    raise InterruptedRun(
                        f"{cfg.output}: stopped by signal {stop.signum}; the chunks written so far are kept "
                        "in the .partial directory: rerun the same command with --resume",
                        128 + stop.signum,
                    )
            t = time.perf_counter()
            writes.wait()
            totals.lap("writing chunks", t)
    finally:
        writes.close()
        progress.close()
    return totals


def run(cfg: RunConfig) -> Summary:
    """Score every region of ``cfg.regions`` and write ``cfg.output``."""
    from .engine import Engine
    from .model import load_model
    from .writers.hdf5 import ScoreWriter

    t0 = time.perf_counter()
    graph = load_model(cfg.model, known_lambdas=cfg.known_lambdas)
    for name, what in graph.substituted.items():
        log.warning("%s: Lambda %r recognised as the %s and replaced by genolift's own op (its code is not run; "
                    "--no-known-lambdas refuses it)", cfg.model, name, what)
    cfg = _aligned(cfg)
    engine = Engine(graph, output=cfg.model_output, task=cfg.task, rule=cfg.rule, batch_size=cfg.batch_size,
                    target=cfg.target, steps=cfg.steps, devices=cfg.devices, precision=cfg.precision)
    if graph.extra_inputs:
        raise ModelError(
            f"{cfg.model}: the model has inputs besides the sequence "
            f"({', '.join(name for name, _ in graph.extra_inputs)}); score it with the Python API "
            "(genolift.attribute(..., extras=...)), which takes their values"
        )
    outputs = task_outputs(cfg, engine.target.all_tasks)
    for path in outputs.values():
        check_output(path, cfg.force)
    t_model = time.perf_counter()
    source = _Source(cfg, graph.length)
    t_regions = time.perf_counter()
    try:
        if source.skipped:
            log.warning("%d window(s) run off a chromosome end and were skipped (--off-edge)", source.skipped)
        k = cfg.shuffles if cfg.reference == "shuffle" else 1
        k = 0 if cfg.mode == "ism" else k
        gc, gc_source = cfg.gc, ("--gc" if cfg.gc is not None else None)
        t_gc = time.perf_counter()
        if cfg.reference == "gc" and gc is None and cfg.mode != "ism":
            gc, gc_source = estimate_gc(source, cfg.chunk_size), "scored sequences"
            log.info("GC fraction of the scored sequences: %.4f", gc)
        t_gc_end = time.perf_counter()
        total = len(source.windows)
        lo, hi = shard_rows(total, cfg.chunk_size, cfg.shard)
        log.info("scoring %d region(s) x %d reference(s) -> %s", hi - lo, k, ", ".join(map(str, outputs.values())))
        writers = []
        for task, path in outputs.items():
            settings = _settings(cfg, graph, engine, gc, k, task)
            layout = ({"score_names": ("input_seqs", "ism_scores"), "value_shapes": {"predictions": ()}}
                      if cfg.mode == "ism" else {})
            writers.append(ScoreWriter(path, hi - lo, graph.length, k, with_contributions=cfg.mode == "score",
                                       manifest={**settings, "shard": list(cfg.shard or ()), "row_offset": lo},
                                       attrs=_attrs(cfg, settings, gc_source, total, lo),
                                       resume=cfg.resume, restart=cfg.force, **layout))
        try:
            totals = _score_chunks(cfg, source, engine, writers, lo, hi, gc, lo)
        except BaseException:
            for writer in writers:
                writer.discard_if_empty()
            raise
        startup = engine.startup_seconds
        totals.timings["engine"] -= startup
        if startup:
            totals.timings = {"engine start-up (tracing, compiling)": startup, **totals.timings}
        t_finish = time.perf_counter()
        paths = [w.finish({"max_abs_delta": totals.max_delta, "skipped_windows": source.skipped}) for w in writers]
        t_end = time.perf_counter()
    finally:
        source.close()
    n = hi - lo
    if totals.flagged:
        log.warning("%d of %d pairs exceed the summation-to-delta threshold %.0e·(1+|Δt|) (max |delta| %.2e)",
                    totals.flagged, n * k, DELTA_WARN, totals.max_delta)
    if totals.degenerate:
        log.warning("%d region(s) have a single valid dinucleotide shuffle (all scores 0)", totals.degenerate)
    timings = {"loading the model": t_model - t0, "reading regions": t_regions - t_model,
               **({"estimating GC": t_gc_end - t_gc} if gc_source == "scored sequences" else {}), **totals.timings,
               "assembling the output": t_end - t_finish}
    return Summary(paths[0], n, n * k, time.perf_counter() - t0, totals.max_delta, source.skipped, timings, paths)
