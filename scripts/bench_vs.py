"""``bench.py --vs tangermeme``: tangermeme's deep_lift_shap on a PyTorch port of the same model, same run.

Needs the ``bench`` extra (``pip install -e ".[bench]"``: torch, tangermeme 1.6.0).  Each tool runs in a
process of its own, timed whole (start, imports, reading the model, shuffling, attributing, saving the
hypothetical scores), as a user would run it; one process also keeps TensorFlow's and PyTorch's thread
pools from competing.  Timed runs on the same sequences, K references each:

* genolift: ``genolift.attribute(graph, X, references="shuffle", shuffles=K)``, three times: a first run
  after install (an empty cache folder: numba compiles the shuffle kernels, Keras reads the model file,
  ``--compile auto`` compiles and times plain and XLA), a first run of the model (the kernels already
  compiled, as after any earlier run on the machine; Keras and ``auto`` as before), and a later run that
  reads the graph and the choice the first run of the model kept;
* genolift's command line on the same sequences, a later run: ``genolift hypothetical MODEL seqs.fa
  --shuffles K -o out.h5`` (reading the FASTA, writing gzip-compressed HDF5, as a pipeline step would);
* tangermeme: ``deep_lift_shap(port, X, n_shuffles=K, random_state=0, hypothetical=True)``, its own
  shuffles, torch threads = cores, at each pair batch size of :data:`TANGERMEME_BATCHES`, each timed
  whole on all the sequences; the fastest is the yardstick (a choice made on a few sequences picked a
  batch size 1.4x slower than the best in one trial);
* tangermeme on genolift's references, for the agreement check: the hypothetical scores should agree to
  1e-4 relative (max |difference| / max |score|).

Both tools compute in float32, and where a Rescale ratio divides by a small Δz its round-off grows, so two
float32 implementations of the same rule can differ by more than that on a few positions of some models;
the check is repeated, untimed, in float64 (genolift ``precision="float64"``, the torch port in double),
where the same rule agrees to round-off, and genolift's float32 is compared with its float64 to show the
size of that round-off.

Where a max pool's input is equal in a sequence and its reference (Δx = 0: the same bases under a
convolution's window, as at the ends of a dinucleotide shuffle, which keeps the first and last base),
its multiplier is a 0/0 ratio.  Contributions there are 0 whatever it is, so both tools sum to delta, but
hypothetical scores read it.  tangermeme takes the pool's gradient at the sequence; genolift the
limit Δx → 0 (before rules version 2: 0; see :data:`torch_port.CONVENTIONS`).  For models with max
pools the float64 check runs tangermeme with each of the two.

Usage as a child process: ``bench_vs.py genolift|tangermeme MODEL FOLDER K BATCH own|given|float64``.
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
#: Words for tangermeme's max-pool multiplier where Δx = 0 (torch_port.CONVENTIONS).
WORDS = {"tangermeme": "its own max-pool multiplier where Δx = 0 (the pool's gradient at the sequence)",
         "limit": "genolift's max-pool multiplier where Δx = 0 (the limit Δx → 0)"}


def _tangermeme(graph, X: np.ndarray, batch: int, convention: str = "tangermeme", **kw) -> np.ndarray:
    """tangermeme's hypothetical scores (N, L, 4) of X (N, L, 4), its max-pool rule at Δx = 0 of ``convention``.

    In float64 (the port in double) when X is float64; ``references`` in ``kw`` must match.
    """
    import torch
    from tangermeme.deep_lift_shap import deep_lift_shap
    from torch_port import maxpool_rule, torch_model

    rules = {} if convention == "tangermeme" else {torch.nn.MaxPool1d: maxpool_rule(convention)}
    port = torch_model(graph).double() if X.dtype == np.float64 else torch_model(graph)
    hyp = deep_lift_shap(port, torch.from_numpy(X.transpose(0, 2, 1).copy()), target=0,
                         batch_size=batch, hypothetical=True, device="cpu", warning_threshold=1e9,
                         additional_nonlinear_ops=rules or None, **kw)
    return hyp.numpy().transpose(0, 2, 1)


def _child(tool: str, model: str, folder: Path, k: int, batch: int, mode: str) -> None:
    """One process: scores of folder/X.npy saved to folder/<tool>[-given|-<convention>].npy."""
    import warnings

    import genolift

    X = np.load(folder / "X.npy")
    graph = genolift.load_model(model)
    if tool == "genolift" and mode == "float64":
        from genolift.engine import Engine

        R = np.load(folder / "R.npy")
        for precision in ("float32", "float64"):
            hyp = Engine(graph, batch_size=batch, precision=precision).run(X, R).hypothetical
            np.save(folder / f"genolift-{precision}.npy", hyp)
        return
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
    R = np.load(folder / "R.npy").transpose(0, 1, 3, 2)
    if mode == "given":
        np.save(folder / "tangermeme-given.npy", _tangermeme(graph, X, batch, references=torch.from_numpy(R.copy())))
        return
    pools = any(node.op == "maxpool1d" for node in graph.nodes)
    for convention in ("tangermeme", "limit") if pools else ("tangermeme",):
        hyp = _tangermeme(graph, X.astype(np.float64), batch, convention,
                          references=torch.from_numpy(R.astype(np.float64)))
        np.save(folder / f"tangermeme-float64-{convention}.npy", hyp)


def _seconds(argv: list, records: Path | None = None, kernels: Path | None = None) -> float:
    """Whole-process seconds of the command ``argv``.

    ``records``: its GENOLIFT_CACHE_DIR (graphs, compile records, and the shuffle kernels unless
    ``kernels`` is given: then that folder holds the kernels, as NUMBA_CACHE_DIR).  genolift runs on the
    backend ``KERAS_BACKEND`` names (``bench.py --backend`` sets it before this runs).
    """
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_CACHE_DIR"}
    env.update({"GENOLIFT_CACHE_DIR": str(records)} if records else {})
    env.update({"NUMBA_CACHE_DIR": str(kernels)} if kernels else {})
    argv = [str(a) for a in argv]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv[1:])} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0


def _timed(*argv, records: Path | None = None, kernels: Path | None = None) -> float:
    """Whole-process seconds of ``bench_vs.py *argv`` (caches as in :func:`_seconds`)."""
    return _seconds([sys.executable, __file__, *argv], records, kernels)


def _command(args, folder: Path, X: np.ndarray, k: int, records: Path, kernels: Path) -> float:
    """Whole-process seconds of ``genolift hypothetical`` on X written as a FASTA (bases ACGT, N where all 0)."""
    codes = np.where(X.sum(axis=2) > 0, X.argmax(axis=2), 4)
    letters = np.frombuffer(b"ACGTN", dtype="S1")[codes]
    fasta = folder / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{row.tobytes().decode()}\n" for i, row in enumerate(letters)))
    out = folder / "command.h5"
    seconds = _seconds([sys.executable, "-m", "genolift", "hypothetical", args.model, fasta, "--shuffles", k,
                        "--seed", 1, "--batch-size", args.batch_size, "--backend", args.backend, "-q", "-o", out],
                       records, kernels)
    if not out.exists():
        raise SystemExit(f"genolift hypothetical wrote no {out}")
    return seconds


def _tangermeme_by_batch(model: str, folder: Path, k: int) -> dict[int, float]:
    """{pair batch size: whole-process seconds of tangermeme on all of folder/X.npy}, own shuffles."""
    return {b: _timed("tangermeme", model, folder, k, b, "own") for b in TANGERMEME_BATCHES}


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
        run = ("genolift", args.model, folder, k, args.batch_size, "own")
        fresh = folder / "fresh"  # empty: numba compiles the kernels, Keras reads the model, auto measures
        t_install = _timed(*run, records=fresh)
        records = folder / "records"  # empty but for the kernels compiled by the run above
        t_first = _timed(*run, records=records, kernels=fresh / "numba")
        t_ours = _timed(*run, records=records, kernels=fresh / "numba")
        t_command = _command(args, folder, X, k, records=records, kernels=fresh / "numba")
        by_batch = _tangermeme_by_batch(args.model, folder, k)
        batch = min(by_batch, key=by_batch.get)
        t_theirs = by_batch[batch]
        t_same = _timed("tangermeme", args.model, folder, k, batch, "given")
        _timed("genolift", args.model, folder, k, args.batch_size, "float64")  # untimed: the agreement check
        _timed("tangermeme", args.model, folder, k, batch, "float64")
        ours, theirs = np.load(folder / "genolift.npy"), np.load(folder / "tangermeme-given.npy")
        precise = {p: np.load(folder / f"genolift-{p}.npy") for p in ("float32", "float64")}
        theirs64 = {c: np.load(folder / f"tangermeme-float64-{c}.npy") for c in WORDS
                    if (folder / f"tangermeme-float64-{c}.npy").exists()}
    pairs = len(X) * k
    print(f"genolift on {args.backend}; tangermeme {tangermeme.__version__}, torch {torch.__version__} "
          f"({os.cpu_count()} threads), "
          f"batch {batch} pairs (fastest, whole runs: "
          f"{', '.join(f'{b}: {t:.2f} s' for b, t in by_batch.items())}); whole processes, start-up included")
    print(f"genolift    {pairs / t_install:10.1f} pairs/s  ({t_install:.2f} s, first run after install: "
          f"numba compiles the shuffle kernels, then as below)   tangermeme/genolift = {t_theirs / t_install:.2f}")
    print(f"genolift    {pairs / t_first:10.1f} pairs/s  ({t_first:.2f} s, first run of the model: Keras reads it, "
          f"auto measures plain and XLA)   tangermeme/genolift = {t_theirs / t_first:.2f}")
    print(f"genolift    {pairs / t_ours:10.1f} pairs/s  ({t_ours:.2f} s, later runs: auto's choice read from disk)"
          f"   tangermeme/genolift = {t_theirs / t_ours:.2f}")
    print(f"genolift    {pairs / t_command:10.1f} pairs/s  ({t_command:.2f} s, `genolift hypothetical` FASTA -> HDF5, "
          f"later run)   tangermeme/genolift = {t_theirs / t_command:.2f}")
    print(f"tangermeme  {pairs / t_theirs:10.1f} pairs/s  ({t_theirs:.2f} s, its own shuffles)")
    print(f"tangermeme  {pairs / t_same:10.1f} pairs/s  ({t_same:.2f} s, genolift's references)")
    report_agreement(ours, theirs, precise, theirs64)


def _relative(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """(N, L) max |difference| over the bases / max |score| of genolift's scores."""
    return np.abs(theirs - ours).max(axis=2) / np.abs(ours).max()


