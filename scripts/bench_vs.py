"""``bench.py --vs tangermeme``: tangermeme's deep_lift_shap on a PyTorch port of the same model, same run.

Needs the ``bench`` extra (``pip install -e ".[bench]"``: torch, tangermeme 1.6.0).  Each tool runs in a
process of its own, timed whole (start, imports, reading the model, shuffling, attributing, saving the
hypothetical scores), as a user would run it; one process also keeps TensorFlow's and PyTorch's thread
pools from competing.  Three timed runs on the same sequences, K references each:

* genolift: ``genolift.attribute(graph, X, references="shuffle", shuffles=K)``;
* tangermeme: ``deep_lift_shap(port, X, n_shuffles=K, random_state=0, hypothetical=True)``, its own
  shuffles, at its fastest pair batch size of :data:`TANGERMEME_BATCHES` (tried on a few sequences
  beforehand) and torch threads = cores;
* tangermeme on genolift's references, for the agreement check: the hypothetical scores should agree to
  1e-4 relative (max |difference| / max |score|).

Where a max pool's input is equal in a sequence and its reference (Δx = 0: the same bases under a
convolution's window, as at the ends of a dinucleotide shuffle, which keeps the first and last base),
its multiplier is a 0/0 ratio.  Contributions there are 0 whatever it is, so both tools sum to delta, but
hypothetical scores read it.  tangermeme takes the pool's gradient at the sequence; genolift the
limit Δx → 0 (before rules version 2: 0; see :data:`torch_port.CONVENTIONS`).  For models with max
pools an untimed run of tangermeme with each of the other two conventions shows which positions that
choice moves and how far the scores agree without them, and under genolift's convention everywhere.

Usage as a child process: ``bench_vs.py genolift|tangermeme MODEL FOLDER K BATCH own|given|conventions``.
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
#: tangermeme's max-pool multiplier where Δx = 0 replaced by each of these (torch_port.CONVENTIONS).
CHANGED = ("zero", "limit")
#: Words for each convention.
WORDS = {"zero": "0",
         "limit": "the limit Δx → 0 (the upstream multiplier where both branches' first maximum is there)"}


def _tangermeme(graph, X: np.ndarray, batch: int, convention: str = "tangermeme", **kw) -> np.ndarray:
    """tangermeme's hypothetical scores (N, L, 4) of X (N, L, 4), its max-pool rule at Δx = 0 of ``convention``."""
    import torch
    from tangermeme.deep_lift_shap import deep_lift_shap
    from torch_port import maxpool_rule, torch_model

    rules = {} if convention == "tangermeme" else {torch.nn.MaxPool1d: maxpool_rule(convention)}
    hyp = deep_lift_shap(torch_model(graph), torch.from_numpy(X.transpose(0, 2, 1).copy()), target=0,
                         batch_size=batch, hypothetical=True, device="cpu", warning_threshold=1e9,
                         additional_nonlinear_ops=rules or None, **kw)
    return hyp.numpy().transpose(0, 2, 1)


def _child(tool: str, model: str, folder: Path, k: int, batch: int, mode: str) -> None:
    """One process: scores of folder/X.npy saved to folder/<tool>[-given|-<convention>].npy."""
    import warnings

    import genolift

    X = np.load(folder / "X.npy")
    graph = genolift.load_model(model)
    if tool == "genolift":
        hyp = genolift.attribute(graph, X, references="shuffle", shuffles=k, seed=1, batch_size=batch).hypothetical
        np.save(folder / "genolift.npy", hyp)
        return
    import torch

    warnings.filterwarnings("ignore")
    torch.set_num_threads(os.cpu_count())
    if mode == "own":
        np.save(folder / "tangermeme.npy", _tangermeme(graph, X, batch, n_shuffles=k, random_state=0))
        return
    R = torch.from_numpy(np.load(folder / "R.npy").transpose(0, 1, 3, 2).copy())
    for convention in ("tangermeme",) if mode == "given" else CHANGED:
        name = "given" if convention == "tangermeme" else convention
        np.save(folder / f"tangermeme-{name}.npy", _tangermeme(graph, X, batch, convention, references=R))


