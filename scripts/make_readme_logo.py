#!/usr/bin/env python
"""Make docs/example_logo.png, the contribution logo shown in the README.

Scores the first peaks of the bundled example with `genolift score` (10
dinucleotide shuffles, task 0: the GATA-like motif) and draws peak_1 around
its planted motifs with `genolift plot`.  Re-run it after changing the
example data or the plot:  python scripts/make_readme_logo.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "test_data"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        peaks = Path(tmp) / "peaks.narrowPeak"
        peaks.write_text("".join((DATA / "example_peaks.narrowPeak").read_text().splitlines(True)[:10]))
        scores = Path(tmp) / "scores.h5"
        run = [sys.executable, "-m", "genolift"]
        subprocess.run(run + ["score", str(DATA / "example_model.h5"), str(peaks), "-g", str(DATA / "example_genome.fa"),
                              "--shuffles", "10", "-o", str(scores), "-q"], check=True)
        subprocess.run(run + ["plot", str(scores), "--region", "peak_1", "--window", "40:170", "--lower", "heatmap",
                              "--width", "12", "--height", "4", "-o", str(ROOT / "docs" / "example_logo.png"),
                              "--force", "-q"], check=True)


if __name__ == "__main__":
    main()
