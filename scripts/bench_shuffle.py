"""Throughput of the dinucleotide shuffle: M shuffled bases per second, per stage, on one core.

    python scripts/bench_shuffle.py [--n 1000] [--k 10] [--lengths 200 1000 2114] [--repeats 5]

Stages (the first call, which compiles or loads the numba kernels, is excluded):

* ``codes``: :func:`genolift.references.shuffle_codes`, codes (N, L) in -> codes (N, k, L) out;
* ``one-hot``: :func:`genolift.sequences.codes_to_one_hot` of that output;
* ``whole``: :func:`genolift.references.dinucleotide_shuffle`, one-hot in -> one-hot out;
* ``codes x2``: ``codes`` with the batch split in halves over two threads (the kernels release the GIL).

Each figure is the best of ``--repeats`` runs.  ``--compile`` instead reports the first-call time
of the kernels in a fresh process, with an empty numba cache and then with the cache it wrote.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def best_seconds(fn, repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_length(n: int, k: int, L: int, repeats: int) -> dict[str, float]:
    """M bases per second of each stage at one length."""
    from genolift.references import dinucleotide_shuffle, shuffle_codes
    from genolift.sequences import codes_to_one_hot

    codes = np.random.default_rng(L).integers(0, 4, size=(n, L)).astype(np.int8)
    X = codes_to_one_hot(codes)
    keys = [f"chr1:{L * i}-{L * i + L}" for i in range(n)]
    shuffle_codes(codes[:2], k, 0, keys[:2])  # compile / load the kernels
    out = shuffle_codes(codes, k, 0, keys)
    half = n // 2

    def two_threads():
        with ThreadPoolExecutor(2) as pool:
            parts = [pool.submit(shuffle_codes, codes[a:b], k, 0, keys[a:b]) for a, b in ((0, half), (half, n))]
            return [p.result() for p in parts]

    bases = n * k * L / 1e6
    return {
        "codes": bases / best_seconds(lambda: shuffle_codes(codes, k, 0, keys), repeats),
        "one-hot": bases / best_seconds(lambda: codes_to_one_hot(out), repeats),
        "whole": bases / best_seconds(lambda: dinucleotide_shuffle(X, k, 0, keys), repeats),
        "codes x2": bases / best_seconds(two_threads, repeats),
    }


_FIRST_CALL = """
import time, numpy as np
t0 = time.perf_counter()
from genolift.references import dinucleotide_shuffle
dinucleotide_shuffle(np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 2]], 2)
print(time.perf_counter() - t0)
"""


def compile_times() -> tuple[float, float]:
    """First-call seconds (numba's import included) in fresh processes: with an empty cache, then with it filled."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root)
        runs = [float(subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, check=True,
                                     capture_output=True, text=True).stdout) for _ in range(2)]
    return runs[0], runs[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--lengths", type=int, nargs="+", default=[200, 1000, 2114])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="report the kernels' first-call time instead")
    args = parser.parse_args()
    if args.compile:
        cold, warm = compile_times()
        print(f"first call: {cold:.2f} s with an empty numba cache, {warm:.2f} s with the cache")
        return
    print(f"M shuffled bases / s, N={args.n}, k={args.k}, best of {args.repeats}")
    print(f"{'L':>6} {'codes':>8} {'one-hot':>8} {'whole':>8} {'codes x2':>9}")
    for L in args.lengths:
        r = bench_length(args.n, args.k, L, args.repeats)
        print(f"{L:>6} {r['codes']:8.1f} {r['one-hot']:8.1f} {r['whole']:8.1f} {r['codes x2']:9.1f}")


if __name__ == "__main__":
    main()
