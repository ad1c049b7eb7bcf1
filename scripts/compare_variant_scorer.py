#!/usr/bin/env python
"""Compare genolift's variant scores table with kundajelab variant-scorer's ``variant_scores.tsv``, column by column.

Runs variant-scorer's ``src/variant_scoring.py`` (from a checkout given on the
command line; it is not on PyPI) and ``genolift variants`` on the same model,
genome, variants and peaks, then prints the largest absolute and relative
difference of every column both tables have.

variant-scorer needs TensorFlow 2.x, pandas, scipy, tqdm, pyfaidx, ``deeplift``
(its shuffles) and ``pybedtools`` (with ``pysam``); it imports
``tensorflow_probability`` for its training loss only, which scoring never
calls, so a stand-in module is put on its path when the real one is missing.
Its null is drawn with deeplift's shuffle, not genolift's, so p-values are not
compared (variant-scorer runs with ``-n 0``).  variant-scorer reads a peak's
window with pyfaidx's 1-based ``get_seq(chrom, summit - L/2, summit + L/2 - 1)``,
one base left of the summit-centred window genolift scores; genolift is given
the peaks with every summit one base left, so both score the same windows.

Usage::

    python scripts/compare_variant_scorer.py PATH/TO/variant-scorer
    python scripts/compare_variant_scorer.py PATH/TO/variant-scorer --revcomp --indels
    python scripts/compare_variant_scorer.py PATH/TO/variant-scorer --python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "test_data"


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkout", type=Path, help="a variant-scorer checkout (holding src/variant_scoring.py)")
    p.add_argument("--model", type=Path, default=DATA / "chrombpnet_like.h5",
                   help="a ChromBPNet-style model: a (P,) profile head and a (1,) log-counts head")
    p.add_argument("--genome", type=Path, default=DATA / "example_genome.fa")
    p.add_argument("--variants", type=Path, default=DATA / "example_variants.vcf")
    p.add_argument("--peaks", type=Path, default=DATA / "example_peaks.narrowPeak")
    p.add_argument("--revcomp", action="store_true",
                   help="both average with the reverse complement (variant-scorer's default; otherwise it runs "
                        "with --forward_only)")
    p.add_argument("--indels", action="store_true", help="compare indels and MNVs too, not only SNVs")
    p.add_argument("--python", default=sys.executable, help="the Python that runs variant-scorer")
    return p.parse_args(argv)


def write_inputs(args, tmp: Path) -> tuple[Path, Path, Path, Path]:
    """variant-scorer's variants TSV (chrombpnet schema) and chromosome sizes; genolift's VCF and shifted peaks."""
    from genolift.sequences import Genome
    from genolift.variants import read_variants

    with Genome(args.genome) as genome:
        variants = [v for v in read_variants(args.variants, genome).variants
                    if args.indels or len(v.ref) == len(v.alt) == 1]
        sizes = genome.sizes
    listing, vcf, chrom_sizes, peaks = tmp / "variants.tsv", tmp / "variants.vcf", tmp / "sizes.tsv", tmp / "p.bed"
    listing.write_text("".join(f"{v.chrom}\t{v.pos}\t{v.ref}\t{v.alt}\t{v.id}\n" for v in variants))
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"
                   + "".join(f"{v.chrom}\t{v.pos}\t{v.id}\t{v.ref}\t{v.alt}\n" for v in variants))
    chrom_sizes.write_text("".join(f"{c}\t{n}\n" for c, n in sizes.items()))
    with open(args.peaks) as handle, open(peaks, "w") as out:
        for fields in csv.reader(handle, delimiter="\t"):
            fields[9] = str(int(fields[9]) - 1)
            out.write("\t".join(fields) + "\n")
    return listing, vcf, chrom_sizes, peaks


def run_variant_scorer(args, tmp: Path, listing: Path, chrom_sizes: Path) -> Path:
    src = args.checkout / "src"
    stub = tmp / "stub"
    stub.mkdir()
    probe = subprocess.run([args.python, "-c", "import tensorflow_probability"], capture_output=True)
    if probe.returncode:
        (stub / "tensorflow_probability.py").write_text('"""stand-in: imported for a training loss only"""\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stub), str(src)]), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [args.python, str(src / "variant_scoring.py"), "-l", str(listing), "-g", str(args.genome),
               "-m", str(args.model), "-o", str(tmp / "vs" / "out"), "-s", str(chrom_sizes), "-p", str(args.peaks),
               "-n", "0", "-sc", "chrombpnet", *([] if args.revcomp else ["--forward_only"])]
    (tmp / "vs").mkdir()
    done = subprocess.run(command, cwd=src, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"variant-scorer failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return tmp / "vs" / "out.variant_scores.tsv"


def run_genolift(args, tmp: Path, vcf: Path, peaks: Path) -> Path:
    out = tmp / "genolift.h5"
    command = [sys.executable, "-m", "genolift", "variants", str(args.model), str(vcf), "-g", str(args.genome),
               "-o", str(out), "--peaks", str(peaks), "-k", "1", "-q", *(["--revcomp"] if args.revcomp else [])]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"genolift failed:\n{done.stderr[-3000:]}")
    return tmp / "genolift.variant_scores.tsv"


def read_table(path: Path) -> dict[str, list[str]]:
    with open(path) as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    return {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}


def number(text: str) -> float:
    return float(text.strip("[]"))  # variant-scorer writes a (1,)-array count as [x]


def compare(ours: dict, theirs: dict) -> int:
    """Print each shared column's largest differences; returns the number of columns that differ in text."""
    keys = ("chr", "pos", "allele1", "allele2", "variant_id")
    if [tuple(ours[k]) for k in keys] != [tuple(theirs[k]) for k in keys]:
        sys.exit("the two tables hold other rows (or another order)")
    print(f"{len(ours['chr'])} variants; columns of variant-scorer's table:")
    print(f"{'column':45s} {'max |diff|':>12s} {'max rel diff':>12s}")
    for name in theirs:
        if name in keys:
            continue
        if name not in ours:
            print(f"{name:45s} {'(not in genolift)':>25s}")
            continue
        a = np.array([number(x) for x in ours[name]])
        b = np.array([number(x) for x in theirs[name]])
        diff = np.abs(a - b)
        rel = diff / np.maximum(np.abs(b), 1e-30)
        print(f"{name:45s} {diff.max():12.3g} {rel.max():12.3g}")
    return 0


def main(argv=None) -> None:
    args = _args(argv)
    for name in ("checkout", "model", "genome", "variants", "peaks"):  # variant-scorer runs in its src/
        setattr(args, name, getattr(args, name).resolve())
    if not (args.checkout / "src" / "variant_scoring.py").exists():
        sys.exit(f"{args.checkout}: no src/variant_scoring.py; give the root of a variant-scorer checkout")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        listing, vcf, chrom_sizes, peaks = write_inputs(args, tmp)
        theirs = read_table(run_variant_scorer(args, tmp, listing, chrom_sizes))
        ours = read_table(run_genolift(args, tmp, vcf, peaks))
        print(f"model {args.model.name}, {'reverse-complement averaged' if args.revcomp else 'forward only'}, "
              f"{'all variants' if args.indels else 'SNVs'}")
        compare(ours, theirs)


if __name__ == "__main__":
    main()
