#!/usr/bin/env python
"""The engine on one GPU, on JAX or PyTorch: pairs/s, exactness, the backend's strict floor, memory, tangermeme.

One process per backend (Keras reads the models on it: ``KERAS_BACKEND`` is set before Keras loads).  For
each benchmark model (``scripts/bench_models.py``) it prints one row per precision:

* engine pairs/s: ``Engine(graph, backend=..., precision=...)`` at ``--batch-size auto`` on N sequences
  against K dinucleotide shuffles each, prepared beforehand (after a warm-up call that compiles);
* max |delta| / (1 + |Δt|) over the pairs: float32 must be IEEE float32 (TensorFloat-32 off: ≤ 1e-5);
* the strict floor of the same backend in float32 (``bench_floors.py``: Keras's model and genolift's plain
  graph, compiled and not; forward of N + input gradient on N·K rows), and engine / floor;
* peak GPU memory of the engine after N and after 4N sequences (it must stay flat);
* on PyTorch, tangermeme's ``deep_lift_shap`` on a PyTorch port of the same weights
  (``scripts/torch_port.py``), its own shuffles, at its fastest pair batch size of a few, and
  engine / tangermeme.

Usage (on a GPU machine; ``scripts/gpu_check.sh`` runs both backends and the host side)::

    python scripts/gpu_backends.py --backend jax --models bpnet,chrombpnet,basset --n 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["jax", "torch"], required=True)
    p.add_argument("--models", default="bpnet,chrombpnet,basset",
                   help="benchmark models; NAME:LENGTH for another input length (bpnet is 2114 bp)")
    p.add_argument("--n", type=int, default=1000, help="sequences per model (ChromBPNet-size: a tenth)")
    p.add_argument("-k", "--shuffles", type=int, default=10)
    p.add_argument("--precisions", default="float32,bfloat16")
    p.add_argument("--no-tangermeme", action="store_true")
    p.add_argument("--no-floor", action="store_true")
    return p.parse_args(argv)


def _peak_bytes(xp) -> int:
    """Peak device memory the backend's allocator has held (bytes), 0 on a CPU."""
    if xp.NAME == "torch":
        import torch

        return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else 0
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return int(stats.get("peak_bytes_in_use", 0))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _engine_row(graph, X, R, precision: str, backend: str) -> dict:
    """Pairs/s, worst relative delta and peak memory (after N and after 4N) of the engine."""
    from genolift.engine import Engine

    engine = Engine(graph, backend=backend, precision=precision, output=0)
    engine.run(X, R)  # compiles every batch shape of the run
    seconds = _timed(lambda: engine.run(X, R))
    res = engine.run(X, R)
    dt = res.predictions[:, None] - res.reference_predictions
    peak_n = _peak_bytes(engine.xp)
    engine.run(np.concatenate([X] * 4), np.concatenate([R] * 4))
    return {"engine": X.shape[0] * R.shape[1] / seconds, "worst": float(np.max(np.abs(res.deltas) / (1 + np.abs(dt)))),
            "peak_n": peak_n / 2**30, "peak_4n": _peak_bytes(engine.xp) / 2**30, "batch": engine.batch_size,
            "device": engine.device_name()}


def _floor(backend: str, path: str, graph, X, R, batch: int) -> float:
    """Pairs/s of the backend's strict floor in float32 (the fastest form of bench_floors.py)."""
    from bench_floors import floor_runs

    from genolift.model.keras_reader import load_keras

    runs = floor_runs(backend, load_keras(path), graph, X, R.reshape(-1, *X.shape[1:]), batch)
    best = float("inf")
    for name, run in runs.items():
        try:
            run()  # compile
            best = min(best, _timed(run))
        except Exception as exc:  # noqa: BLE001 (a form that fails on this device is left out, and said)
            print(f"  floor {name}: left out ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
    return X.shape[0] * R.shape[1] / best


def _tangermeme(graph, X, k: int) -> tuple[float, int]:
    """Pairs/s of tangermeme on the GPU (its own shuffles, its fastest batch of a few), and that batch."""
    from bench_gpu import tangermeme_seconds
    from torch_port import torch_model

    port = torch_model(graph).to("cuda")
    seconds, batch = tangermeme_seconds(port, np.ascontiguousarray(X.transpose(0, 2, 1)), k, "cuda")
    return X.shape[0] * k / seconds, batch


def main(argv=None) -> None:
    args = _args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    warnings.filterwarnings("ignore")
    from bench_models import bench_model

    from genolift.engine.backends import load
    from genolift.model import load_model
    from genolift.references import dinucleotide_shuffle

    xp = load(args.backend)
    xp.exact_float32()
    folder = Path(tempfile.mkdtemp())
    print(f"{args.backend} {xp.version()} on {xp.default_device()}"
          f"{' (' + xp.gpu_name(None) + ')' if xp.is_gpu(None) else ''}; K = {args.shuffles}")
    print(f"{'backend':7s} {'model':14s} {'L':>5s} {'N':>5s} {'precision':9s} {'batch':>5s} {'engine':>9s} "
          f"{'max|d|/(1+|dt|)':>15s} {'floor f32':>10s} {'eng/floor':>9s} {'GiB at N':>8s} {'at 4N':>6s} "
          f"{'tangermeme':>10s} {'eng/tm':>6s}")
    for spec in args.models.split(","):
        name, _, length = spec.partition(":")
        path = bench_model(name, int(length) if length else None, folder)
        graph = load_model(path, backend=args.backend, cache=False)
        n = max(20, args.n // 10) if name == "chrombpnet" else args.n
        X = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (n, graph.length))]
        R = dinucleotide_shuffle(X, args.shuffles, seed=1)
        floor = tm = None
        for precision in args.precisions.split(","):
            row = _engine_row(graph, X, R, precision, args.backend)
            if precision == "float32" and not args.no_floor:
                floor = _floor(args.backend, path, graph, X, R, row["batch"])
            if precision == "float32" and args.backend == "torch" and not args.no_tangermeme and xp.is_gpu(None):
                tm = _tangermeme(graph, X, args.shuffles)
            versus = f"{row['engine'] / floor:9.2f}" if floor and precision == "float32" else f"{'':9s}"
            tm_words = (f"{tm[0]:10.0f} {row['engine'] / tm[0]:6.2f}" if tm and precision == "float32"
                        else f"{'':10s} {'':6s}")
            print(f"{args.backend:7s} {spec:14s} {graph.length:5d} {n:5d} {precision:9s} {row['batch']:5d} "
                  f"{row['engine']:9.0f} {row['worst']:15.1e} {floor or 0:10.0f} {versus} {row['peak_n']:8.2f} "
                  f"{row['peak_4n']:6.2f} {tm_words}", flush=True)


if __name__ == "__main__":
    main()
