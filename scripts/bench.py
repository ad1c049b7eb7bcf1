#!/usr/bin/env python
"""Benchmark genolift against the floor of plain TensorFlow on the same model.

Prints, from one run on one machine:

* floor pairs/s: time(forward of the N inputs) + time(input gradient of the
  model's output on N·K rows), with the Keras model under ``tf.function``;
* engine pairs/s: genolift's batched DeepLIFT on the same arrays
  (references prepared beforehand);
* end-to-end pairs/s: ``genolift score`` from a BED file and the example
  genome to HDF5 (fetching, shuffling and writing included);
* their ratios, and the process's peak resident memory.

Usage::

    python scripts/bench.py                       # example model, N=512, K=10
    python scripts/bench.py --n 2000 -k 20 --batch-size 256
    python scripts/bench.py --model my_model.h5 --reference gc
    python scripts/bench.py --model basset --n 256        # synthetic Basset-like CNN, L = 1000
    python scripts/bench.py --model bpnet --n 64          # synthetic BPNet-like dilated residual model, L = 2114
    python scripts/bench.py --memory 1000,50000           # peak RSS of end-to-end runs, flat in N
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
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "test_data" / "example_model.h5"),
                   help="a model file, or 'basset' / 'bpnet' for synthetic random-weight models")
    p.add_argument("--length", type=int, default=None, help="input length of a synthetic model")
    p.add_argument("--device", default=None, help="TensorFlow device for floor and engine, e.g. /GPU:0")
    p.add_argument("--genome", default=str(ROOT / "test_data" / "example_genome.fa"))
    p.add_argument("--n", type=int, default=512, help="sequences")
    p.add_argument("-k", "--shuffles", type=int, default=10)
    p.add_argument("--reference", choices=["shuffle", "gc"], default="shuffle")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--chunk-size", type=int, default=256, help="regions per chunk, as `genolift score --chunk-size`")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    p.add_argument("--no-end-to-end", action="store_true")
    p.add_argument("--task-all", action="store_true",
                   help="instead: engine time of --task all against one single-task run per task")
    p.add_argument("--ism", action="store_true",
                   help="instead: in-silico mutagenesis of --n sequences, plain batched vs receptive-field")
    p.add_argument("--memory", metavar="N1,N2", default=None,
                   help="instead: peak RSS of `genolift score` runs on N1 and N2 random regions (separate processes)")
    return p.parse_args(argv)


_RSS_RUN = """
import resource, sys
from pathlib import Path
from genolift.pipeline import RunConfig, run
run(RunConfig(model=Path(sys.argv[1]), regions=Path(sys.argv[2]), genome=Path(sys.argv[3]), output=Path(sys.argv[4]),
              shuffles=int(sys.argv[5]), batch_size=int(sys.argv[6]), quiet=True, force=True))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def ism_check(args) -> None:
    """Seconds for ISM of --n sequences: plain batched forward passes vs receptive-field recomputation."""
    import numpy as np

    from genolift.engine import Engine
    from genolift.model import load_model

    if args.model in ("basset", "bpnet"):
        args.model = synthetic_model(args.model, args.length, Path(tempfile.mkdtemp()))
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

    if args.model in ("basset", "bpnet"):
        args.model = synthetic_model(args.model, args.length, Path(tempfile.mkdtemp()))
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


def memory_check(args) -> None:
    """Peak RSS of end-to-end runs on two region counts: memory must not grow with N."""
    import subprocess

    from genolift.model import load_model

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


def synthetic_model(kind: str, length: int | None, folder: Path) -> str:
    """A random-weight Basset-like (L = 1000) or BPNet-like (L = 2114) model saved as .keras."""
    import keras
    from keras import layers

    rng = np.random.default_rng(0)
    if kind == "basset":
        L = length or 1000
        inp = keras.Input((L, 4))
        x = inp
        for filters, width, pool in ((300, 19, 3), (200, 11, 4), (200, 7, 4)):
            x = layers.Conv1D(filters, width, padding="same")(x)
            x = layers.MaxPooling1D(pool)(layers.Activation("relu")(layers.BatchNormalization()(x)))
        x = layers.Dense(1000, activation="relu")(layers.Flatten()(x))
        out = layers.Dense(164, activation="sigmoid")(layers.Dense(1000, activation="relu")(x))
        model = keras.Model(inp, out)
    else:
        L = length or 2114
        inp = keras.Input((L, 4))
        x = layers.Conv1D(64, 21, activation="relu")(inp)
        for i in range(1, 9):
            c = layers.Conv1D(64, 3, dilation_rate=2 ** i, activation="relu")(x)
            x = layers.Add()([layers.Cropping1D(2 ** i)(x), c])
        profile = layers.Flatten()(layers.Conv1D(1, 75)(x))
        counts = layers.Dense(1)(layers.GlobalAveragePooling1D()(x))
        model = keras.Model(inp, [counts, profile])  # counts first: the default output to explain
    for w in model.weights:
        scale = np.sqrt(2.0 / max(1, int(np.prod(w.shape[:-1]))))
        value = rng.normal(size=w.shape) * scale if len(w.shape) > 1 else np.zeros(w.shape)
        if "variance" in w.path:
            value = np.ones(w.shape)
        w.assign(value.astype("float32"))
    path = folder / f"{kind}.keras"
    model.save(path)
    return str(path)


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up (tracing)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def floor_seconds(keras_model, X, R, batch: int, repeats: int) -> float:
    """Plain TensorFlow: forward of X + input gradient on the N·K reference rows."""
    import tensorflow as tf

    def first_output(x):
        y = keras_model(x, training=False)
        return y[0] if isinstance(y, (list, tuple)) else y

    @tf.function
    def fwd(x):
        return first_output(x)

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            t = tf.reduce_sum(tf.reshape(first_output(x), [tf.shape(x)[0], -1])[:, 0])
        return tape.gradient(t, x)

    def run():  # every row; a last, smaller batch has its own (warmed-up) trace
        for i in range(0, len(X), batch):
            fwd(X[i:i + batch]).numpy()
        for i in range(0, len(R), batch):
            grad(R[i:i + batch]).numpy()

    return best_of(run, repeats)


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


