#!/usr/bin/env python
"""The engine of two checkouts of genolift timed in turns on the same arrays: is this one slower than that one?

Each round runs one process per checkout (its ``genolift`` first on ``sys.path``), the same model,
sequences and references, and times the engine's ``run`` (after a warm-up call that traces and compiles)
as the best of ``--repeats``; rounds alternate the two, so a drift of a shared machine lands in both.
Prints each round and the ratio of the bests (this checkout / the other, in pairs/s).

Usage::

    git worktree add /tmp/genolift-before <commit>
    python scripts/bench_versions.py --other /tmp/genolift-before --model cnn200 --n 2000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import genolift
from genolift.engine import Engine
graph = genolift.load_model(sys.argv[2])
data = np.load(sys.argv[3])
X, R = data["X"], data["R"]
kw = json.loads(sys.argv[4])
engine = Engine(graph, **kw)
engine.run(X[: max(1, len(X) // 8)], R[: max(1, len(X) // 8)])
best = float("inf")
for _ in range(int(sys.argv[5])):
    t0 = time.perf_counter()
    engine.run(X, R)
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"seconds": best, "file": genolift.__file__}))
"""


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--other", required=True, help="the other checkout's root (its genolift/ package is imported)")
    p.add_argument("--model", default="cnn200", help="a model file or a benchmark model of bench_models.py")
    p.add_argument("--length", type=int, default=None)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("-k", "--shuffles", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--backend", default=None, help="this checkout's backend (the other gets none if it has none)")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = _args(argv)
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from bench_models import bench_model

    from genolift.references import dinucleotide_shuffle

    with tempfile.TemporaryDirectory() as tmp:
        model = bench_model(args.model, args.length, Path(tmp))
        from genolift.model import load_model

        L = load_model(model).length
        X = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (args.n, L))]
        arrays = Path(tmp) / "arrays.npz"
        np.savez(arrays, X=X, R=dinucleotide_shuffle(X, args.shuffles, seed=1))
        settings = {"batch_size": args.batch_size}
        ours = {**settings, **({"backend": args.backend} if args.backend else {})}
        best = {"this": float("inf"), "other": float("inf")}
        for round_ in range(args.rounds):
            for name, root, kw in (("other", args.other, settings), ("this", str(ROOT), ours)):
                done = subprocess.run([sys.executable, "-c", _CHILD, root, str(model), str(arrays), json.dumps(kw),
                                       str(args.repeats)], capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                best[name] = min(best[name], result["seconds"])
                print(f"round {round_ + 1}: {name:5s} {args.n * args.shuffles / result['seconds']:10.1f} pairs/s "
                      f"({result['seconds']:.3f} s)  {Path(result['file']).parent}")
    pairs = args.n * args.shuffles
    print(f"best: this {pairs / best['this']:.1f} pairs/s, other {pairs / best['other']:.1f} pairs/s, "
          f"this / other = {best['other'] / best['this']:.3f}")


if __name__ == "__main__":
    main()