def _timed(*argv) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, *map(str, argv)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench_vs.py {' '.join(map(str, argv))} failed:\n{done.stderr[-3000:]}")
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
    pools = any(node.op == "maxpool1d" for node in graph.nodes)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.save(folder / "X.npy", X)
        np.save(folder / "R.npy", R)
        batch = _best_batch(args.model, folder, X, k)
        t_ours = _timed("genolift", args.model, folder, k, args.batch_size, "own")
        t_theirs = _timed("tangermeme", args.model, folder, k, batch, "own")
        t_same = _timed("tangermeme", args.model, folder, k, batch, "given")
        if pools:
            _timed("tangermeme", args.model, folder, k, batch, "conventions")
        ours, theirs = np.load(folder / "genolift.npy"), np.load(folder / "tangermeme-given.npy")
        changed = {c: np.load(folder / f"tangermeme-{c}.npy") for c in CHANGED} if pools else {}
    pairs = len(X) * k
    print(f"tangermeme {tangermeme.__version__}, torch {torch.__version__} ({os.cpu_count()} threads), "
          f"batch {batch} pairs (fastest of {TANGERMEME_BATCHES}); whole processes, start-up included")
    print(f"genolift    {pairs / t_ours:10.1f} pairs/s  ({t_ours:.2f} s)")
    print(f"tangermeme  {pairs / t_theirs:10.1f} pairs/s  ({t_theirs:.2f} s, its own shuffles)   "
          f"genolift/tangermeme = {t_theirs / t_ours:.2f}")
    print(f"tangermeme  {pairs / t_same:10.1f} pairs/s  ({t_same:.2f} s, genolift's references)")
    report_agreement(ours, theirs, changed)


def _relative(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """(N, L) max |difference| over the bases / max |score| of genolift's scores."""
    return np.abs(theirs - ours).max(axis=2) / np.abs(ours).max()


def _verdict(relative: float) -> str:
    return f"{relative:.1e} relative ({'ok' if relative <= 1e-4 else 'ABOVE 1e-4'})"


def report_agreement(ours: np.ndarray, theirs: np.ndarray, changed: dict) -> None:
    """Print how far genolift's hypothetical scores agree with tangermeme's, its max-pool rule as it is and changed.

    ``changed``: tangermeme's scores with its multiplier where a max pool's input has Δx = 0 replaced,
    {convention: (N, L, 4)} (empty for a model without max pools).
    """
    per_position = _relative(ours, theirs)
    per_sequence = per_position.max(axis=1)
    print(f"hypothetical scores agree to {_verdict(float(per_sequence.max()))} (max |difference| / max |score|); "
          f"median sequence {np.median(per_sequence):.1e}, {(per_sequence > 1e-4).mean():.1%} of sequences above 1e-4")
    if not changed:
        return
    moved = np.zeros(per_position.shape, bool)
    for scores in changed.values():
        moved |= np.abs(scores - theirs).max(axis=2) > 1e-7 * np.abs(theirs).max()
    rest = float(per_position[~moved].max()) if (~moved).any() else 0.0
    print(f"  where a max pool's input is equal in sequence and reference (Δx = 0) its multiplier is 0/0; "
          f"tangermeme takes the pool's gradient at the sequence.  That choice moves the scores of {moved.sum()} "
          f"positions in {moved.any(axis=1).sum()} of {len(ours)} sequences; the others agree to {_verdict(rest)}")
    agree = {c: float(_relative(ours, scores).max()) for c in changed}
    for c, relative in agree.items():
        print(f"  tangermeme taking {WORDS[c]} there: all positions agree to {_verdict(relative)}")
    best = min(agree, key=agree.get)
    print(f"  genolift's multiplier where Δx = 0: {WORDS[best] if agree[best] <= 1e-4 else 'neither'}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    tool, model, folder, k, batch, mode = sys.argv[1:7]
    if mode == "imports-only":
        import genolift  # noqa: F401
        import tangermeme.deep_lift_shap  # noqa: F401
        import torch  # noqa: F401
    else:
        _child(tool, model, Path(folder), int(k), int(batch), mode)
