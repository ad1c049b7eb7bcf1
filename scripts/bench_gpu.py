#!/usr/bin/env python
"""What an accelerator asks of the host side: the PyTorch floor and tangermeme on the same weights, per device.

genolift's engine runs on TensorFlow.  Where TensorFlow cannot run on a GPU
machine (none installed, no registry to install it from), this still measures
two things there, on PyTorch ports of the benchmark models
(``scripts/torch_port.py``, the same weights as ``scripts/bench_models.py``):

* the **floor**: the unavoidable work of attribution with K references, time of
  the forward pass of N inputs plus the input gradient of the target on N·K
  rows, in float32 (TF32 off: exact float32 arithmetic) and under bfloat16
  autocast, at the faster of a few batch sizes, inputs copied from host memory
  per batch as a pipeline must (PyTorch eager with cuDNN's own algorithm
  choice: a floor any tool on PyTorch meets, not the device's ceiling);
* **tangermeme**'s ``deep_lift_shap`` with its own dinucleotide shuffles, on
  the device, at the fastest pair batch size of a few tried.

floor pairs/s ÷ K is the regions/s an attribution tool at the floor needs its
host side (reading, shuffling, writing) to sustain on that device;
``bench.py --host-only`` measures what genolift's host side gives on the same
machine's cores.

Usage::

    python scripts/bench_gpu.py --models basset,bpnet,chrombpnet --n 2000 -k 10 --device cuda
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

#: Rows per batch tried for the floor (the fastest is kept), capped by what fits and by --batch-size.
FLOOR_BATCHES = (256, 2048)
#: Pair batch sizes tried for tangermeme on an accelerator.
TANGERMEME_BATCHES = (128, 512, 2048)


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="basset,bpnet,chrombpnet,cnn200",
                   help="comma-separated benchmark models (scripts/bench_models.py); NAME:LENGTH for another length")
    p.add_argument("--n", type=int, default=2000, help="sequences per model (ChromBPNet-size: a tenth)")
    p.add_argument("-k", "--shuffles", type=int, default=10)
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch-size", type=int, default=2048, help="rows per floor batch")
    p.add_argument("--no-tangermeme", action="store_true")
    return p.parse_args(argv)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _one_hot(n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, length))]


def _rows_per_batch(port, length: int, batch: int, device: str) -> int:
    """``batch``, halved until one forward and input gradient of that many rows fit on the device."""
    import torch

    while batch > 1:
        try:
            x = torch.zeros((batch, 4, length), device=device, requires_grad=True)
            torch.autograd.grad(port(x)[:, 0].sum(), x)
            return batch
        except torch.OutOfMemoryError:
            batch //= 2
            torch.cuda.empty_cache()
    return 1


def floor_seconds(port, X: np.ndarray, k: int, batch: int, device: str, dtype) -> float:
    """Seconds of port's forward of X (N, 4, L) plus its target's input gradient on N·K rows (X repeated).

    ``dtype`` None: float32 with TF32 off; else the autocast dtype.  Rows are copied to the device per batch.
    """
    import torch

    def forward(rows):
        with torch.no_grad(), torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            return port(torch.from_numpy(rows).to(device, non_blocking=True))

    def gradient(rows):
        x = torch.from_numpy(rows).to(device, non_blocking=True).requires_grad_()
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            y = port(x)[:, 0].sum()
        return torch.autograd.grad(y, x)[0]

    pairs = np.repeat(X, k, axis=0) if k > 1 else X
    for fn, rows in ((forward, X[:batch]), (gradient, pairs[:batch])):  # warm-up: cuDNN's algorithm choice
        fn(rows)
    _sync(device)
    t0 = time.perf_counter()
    for start in range(0, len(X), batch):
        forward(X[start:start + batch])
    for start in range(0, len(pairs), batch):
        gradient(pairs[start:start + batch])
    _sync(device)
    return time.perf_counter() - t0


def tangermeme_seconds(port, X: np.ndarray, k: int, device: str) -> tuple[float, int]:
    """(seconds, batch) of tangermeme's deep_lift_shap, hypothetical, own shuffles, at its fastest batch tried."""
    import torch
    from tangermeme.deep_lift_shap import deep_lift_shap

    x = torch.from_numpy(X)

    def run(rows, batch):
        t0 = time.perf_counter()
        deep_lift_shap(port, rows, target=0, batch_size=batch, n_shuffles=k, random_state=0, hypothetical=True,
                       device=device, warning_threshold=1e9, verbose=False)
        _sync(device)
        return time.perf_counter() - t0

    few = x[: max(2, min(len(x), 4096 // k))]
    run(few[:2], TANGERMEME_BATCHES[0])  # warm-up: numba's shuffle, cuDNN
    timed = {}
    for batch in TANGERMEME_BATCHES:
        try:
            timed[batch] = run(few, batch)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
    batch = min(timed, key=timed.get)
    return run(x, batch), batch


def main(argv=None) -> None:
    args = _args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("KERAS_BACKEND", "jax")  # building and reading the models needs no TensorFlow
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import torch
    from bench_models import bench_model
    from torch_port import torch_model

    from genolift.model import load_model

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(f"device {name}; torch {torch.__version__}; K = {args.shuffles}; floor batches of {FLOOR_BATCHES} rows "
          f"(at most {args.batch_size}), the faster kept")
    header = (f"{'model':22s} {'L':>5s} {'N':>5s} {'floor f32':>11s} {'floor bf16':>11s} {'regions/s':>10s} "
              f"{'tangermeme':>11s} {'batch':>5s}")
    lines = [header]
    folder = Path(tempfile.mkdtemp())
    for spec in args.models.split(","):
        model, _, length = spec.partition(":")
        graph = load_model(bench_model(model, int(length) if length else None, folder), cache=False)
        port = torch_model(graph).to(args.device)
        L = graph.length
        n = max(20, args.n // 10) if model == "chrombpnet" else args.n
        X = np.ascontiguousarray(_one_hot(n, L, 0).transpose(0, 2, 1))
        fits = _rows_per_batch(port, L, args.batch_size, args.device)
        batches = sorted({min(b, fits) for b in FLOOR_BATCHES})
        pairs = n * args.shuffles
        rates = [max(pairs / floor_seconds(port, X, args.shuffles, batch, args.device, dtype) for batch in batches)
                 for dtype in (None, torch.bfloat16)]
        tangermeme = "not run"
        tm_batch = ""
        if not args.no_tangermeme:
            seconds, tm_batch = tangermeme_seconds(port, X, args.shuffles, args.device)
            tangermeme = f"{pairs / seconds:11.0f}"
        lines.append(f"{spec:22s} {L:5d} {n:5d} {rates[0]:11.0f} {rates[1]:11.0f} "
                     f"{max(rates) / args.shuffles:10.0f} {tangermeme:>11s} {tm_batch!s:>5s}")
        print(lines[-1], flush=True)
        del port
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    print("pairs/s; regions/s = the faster floor / K: what the host side must sustain to keep up with it")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