def _verdict(relative: float) -> str:
    return f"{relative:.1e} relative ({'ok' if relative <= 1e-4 else 'ABOVE 1e-4'})"


def report_agreement(ours: np.ndarray, theirs: np.ndarray, precise: dict, theirs64: dict) -> None:
    """Print how far genolift's hypothetical scores agree with tangermeme's, in float32 and in float64.

    ``ours``, ``theirs``: both tools in float32 (N, L, 4); ``precise``: genolift on the same references
    {"float32" | "float64": (N, L, 4)}; ``theirs64``: tangermeme in float64, {convention: (N, L, 4)}.
    """
    per_sequence = _relative(ours, theirs).max(axis=1)
    print(f"float32, as run: hypothetical scores agree to {_verdict(float(per_sequence.max()))} "
          f"(max |difference| / max |score|); median sequence {np.median(per_sequence):.1e}, "
          f"{(per_sequence > 1e-4).mean():.1%} of sequences above 1e-4")
    own = _relative(precise["float64"], precise["float32"]).max(axis=1)
    print(f"  genolift float32 against its own float64: {own.max():.1e} (median {np.median(own):.1e}): "
          f"the round-off of float32 DeepLIFT on this model")
    for convention, scores in theirs64.items():
        print(f"float64, same references, tangermeme with {WORDS[convention]}: agree to "
              f"{_verdict(float(_relative(precise['float64'], scores).max()))}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    tool, model, folder, k, batch, mode = sys.argv[1:7]
    _child(tool, model, Path(folder), int(k), int(batch), mode)