def end_to_end_seconds(args, length: int) -> float:
    from genolift.pipeline import RunConfig, run

    with tempfile.TemporaryDirectory() as tmp:
        bed = Path(tmp) / "regions.bed"
        _random_bed(args.genome, args.n, length, bed)
        cfg = RunConfig(model=Path(args.model), regions=bed, genome=Path(args.genome),
                        output=Path(tmp) / "out.h5", reference=args.reference, shuffles=args.shuffles,
                        batch_size=args.batch_size, chunk_size=args.chunk_size, quiet=True, force=True, devices=args.device)
        run(cfg)  # warm-up: tracing, page cache
        t0 = time.perf_counter()
        summary = run(cfg)
        return time.perf_counter() - t0, summary.timings


def main(argv=None) -> None:
    args = _args(argv)
    if args.memory:
        return memory_check(args)
    if args.ism:
        return ism_check(args)
    if args.task_all:
        return task_all_check(args)
    import tensorflow as tf

    from genolift.engine import Engine
    from genolift.engine.batching import aligned_chunk
    from genolift.model import load_model
    from genolift.model.keras_reader import load_keras
    from genolift.references import dinucleotide_shuffle, gc_background

    if args.model in ("basset", "bpnet"):
        args.model = synthetic_model(args.model, args.length, Path(tempfile.mkdtemp()))
    graph = load_model(args.model)
    keras_model = load_keras(args.model)
    L = graph.length
    k = args.shuffles if args.reference == "shuffle" else 1
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.choice(4, (args.n, L), p=[0.3, 0.2, 0.2, 0.3])]
    if args.reference == "shuffle":
        R = dinucleotide_shuffle(X, k, seed=1)
        t_shuffle = best_of(lambda: dinucleotide_shuffle(X, k, seed=1), 1)
    else:
        R = gc_background(X, 0.4)[0, 0]
        t_shuffle = 0.0
    pairs = args.n * k
    R_rows = R.reshape(-1, L, 4) if R.ndim == 4 else np.broadcast_to(R, (args.n, L, 4)).copy()
    with tf.device(args.device or ""):
        t_floor = floor_seconds(keras_model, X, R_rows, args.batch_size, args.repeats)
    engine = Engine(graph, batch_size=args.batch_size, devices=[args.device] if args.device else None)
    chunk = aligned_chunk(args.chunk_size, args.batch_size, k)

    def engine_run():  # in the chunks a `genolift score` run would use
        for i in range(0, args.n, chunk):
            engine.run(X[i:i + chunk], R[i:i + chunk] if R.ndim == 4 else R)

    t_engine = best_of(engine_run, args.repeats)
    t_e2e, breakdown = (None, {}) if args.no_end_to_end else end_to_end_seconds(args, L)

    print(f"machine: {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, "
          f"devices {[d.device_type for d in tf.config.list_logical_devices()]}")
    print(f"model {Path(args.model).name}: L={L}, N={args.n}, K={k} ({args.reference}), "
          f"batch {args.batch_size} pairs, chunks of {chunk} regions, {pairs} pairs")
    print(f"floor       {pairs / t_floor:10.1f} pairs/s  ({t_floor:.2f} s)")
    print(f"engine      {pairs / t_engine:10.1f} pairs/s  ({t_engine:.2f} s)   engine/floor = {t_floor / t_engine:.2f}")
    if t_e2e is not None:
        print(f"end-to-end  {pairs / t_e2e:10.1f} pairs/s  ({t_e2e:.2f} s)   end-to-end/engine = "
              f"{t_engine / t_e2e:.2f}")
        startup = sum(v for key, v in breakdown.items() if key.startswith("engine start-up"))
        if startup:
            print(f"  without the start-up ({startup:.2f} s, once per run): end-to-end/engine = "
                  f"{t_engine / (t_e2e - startup):.2f}")
    for stage, seconds in breakdown.items():
        print(f"  {stage:22s} {seconds:8.2f} s")
    if t_shuffle:
        print(f"shuffling   {args.n * k * L / t_shuffle / 1e6:10.1f} M bases/s (one thread)")
    print(f"peak RSS    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:10.0f} MiB")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
