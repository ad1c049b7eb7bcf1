"""``bench.py --host-only``: the host side of ``genolift score`` with a null engine, per stage and whole.

On a GPU the engine is fast enough that the CPU side (reading regions, fetching, one-hot encoding,
shuffling, building the score arrays, compressing and writing) sets the pace.  This measures that side
alone on random BED windows of the example genome:

* each stage by itself on one thread, as regions/s (and M bases/s for the shuffle);
* writing with each ``--compression`` (the score datasets, float32 and float16);
* the whole ``genolift score`` run with a null engine (arrays of the right shapes and realistic values,
  nothing computed) at ``--threads`` 1, 2, 4, … and one per core: regions/s of the host side as a whole.

It needs no TensorFlow: the models are built and read by Keras on any backend (``KERAS_BACKEND=jax``
on a machine without TensorFlow), so it also runs on an accelerator machine that has none.

Figures are per process on this machine; "per core" is the one-thread figure.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


class NullEngine:
    """Stands in for :class:`genolift.engine.Engine`: right shapes, fixed random values, no compute."""

    startup_seconds = 0.0
    devices = None

    def __init__(self, graph, k: int, rows: int):
        from genolift.engine import select_target

        self.target = select_target(graph, None, 0, "auto")
        rng = np.random.default_rng(0)
        self._hyp = (rng.normal(size=(rows, graph.length, 4)) * 1e-2).astype(np.float32)
        self._pred = rng.normal(size=rows).astype(np.float32)
        self._ref = rng.normal(size=(rows, k)).astype(np.float32)
        self._delta = (rng.normal(size=(rows, k)) * 1e-7).astype(np.float32)

    def _result(self, n: int):
        from genolift.engine.results import ChunkResult

        return [ChunkResult(self._hyp[:n], self._pred[:n], self._ref[:n], self._delta[:n])]

    def run_tasks(self, X, references, revcomp: bool = False):
        return self._result(len(X))

    def run_background_tasks(self, X, background, revcomp: bool = False):
        return self._result(len(X))


def _per_second(fn, n: int, repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def _stage_rates(cfg, graph, k: int) -> dict[str, float]:
    """Regions/s of each host stage alone, one thread."""
    from genolift.references import dinucleotide_shuffle
    from genolift.run.score import ScoreCommand
    from genolift.run.source import RegionSource

    L, chunk = graph.length, cfg.chunk_size
    with RegionSource(cfg, L) as source:
        n = len(source.windows)
        rates = {"reading the BED (regions, filtering)": _per_second(lambda: RegionSource(cfg, L).close(), n)}
        rates["fetching + one-hot"] = _per_second(
            lambda: [source.one_hot(i, min(i + chunk, n)) for i in range(0, n, chunk)], n)
        X = source.one_hot(0, n)
        keys = [w.key for w in source.windows]
    shuffle = lambda: [dinucleotide_shuffle(X[i:i + chunk], k, seed=0, keys=keys[i:i + chunk])  # noqa: E731
                       for i in range(0, n, chunk)]
    shuffle()  # the first call compiles the walk
    rates[f"dinucleotide shuffles (K={k}, one-hot)"] = _per_second(shuffle, n)
    command, engine = ScoreCommand(cfg), NullEngine(graph, k, chunk)
    rates["score arrays (contributions, residuals)"] = _per_second(
        lambda: [command._arrays(X[i:i + chunk], engine._result(len(X[i:i + chunk]))[0])
                 for i in range(0, n, chunk)], n)
    return rates


def _write_rates(cfg, graph, k: int) -> dict[str, float]:
    """Regions/s of writing the chunks and assembling the file, per compression and score dtype."""
    from genolift.run.score import ScoreCommand
    from genolift.run.source import RegionSource
    from genolift.writers.hdf5 import ScoreWriter

    L, chunk = graph.length, cfg.chunk_size
    with RegionSource(cfg, L) as source:
        n, windows, X = len(source.windows), source.windows, source.one_hot(0, len(source.windows))
    command, engine = ScoreCommand(cfg), NullEngine(graph, k, chunk)
    rates = {}
    for compression in ("gzip", "lzf", "none"):
        for dtype in ("float32", "float16"):
            def write(path=Path(tempfile.mkdtemp()) / "o.h5"):
                writer = ScoreWriter(path, n, L, k, manifest={"bench": 1}, restart=True,
                                     compression=compression, score_dtype=dtype)
                for i in range(0, n, chunk):
                    arrays = command._arrays(X[i:i + chunk], engine._result(len(X[i:i + chunk]))[0])
                    writer.write(i, windows[i:i + chunk], arrays)
                writer.finish({})
                path.unlink()
            rates[f"writing, --compression {compression} --score-dtype {dtype}"] = _per_second(write, n, 1)
    return rates


def _pipeline_rate(cfg, graph, k: int, threads: int) -> tuple[float, dict]:
    """Regions/s of a whole ``genolift score`` run with the null engine."""
    from genolift.run.driver import execute
    from genolift.run.score import ScoreCommand

    cfg = replace(cfg, threads=threads, output=Path(tempfile.mkdtemp()) / "o.h5")
    t0 = time.perf_counter()
    summary = execute(ScoreCommand(cfg), make_engine=lambda command, g: NullEngine(g, k, cfg.chunk_size))
    return summary.regions / (time.perf_counter() - t0), summary.timings


def host_only(args, model: str, random_bed) -> None:
    """Print the host side's figures for ``model``'s length (see the module docstring)."""
    from genolift.model import load_model
    from genolift.run import ScoreConfig

    graph = load_model(model)
    k = args.shuffles if args.reference == "shuffle" else 1
    folder = Path(tempfile.mkdtemp())
    bed = folder / "regions.bed"
    random_bed(args.genome, args.n, graph.length, bed)
    cfg = ScoreConfig(model=Path(model), regions=bed, genome=Path(args.genome), output=folder / "o.h5",
                      reference=args.reference, shuffles=k, gc=0.4 if args.reference == "gc" else None,
                      chunk_size=args.chunk_size, quiet=True, force=True, compression=args.compression)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"host side, null engine: N={args.n} random windows, L={graph.length}, K={k} ({args.reference}), "
          f"chunks of {args.chunk_size}, {cores} cores")
    rates = _stage_rates(cfg, graph, k) if args.reference == "shuffle" else {}
    rates.update(_write_rates(cfg, graph, k))
    for stage, rate in rates.items():
        extra = f"   ({rate * k * graph.length / 1e6:.0f} M bases/s)" if "shuffles" in stage else ""
        print(f"  {stage:52s} {rate:10.0f} regions/s{extra}")
    for threads in sorted({1, cores} | {2 ** i for i in range(1, 6) if 2 ** i < cores}):
        rate, timings = _pipeline_rate(cfg, graph, k, threads)
        stages = ", ".join(f"{name} {sec:.2f} s" for name, sec in timings.items() if sec >= 0.01)
        print(f"  whole run, --threads {threads}, --compression {args.compression}: {rate:10.0f} regions/s"
              f"   ({stages})")
    light = replace(cfg, compression="lzf", score_dtype="float16")
    rate, _ = _pipeline_rate(light, graph, k, cores)
    print(f"  whole run, --threads {cores}, --compression lzf --score-dtype float16: {rate:10.0f} regions/s")
