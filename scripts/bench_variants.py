#!/usr/bin/env python
"""Benchmark ``genolift variants`` end to end: variants/s, against ``genolift score`` on as many regions.

Draws N random variants on the example genome (SNVs, short insertions and
deletions, REF read from the genome), writes them as a VCF, and times
``genolift variants`` (reading, both allele windows, shuffles, engine,
writing, the scores table) after one warm-up run; then ``genolift score`` on the
N reference windows as a BED; then ``genolift variants --null M`` (default 10).
One variant costs about two regions: per window the engine does one forward
pass, K forward passes of the references and K backward passes, so against
``score``'s 1 + K + K passes a variant's 2 + 2K + 2K give about half of
regions/s; sharing the references' forward pass between the two alleles (an
engine change) would leave 2 + K + 2K, at most about 0.6 of regions/s.  The
table adds a forward pass of each window, the null 2M forward passes a variant.

Usage::

    python scripts/bench_variants.py                 # example model, N=512, K=10
    python scripts/bench_variants.py --n 2000 -k 20 --batch-size 512
    python scripts/bench_variants.py --model test_data/bpnet_like.h5 --n 256
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "test_data" / "example_model.h5"))
    p.add_argument("--genome", default=str(ROOT / "test_data" / "example_genome.fa"))
    p.add_argument("--n", type=int, default=512, help="variants")
    p.add_argument("-k", "--shuffles", type=int, default=10)
    p.add_argument("--reference", choices=["shuffle", "gc"], default="shuffle")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--null", type=int, default=10, help="shuffles per variant of the null run (0: none)")
    return p.parse_args(argv)


def random_variants(genome_path: str, n: int, length: int, path: Path, seed: int = 0) -> list[tuple]:
    """Write n random variants (60% SNVs, 20% insertions, 20% deletions) as a VCF; return (chrom, pos)."""
    import pyfaidx

    rng = np.random.default_rng(seed)
    fa = pyfaidx.Fasta(genome_path, as_raw=True, sequence_always_upper=True)
    chroms = [c for c in fa.keys() if len(fa[c]) > 3 * length]
    rows, sites = [], []
    while len(rows) < n:
        chrom = chroms[rng.integers(len(chroms))]
        pos = int(rng.integers(length, len(fa[chrom]) - 2 * length))
        ref = fa[chrom][pos - 1:pos + 2]
        if "N" in ref:
            continue
        kind = rng.random()
        if kind < 0.6:
            ref, alt = ref[0], "ACGT"[("ACGT".index(ref[0]) + 1 + rng.integers(3)) % 4]
        elif kind < 0.8:
            ref, alt = ref[0], ref[0] + "".join(rng.choice(list("ACGT"), int(rng.integers(1, 6))))
        else:
            alt = ref[0]
        rows.append(f"{chrom}\t{pos}\tv{len(rows)}\t{ref}\t{alt}\t.\tPASS\t.\n")
        sites.append((chrom, pos))
    fa.close()
    path.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(rows))
    return sites


def _configs(args, tmp: Path, variants: Path, bed: Path):
    from genolift.run import ScoreConfig, VariantsConfig

    common = dict(model=Path(args.model), genome=Path(args.genome), shuffles=args.shuffles,
                  reference=args.reference, batch_size=args.batch_size, chunk_size=args.chunk_size,
                  quiet=True, force=True)
    return (VariantsConfig(regions=variants, output=tmp / "v.h5", **common),
            ScoreConfig(regions=bed, output=tmp / "s.h5", **common))


def main(argv=None) -> None:
    import logging

    from genolift.model import load_model
    from genolift.run import run_score, run_variants

    logging.getLogger("genolift").setLevel(logging.WARNING)
    args = _args(argv)
    length = load_model(args.model).length
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sites = random_variants(args.genome, args.n, length, tmp / "v.vcf")
        bed = tmp / "w.bed"
        bed.write_text("".join(f"{c}\t{p - 1 - length // 2}\t{p - 1 - length // 2 + length}\n" for c, p in sites))
        variants_cfg, score_cfg = _configs(args, tmp, tmp / "v.vcf", bed)
        run_variants(variants_cfg)  # warm-up: tracing and compiling
        v = run_variants(variants_cfg)
        run_score(score_cfg)
        s = run_score(score_cfg)
        nulled = run_variants(replace(variants_cfg, null=args.null)) if args.null else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model {Path(args.model).name}, L={length}, N={args.n}, K={args.shuffles}, reference {args.reference}, "
          f"batch {args.batch_size}")
    print(f"variants: {args.n / v.seconds:8.1f} variants/s  ({v.pairs / v.seconds:.0f} pairs/s, {v.seconds:.2f} s)")
    print(f"score:    {args.n / s.seconds:8.1f} regions/s   ({s.pairs / s.seconds:.0f} pairs/s, {s.seconds:.2f} s)")
    startup = "engine start-up (tracing, compiling)"
    steady_v, steady_s = (r.seconds - r.timings.get(startup, 0.0) for r in (v, s))
    print(f"without the engine's start-up: {args.n / steady_v:.1f} variants/s, {args.n / steady_s:.1f} regions/s")
    print(f"one variant costs {steady_v / steady_s:.2f} regions (start-up excluded); peak RSS {peak:.0f} MiB")
    print("variants stages: " + ", ".join(f"{k} {t:.2f} s" for k, t in v.timings.items()))
    if nulled is not None:
        steady = nulled.seconds - nulled.timings.get(startup, 0.0)
        print(f"variants --null {args.null}: {args.n / nulled.seconds:8.1f} variants/s ({nulled.seconds:.2f} s; "
              f"{args.n / steady:.1f} without the engine's start-up)")


if __name__ == "__main__":
    main()
