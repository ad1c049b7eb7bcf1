#!/usr/bin/env python
"""Benchmark genolift against the strict floor of the same backend on the same model.

Prints, from one run on one machine, for ``--backend tensorflow|jax|torch``:

* floor pairs/s, the strict floor: time(forward of the N inputs) + time(input
  gradient of the model's output on N·K rows), with the Keras model itself on
  that backend in each of its compiled and uncompiled forms (``tf.function``
  plain and XLA; ``jax.jit`` and eager; PyTorch eager and ``torch.compile``:
  see ``bench_floors.py``); the floor is the fastest;
* engine pairs/s: genolift's batched DeepLIFT on the same backend and arrays
  (references prepared beforehand), with ``--compile auto|plain|xla`` and the
  compilation each step function chose;
* end-to-end pairs/s: ``genolift score`` from a BED file and the example
  genome to HDF5 (fetching, shuffling and writing included);
* their ratios, and the process's peak resident memory.

Usage::

    python scripts/bench.py                       # example model, N=512, K=10
    python scripts/bench.py --backend jax         # the same on JAX (its floor: jax.jit and eager)
    python scripts/bench.py --n 2000 -k 20 --batch-size 256
    python scripts/bench.py --model my_model.h5 --reference gc
    python scripts/bench.py --model basset --n 256        # synthetic Basset-like CNN, L = 1000 (see bench_models)
    python scripts/bench.py --model basset-small --n 256  # 96/64/64 filters, one 128-unit dense layer
    python scripts/bench.py --model bpnet --n 64          # synthetic BPNet-like dilated residual model, L = 2114
    python scripts/bench.py --model bpnet --length 1000   # the same at L = 1000 ('same' convolutions)
    python scripts/bench.py --model cnn200 --n 2000       # the example 200-bp CNN
    python scripts/bench.py --api-calls 24,4              # 4 API calls of 24 sequences against one call of 96
    python scripts/bench.py --vs tangermeme --n 100       # tangermeme's deep_lift_shap on a torch port (bench extra)
    python scripts/bench.py --memory 1000,50000           # peak RSS of end-to-end runs, flat in N
    python scripts/bench.py --host-only --model basset-small --n 4000   # host side alone, per stage (null engine)
    python scripts/bench.py --ism --model basset --n 1    # ISM: plain vs receptive-field recomputation
    python scripts/bench.py --task-all --n 500            # --task all against one run per task
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench_models import NAMES, bench_model  # noqa: E402


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "test_data" / "example_model.h5"),
                   help="a model file, or one of the benchmark models: " + ", ".join(NAMES))
    p.add_argument("--length", type=int, default=None, help="input length of a synthetic model")
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"], default="tensorflow",
                   help="backend of the engine, the floor and Keras (set as KERAS_BACKEND before Keras loads)")
    p.add_argument("--device", default=None, help="the backend's device for the engine, e.g. /GPU:0, gpu:0, cuda:0")
    p.add_argument("--genome", default=str(ROOT / "test_data" / "example_genome.fa"))
    p.add_argument("--n", type=int, default=512, help="sequences")
    p.add_argument("-k", "--shuffles", type=int, default=10)
    p.add_argument("--reference", choices=["shuffle", "gc"], default="shuffle")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--chunk-size", type=int, default=256, help="regions per chunk, as `genolift score --chunk-size`")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    p.add_argument("--compile", choices=["auto", "plain", "xla"], default="auto", help="the engine's compilation")
    p.add_argument("--api-calls", metavar="N,C", default=None,
                   help="instead: C calls of genolift.attribute on N sequences each against one call on N·C")
    p.add_argument("--vs", choices=["tangermeme"], default=None,
                   help="also: tangermeme's deep_lift_shap on a PyTorch port of the model, same references")
    p.add_argument("--vs-n", type=int, default=None, help="sequences for --vs: the first VS_N of the --n (default all)")
    p.add_argument("--no-end-to-end", action="store_true")
    p.add_argument("--host-only", action="store_true",
                   help="instead: the host side of `genolift score` with a null engine, regions/s per stage")
    p.add_argument("--compression", choices=["gzip", "lzf", "none"], default="gzip",
                   help="--compression of the whole runs (end to end, --host-only)")
    p.add_argument("--task-all", action="store_true",
                   help="instead: engine time of --task all against one single-task run per task")
    p.add_argument("--ism", action="store_true",
                   help="instead: in-silico mutagenesis of --n sequences, plain batched vs receptive-field")
    p.add_argument("--memory", metavar="N1,N2", nargs="?", const="models", default=None,
                   help="instead: peak RSS of `genolift score` runs on N1 and N2 random regions (separate processes); "
                        "without N1,N2: peak RSS and pairs/s of the real-size DanQ and ChromBPNet at the default "
                        "settings (--batch-size auto) and at fixed batch sizes (--memory-batches)")
    p.add_argument("--memory-batches", default="10,20,64", help="fixed batch sizes --memory compares auto with")
    args = p.parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is first imported: the floor's model runs on it
    if args.vs_n is not None and args.vs_n > args.n:
        p.error(f"--vs-n {args.vs_n} is a subset of the --n {args.n} sequences: raise --n")
    return args


_RSS_RUN = """
import sys
from pathlib import Path
from genolift.run import ScoreConfig, run_score
run_score(ScoreConfig(model=Path(sys.argv[1]), regions=Path(sys.argv[2]), genome=Path(sys.argv[3]),
                      output=Path(sys.argv[4]), shuffles=int(sys.argv[5]), batch_size=int(sys.argv[6]), quiet=True,
                      force=True))
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024)
"""


def ism_check(args) -> None:
    """Seconds for ISM of --n sequences: plain batched forward passes vs receptive-field recomputation."""
    import numpy as np

    from genolift.engine import Engine
    from genolift.model import load_model

    args.model = bench_model(args.model, args.length, Path(tempfile.mkdtemp()))
    graph = load_model(args.model)
    engine = Engine(graph, batch_size=args.batch_size)
    X = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (args.n, graph.length))]
    times = {}
    for fast in (False, True):
        engine.mutagenesis(X[:1], (0, 8), fast=fast)  # warm-up
        t0 = time.perf_counter()
        (scores, _), = engine.mutagenesis(X, fast=fast)
        times[fast] = (time.perf_counter() - t0, scores)
    diff = float(np.abs(times[True][1] - times[False][1]).max())
    print(f"ISM of {args.n} sequence(s), L={graph.length}: plain {times[False][0]:.2f} s, receptive-field "
          f"{times[True][0]:.2f} s, speed-up {times[False][0] / times[True][0]:.1f}x, max difference {diff:.1e}")


def task_all_check(args) -> None:
    """Engine seconds for every task at once (shared forward passes) against T single-task runs."""
    from genolift.engine import Engine
    from genolift.model import load_model
    from genolift.references import dinucleotide_shuffle

    args.model = bench_model(args.model, args.length, Path(tempfile.mkdtemp()))
    graph = load_model(args.model)
    X = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (args.n, graph.length))]
    R = dinucleotide_shuffle(X, args.shuffles, seed=1)
    together = Engine(graph, task="all", batch_size=args.batch_size)
    tasks = together.target.all_tasks
    t_all = best_of(lambda: together.run_tasks(X, R), args.repeats)
    singles = [Engine(graph, task=t, batch_size=args.batch_size) for t in tasks]
    t_one = sum(best_of(lambda e=e: e.run(X, R), args.repeats) for e in singles)
    print(f"--task all on {len(tasks)} tasks, N={args.n}, K={args.shuffles}: {t_all:.2f} s; "
          f"{len(tasks)} single-task runs: {t_one:.2f} s; ratio {t_all / t_one:.2f}")


#: The models of ``--memory`` without N1,N2: (bench model, regions, shuffles, options), as the runs that
#: once exhausted a 24 GB machine (17 ChromBPNet regions x 10 shuffles on its counts head, 8 DanQ x 5).
SIZED = (("chrombpnet", 17, 10, ["--output", "0"]), ("danq", 8, 5, []))


def sized_models_check(args) -> None:
    """Peak RSS and pairs/s of `genolift score` on the real-size models, batch auto against fixed batches."""
    import subprocess

    from genolift.model import load_model

    folder = Path(tempfile.mkdtemp())
    for name, n, k, options in SIZED:
        model = bench_model(name, None, folder)
        bed = folder / f"{name}.bed"
        _random_bed(args.genome, n, load_model(model, backend=args.backend).length, bed)
        for batch in ["auto", *args.memory_batches.split(",")]:
            t0 = time.perf_counter()
            env = {**os.environ, "GENOLIFT_CACHE_DIR": tempfile.mkdtemp()}  # each a first run: --compile auto measures
            done = subprocess.run([sys.executable, "-c", _RSS_COMMAND, "score", model, str(bed), "-g", args.genome,
                                   "--shuffles", str(k), "-o", str(folder / "out.h5"), "--force", "--quiet",
                                   "--batch-size", batch, "--backend", args.backend, "--compile", args.compile,
                                   *options], capture_output=True, text=True, env=env)
            seconds = time.perf_counter() - t0
            if done.returncode:
                print(f"{name} batch {batch}: failed ({done.stderr.strip().splitlines()[-1]})")
                continue
            peak = float(done.stdout.strip().splitlines()[-1])
            print(f"{name:10s} {n} x {k} pairs, --batch-size {batch:>4s}: peak RSS {peak:7.0f} MiB, "
                  f"{n * k / seconds:6.1f} pairs/s ({seconds:.1f} s, whole process)")


_RSS_COMMAND = """
import sys
from genolift.cli.main import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
finally:
    print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024)
