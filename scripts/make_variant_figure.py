#!/usr/bin/env python
"""Make docs/variant_example.png, the ref/alt/delta logos of one variant shown in the README.

Scores the bundled example variants with `genolift variants` (10 dinucleotide
shuffles of each reference window, task 0: the GATA-like motif) and draws
var_5, an SNV in a planted motif, with `genolift plot --variant`.  Re-run it
after changing the example data or the plot:  python scripts/make_variant_figure.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "test_data"
VARIANT = "var_5"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scores = Path(tmp) / "variants.h5"
        run = [sys.executable, "-m", "genolift"]
        subprocess.run(run + ["variants", str(DATA / "example_model.h5"), str(DATA / "example_variants.vcf"),
                              "-g", str(DATA / "example_genome.fa"), "--shuffles", "10", "-o", str(scores), "-q"],
                       check=True)
        subprocess.run(run + ["plot", str(scores), "--variant", VARIANT, "--window", "70:130", "--width", "12",
                              "--height", "6", "-o", str(ROOT / "docs" / "variant_example.png"), "--force", "-q"],
                       check=True)


if __name__ == "__main__":
    main()
