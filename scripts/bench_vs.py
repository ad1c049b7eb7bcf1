"""``bench.py --vs tangermeme``: tangermeme's deep_lift_shap on a PyTorch port of the same model, same run.

Needs the ``bench`` extra (``pip install -e ".[bench]"``: torch, tangermeme 1.6.0).  Each tool runs in a
process of its own, timed whole (start, imports, reading the model, shuffling, attributing, saving the
hypothetical scores), as a user would run it; one process also keeps TensorFlow's and PyTorch's thread
pools from competing.  Three runs on the same sequences, K references each:

* genolift: ``genolift.attribute(graph, X, references="shuffle", shuffles=K)``;
* tangermeme: ``deep_lift_shap(port, X, n_shuffles=K, random_state=0, hypothetical=True)``, its own
  shuffles, at its fastest pair batch size of :data:`TANGERMEME_BATCHES` (tried on a few sequences
  beforehand) and torch threads = cores;
* tangermeme on genolift's references, for the agreement check: the hypothetical scores should agree to
  1e-4 relative (max |difference| / max |score|).  Where a max pool's input is equal in a sequence and
  its reference (Δx = 0), tangermeme takes the pool's gradient as the multiplier and genolift 0; both sum
  to delta, but the hypothetical scores of the few sequences where this happens differ.

Usage as a child process: ``bench_vs.py genolift|tangermeme MODEL FOLDER K BATCH [references]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: Pair batch sizes tried for tangermeme (its default is 32).
TANGERMEME_BATCHES = (32, 64, 128, 256)


def _child(tool: str, model: str, folder: Path, k: int, batch: int, given: bool) -> None:
    """One timed process: scores of folder/X.npy saved to folder/<tool>.npy."""
    import warnings

    import genolift

    X = np.load(folder / "X.npy")
    graph = genolift.load_model(model)
    if tool == "genolift":
        hyp = genolift.attribute(graph, X, references="shuffle", shuffles=k, seed=1, batch_size=batch).hypothetical
        np.save(folder / "genolift.npy", hyp)
        return
    import torch
    from tangermeme.deep_lift_shap import deep_lift_shap
    from torch_port import torch_model

    warnings.filterwarnings("ignore")
    torch.set_num_threads(os.cpu_count())
    kw = dict(n_shuffles=k, random_state=0)
    if given:
        kw = dict(references=torch.from_numpy(np.load(folder / "R.npy").transpose(0, 1, 3, 2).copy()))
    hyp = deep_lift_shap(torch_model(graph), torch.from_numpy(X.transpose(0, 2, 1).copy()), target=0,
                         batch_size=batch, hypothetical=True, device="cpu", warning_threshold=1e9, **kw)
    np.save(folder / f"tangermeme{'-given' if given else ''}.npy", hyp.numpy().transpose(0, 2, 1))


def _timed(*argv) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, *map(str, argv)], check=True, capture_output=True)
    return time.perf_counter() - t0


def _best_batch(model: str, folder: Path, X: np.ndarray, k: int) -> int:
    """tangermeme's fastest pair batch size on a few sequences (each in a process of its own, imports excluded)."""
    few = folder / "few"
    few.mkdir()
    np.save(few / "X.npy", X[: max(2, min(len(X), 512 // k))])
    base = _timed("tangermeme", model, few, k, 1 << 30, "imports-only")
    return min(TANGERMEME_BATCHES, key=lambda b: _timed("tangermeme", model, few, k, b, "own") - base)


def versus_tangermeme(args, graph, X: np.ndarray, R: np.ndarray | None, k: int) -> None:
    """Print whole-process seconds of genolift and tangermeme on X with K shuffles, and the scores' agreement."""
    import tempfile

    import tangermeme
    import torch

    if R is None:
        raise SystemExit("--vs tangermeme compares dinucleotide shuffles: use --reference shuffle")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.save(folder / "X.npy", X)
        np.save(folder / "R.npy", R)
        batch = _best_batch(args.model, folder, X, k)
        t_ours = _timed("genolift", args.model, folder, k, args.batch_size, "own")
        t_theirs = _timed("tangermeme", args.model, folder, k, batch, "own")
        t_same = _timed("tangermeme", args.model, folder, k, batch, "given")
        ours, theirs = np.load(folder / "genolift.npy"), np.load(folder / "tangermeme-given.npy")
    per_sequence = np.abs(theirs - ours).max(axis=(1, 2)) / np.abs(ours).max()
    relative = float(per_sequence.max())
    pairs = len(X) * k
    print(f"tangermeme {tangermeme.__version__}, torch {torch.__version__} ({os.cpu_count()} threads), "
          f"batch {batch} pairs (fastest of {TANGERMEME_BATCHES}); whole processes, start-up included")
    print(f"genolift    {pairs / t_ours:10.1f} pairs/s  ({t_ours:.2f} s)")
    print(f"tangermeme  {pairs / t_theirs:10.1f} pairs/s  ({t_theirs:.2f} s, its own shuffles)   "
          f"genolift/tangermeme = {t_theirs / t_ours:.2f}")
    print(f"tangermeme  {pairs / t_same:10.1f} pairs/s  ({t_same:.2f} s, genolift's references)")
    print(f"hypothetical scores agree to {relative:.1e} relative (max |difference| / max |score|; "
          f"{'ok' if relative <= 1e-4 else 'ABOVE 1e-4'}); median sequence {np.median(per_sequence):.1e}, "
          f"{(per_sequence > 1e-4).mean():.1%} of sequences above 1e-4")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    tool, model, folder, k, batch, mode = sys.argv[1:7]
    if mode == "imports-only":
        import genolift  # noqa: F401
        import tangermeme.deep_lift_shap  # noqa: F401
        import torch  # noqa: F401
    else:
        _child(tool, model, Path(folder), int(k), int(batch), mode == "given")