"""


def memory_check(args) -> None:
    """Peak RSS of end-to-end runs on two region counts: memory must not grow with N."""
    import subprocess

    from genolift.model import load_model

    if args.memory == "models":
        return sized_models_check(args)
    length = load_model(args.model).length
    sizes = [int(n) for n in args.memory.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        peaks = []
        for n in sizes:
            bed = Path(tmp) / f"r{n}.bed"
            _random_bed(args.genome, n, length, bed)
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _RSS_RUN, args.model, str(bed), args.genome,
                                  str(Path(tmp) / "o.h5"), str(args.shuffles), str(args.batch_size)],
                                 capture_output=True, text=True, check=True)
            peaks.append(float(out.stdout.strip().splitlines()[-1]))
            print(f"{n:>8} regions: peak RSS {peaks[-1]:8.0f} MiB  ({time.perf_counter() - t0:.0f} s)")
    print(f"ratio {peaks[-1] / peaks[0]:.3f} (largest / smallest)")


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up (tracing)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def interleaved_best(runs: dict, repeats: int) -> dict:
    """{name: best seconds} of each run, warmed up once, then timed in turns (floor and engine see the same machine).

    On a shared machine whose speed drifts by ±10 % over a minute, timing one
    run's repeats and then the other's puts the drift into their ratio; taking
    turns puts it into both.
    """
    for fn in runs.values():
        fn()  # warm-up (tracing)
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(seconds) for name, seconds in times.items()}


def _random_bed(genome_path: str, n: int, length: int, path: Path, seed: int = 0) -> None:
    from genolift.sequences import Genome

    rng = np.random.default_rng(seed)
    with Genome(genome_path) as genome:
        chroms = [(c, s) for c, s in genome.sizes.items() if s > 3 * length]
    with open(path, "w") as out:
        for i in range(n):
            chrom, size = chroms[rng.integers(len(chroms))]
            start = int(rng.integers(length, size - 2 * length))
            out.write(f"{chrom}\t{start}\t{start + length}\tr{i}\n")


def end_to_end_seconds(args, length: int) -> tuple[float, dict]:
    """Seconds of a whole `genolift score` run (start-up included; page cache warmed first) and its breakdown."""
    from genolift.run import ScoreConfig, run_score

    with tempfile.TemporaryDirectory() as tmp:
        bed = Path(tmp) / "regions.bed"
        _random_bed(args.genome, args.n, length, bed)
        cfg = ScoreConfig(model=Path(args.model), regions=bed, genome=Path(args.genome),
                          output=Path(tmp) / "out.h5", reference=args.reference, shuffles=args.shuffles,
                          batch_size=args.batch_size, chunk_size=args.chunk_size, quiet=True, force=True,
                          devices=args.device, compile=args.compile, compression=args.compression,
                          backend=args.backend)
        run_score(replace(cfg, regions=_head(bed, 8)))  # warm-up: page cache, imports
        t0 = time.perf_counter()
        summary = run_score(cfg)
        return time.perf_counter() - t0, summary.timings


def _head(bed: Path, n: int) -> Path:
    lines = bed.read_text().splitlines(keepends=True)[:n]
    out = bed.with_name("head.bed")
    out.write_text("".join(lines))
    return out


def bench_arrays(args, L: int):
    """Sequences X (N, L, 4), references (N, K, L, 4) or (L, 4), K, and the seconds the shuffles took."""
    from genolift.references import dinucleotide_shuffle, gc_background

    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.choice(4, (args.n, L), p=[0.3, 0.2, 0.2, 0.3])]
    if args.reference == "gc":
        return X, gc_background(X, 0.4)[0, 0], 1, 0.0
    dinucleotide_shuffle(X[:1], 1, seed=1)  # the first call in a process compiles (or loads) the kernel
    t0 = time.perf_counter()
    R = dinucleotide_shuffle(X, args.shuffles, seed=1)
    return X, R, args.shuffles, time.perf_counter() - t0


def engine_run(args, graph, X, R, k: int):
    """A run of the engine on X against R in the chunks a `genolift score` run would use; the engine; the chunk."""
    from genolift.engine import Engine
    from genolift.engine.batching import aligned_chunk

    engine = Engine(graph, batch_size=args.batch_size, devices=[args.device] if args.device else None,
                    compile=args.compile, backend=args.backend)
    chunk = aligned_chunk(args.chunk_size, args.batch_size, k)

    def run():
        for i in range(0, args.n, chunk):
            engine.run(X[i:i + chunk], R[i:i + chunk] if R.ndim == 4 else R)

    return run, engine, chunk


def describe_steps(engine) -> str:
    """'plain 1.02 s / xla 0.51 s -> xla' for each step shape the engine measured or was told."""
    parts = []
    for key, step in engine._steps.items():
        timed = " / ".join(f"{name} {min(sec):.2f} s" for name, sec in step.seconds.items() if sec)
        parts.append(f"{key[1]}x{key[2]}: {timed + ' -> ' if timed else ''}{step.choice}")
    return "; ".join(parts)


def main(argv=None) -> None:
    args = _args(argv)
    for flag, check in ((args.memory, memory_check), (args.ism, ism_check), (args.task_all, task_all_check),
                        (args.api_calls, api_calls_check)):
        if flag:
            return check(args)
    if args.host_only:
        from bench_host import host_only

        return host_only(args, bench_model(args.model, args.length, Path(tempfile.mkdtemp())), _random_bed)
    from bench_floors import floor_runs

    from genolift.model import load_model
    from genolift.model.keras_reader import load_keras

    args.model = bench_model(args.model, args.length, Path(tempfile.mkdtemp()))
    graph = load_model(args.model, backend=args.backend)
    keras_model = load_keras(args.model)
    L = graph.length
    X, R, k, t_shuffle = bench_arrays(args, L)
    pairs = args.n * k
    R_rows = R.reshape(-1, L, 4) if R.ndim == 4 else np.broadcast_to(R, (args.n, L, 4)).copy()
    run, engine, chunk = engine_run(args, graph, X, R, k)
    runs = floor_runs(args.backend, keras_model, graph, X, R_rows, args.batch_size)
    with engine.xp.placed(args.device):
        best = interleaved_best({**runs, "engine": run}, args.repeats)
    t_engine = best.pop("engine")
    floors, t_floor = best, min(best.values())
    t_e2e, breakdown = (None, {}) if args.no_end_to_end else end_to_end_seconds(args, L)

    print(f"machine: {os.cpu_count()} CPU cores; engine: {engine.describe()}")
    print(f"model {Path(args.model).name}: L={L}, N={args.n}, K={k} ({args.reference}), "
          f"batch {args.batch_size} pairs, chunks of {chunk} regions, {pairs} pairs")
    for name, seconds in floors.items():
        print(f"floor {name:13s} {pairs / seconds:10.1f} pairs/s  ({seconds:.2f} s)")
    print(f"floor               {pairs / t_floor:10.1f} pairs/s  (the fastest: the strict floor)")
    print(f"engine      {pairs / t_engine:10.1f} pairs/s  ({t_engine:.2f} s)   engine/floor = {t_floor / t_engine:.2f}"
          f"   (--compile {args.compile}: {describe_steps(engine)})")
    if t_e2e is not None:
        print(f"end-to-end  {pairs / t_e2e:10.1f} pairs/s  ({t_e2e:.2f} s, start-up included)   end-to-end/engine = "
              f"{t_engine / t_e2e:.2f}")
    for stage, seconds in breakdown.items():
        print(f"  {stage:22s} {seconds:8.2f} s")
    if t_shuffle:
        print(f"shuffling   {args.n * k * L / t_shuffle / 1e6:10.1f} M bases/s (one thread)")
    if args.vs:
        from bench_vs import versus_tangermeme

        m = args.vs_n or len(X)
        versus_tangermeme(args, graph, X[:m], R[:m] if R.ndim == 4 else None, k)
    print(f"peak RSS    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:10.0f} MiB")


def api_calls_check(args) -> None:
    """Seconds of C `genolift.attribute` calls on N sequences each against one call on N·C (after a first call)."""
    import genolift

    n, calls = (int(v) for v in args.api_calls.split(","))
    args.model = bench_model(args.model, args.length, Path(tempfile.mkdtemp()))
    graph = genolift.load_model(args.model)
    args.n = n * calls
    X, R, k, _ = bench_arrays(args, graph.length)
    kw = dict(batch_size=args.batch_size, compile=args.compile)
    t0 = time.perf_counter()
    genolift.attribute(graph, X[:n], R[:n], **kw)  # the first call: tracing, compiling, measuring
    first = time.perf_counter() - t0
    t_many = best_of(lambda: [genolift.attribute(graph, X[i:i + n], R[i:i + n], **kw) for i in range(0, len(X), n)],
                     args.repeats)
    t_one = best_of(lambda: genolift.attribute(graph, X, R, **kw), args.repeats)
    print(f"model {Path(args.model).name}: first call of {n} sequences x K={k}: {first:.2f} s")
    print(f"{calls} calls of {n}: {t_many:.2f} s; one call of {n * calls}: {t_one:.2f} s; "
          f"ratio {t_many / t_one:.2f} (target <= 1.2)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
