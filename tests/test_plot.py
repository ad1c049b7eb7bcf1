"""`genolift plot` renders real images whose tallest letter sits on a planted motif."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from click.testing import CliRunner

from genolift.cli.main import cli
from genolift.plot import plot_region

from .conftest import TEST_DATA


def _motif_a_only_peaks(n_peaks: int):
    sites: dict[str, list] = {}
    with open(TEST_DATA / "example_peaks.motifs.tsv") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            sites.setdefault(row["peak"], []).append((row["motif"], int(row["start"]), int(row["end"])))
    return {p: s for p, s in sites.items() if int(p.split("_")[1]) < n_peaks and {m for m, _, _ in s} == {"motif_a"}}


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    out = tmp_path_factory.mktemp("plot") / "scores.h5"
    bed = out.with_name("peaks.narrowPeak")
    bed.write_text("".join(open(TEST_DATA / "example_peaks.narrowPeak").readlines()[:30]))
    result = CliRunner().invoke(cli, ["score", str(TEST_DATA / "example_model.h5"), str(bed), "-g",
                                      str(TEST_DATA / "example_genome.fa"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    return out


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _png_pixels(data: bytes) -> np.ndarray:
    """Grey levels of a PNG (Pillow comes with matplotlib)."""
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=float)


def test_tallest_letter_is_on_a_planted_motif(scores, tmp_path):
    peaks = _motif_a_only_peaks(30)
    assert len(peaks) >= 3
    hits = 0
    for name, sites in list(peaks.items())[:5]:
        drawn = plot_region(scores, tmp_path / f"{name}.png", region=name, lower="none")
        tallest = drawn.start + int(np.abs(drawn.projected).sum(axis=1).argmax())
        hits += any(lo - 1 <= tallest < hi + 1 for _, lo, hi in sites)
    assert hits >= 4, f"{hits} of 5 logos peak on a planted motif"


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_plot_formats_and_size(scores, tmp_path, suffix):
    out = tmp_path / f"logo{suffix}"
    result = CliRunner().invoke(cli, ["plot", str(scores), "--region", "peak_1", "--window", "40:160",
                                      "--width", "8", "--height", "4", "--dpi", "50", "--lower", "heatmap", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    if suffix == ".png":
        assert _png_size(data) == (400, 200)
        pixels = _png_pixels(data)
        assert pixels.std() > 10 and (pixels < 128).mean() > 0.01  # drawn, not blank
    elif suffix == ".svg":
        text = data.decode()
        assert re.search(r'width="576pt"', text) and re.search(r'height="288pt"', text)
        assert text.count("<path") > 50
    else:
        assert data.startswith(b"%PDF") and b"/MediaBox [ 0 0 576 288 ]" in data
        assert len(data) > 5000


def test_plot_region_by_coordinates_and_bad_region(scores, tmp_path):
    import h5py

    with h5py.File(scores) as f:
        chrom, start = f["coords_chrom"][2].decode(), int(f["coords_start"][2])
    drawn = plot_region(scores, tmp_path / "c.png", region=f"{chrom}:{start + 10}-{start + 20}")
    assert drawn.row == 2
    result = CliRunner().invoke(cli, ["plot", str(scores), "--region", "nope", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and "no region 'nope'" in result.stderr
