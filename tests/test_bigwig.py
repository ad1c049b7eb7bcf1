"""bigWig tracks read back with pyBigWig equal the HDF5's projected scores, overlaps included."""

from __future__ import annotations

import h5py
import numpy as np
import pyBigWig
from click.testing import CliRunner

from genolift.cli.main import cli
from genolift.sequences import Genome
from genolift.writers.bigwig import assigned_ranges

from .conftest import TEST_DATA

MODEL = TEST_DATA / "example_model.h5"
GENOME = TEST_DATA / "example_genome.fa"


def _nearest_window(b, starts, ends):
    """Brute force: the covering window whose centre is nearest base b (ties: smaller centre, then row)."""
    best = None
    for i, (s, e) in enumerate(zip(starts, ends)):
        if s <= b < e:
            key = (abs(2 * b + 1 - (s + e)), s + e, s, i)
            best = key if best is None or key < best else best
    return None if best is None else best[3]


def test_assigned_ranges_match_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        starts = np.sort(rng.integers(0, 300, 12))[rng.permutation(12)]
        ends = starts + 50
        order, lo, hi = assigned_ranges(starts, ends)
        owner = {}
        for w, a, b in zip(order, lo, hi):
            for base in range(a, b):
                assert base not in owner
                owner[base] = w
        for base in range(0, 400):
            assert owner.get(base) == _nearest_window(base, starts, ends), base


def test_bigwig_equals_projected_scores(tmp_path):
    bed = tmp_path / "overlap.bed"
    rows = ["chr2\t5000\t5200", "chr1\t1000\t1200", "chr1\t1100\t1300", "chr1\t1150\t1350", "chr1\t1150\t1350",
            "chr1\t1301\t1501", "chr3\t99700\t99900", "chr1\t1050\t1250"]
    bed.write_text("\n".join(rows) + "\n")
    out, bw_path = tmp_path / "s.h5", tmp_path / "s.bw"
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(GENOME), "-o", str(out),
                                      "--shuffles", "3", "--bigwig", str(bw_path), "-q"])
    assert result.exit_code == 0, result.stderr
    with h5py.File(out) as f:
        projected = f["contrib_scores"][()].sum(axis=-1)
        chroms = [c.decode() for c in f["coords_chrom"][()]]
        starts, ends = f["coords_start"][()], f["coords_end"][()]
    bw = pyBigWig.open(str(bw_path))
    with Genome(GENOME) as genome:
        assert bw.chroms() == genome.sizes and list(bw.chroms()) == list(genome.sizes)
    covered = 0
    for chrom in sorted(set(chroms)):
        rows_here = [i for i, c in enumerate(chroms) if c == chrom]
        s, e = starts[rows_here], ends[rows_here]
        for base in range(int(s.min()) - 5, int(e.max()) + 5):
            w = _nearest_window(base, s, e)
            got = bw.values(chrom, base, base + 1)[0]
            if w is None:
                assert np.isnan(got)
            else:
                want = projected[rows_here[w], base - s[w]]
                assert np.isclose(got, want, rtol=1e-6, atol=1e-7), (chrom, base)
                covered += 1
    assert covered == 200 + 200 + 501  # chr2, chr3, and the union 1000..1501 of the chr1 windows
    bw.close()


def test_bigwig_command_on_an_existing_file(tmp_path):
    out = tmp_path / "s.h5"
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t1000\t1200\n")
    assert CliRunner().invoke(cli, ["hypothetical", str(MODEL), str(bed), "-g", str(GENOME), "-o", str(out),
                                    "--shuffles", "2", "-q"]).exit_code == 0
    result = CliRunner().invoke(cli, ["bigwig", str(out), "-g", str(GENOME), "-o", str(tmp_path / "h.bw")])
    assert result.exit_code == 0, result.stderr
    with h5py.File(out) as f:
        want = (f["hyp_scores"][0] * f["input_seqs"][0]).sum(axis=-1)
    bw = pyBigWig.open(str(tmp_path / "h.bw"))
    np.testing.assert_allclose(bw.values("chr1", 1000, 1200), want, rtol=1e-6, atol=1e-7)
    again = CliRunner().invoke(cli, ["bigwig", str(out), "-g", str(GENOME), "-o", str(tmp_path / "h.bw")])
    assert again.exit_code == 1 and "exists already" in again.stderr


def test_one_bigwig_per_task(tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t1000\t1200\nchr2\t5000\t5200\n")
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(GENOME), "--task", "all", "-q",
                                      "-o", str(tmp_path / "s.{task}.h5"), "--bigwig", str(tmp_path / "s.{task}.bw"),
                                      "--shuffles", "2"])
    assert result.exit_code == 0, result.stderr
    tracks = []
    for task in (0, 1):
        with h5py.File(tmp_path / f"s.{task}.h5") as f:
            want = f["contrib_scores"][0].sum(axis=-1)
        bw = pyBigWig.open(str(tmp_path / f"s.{task}.bw"))
        tracks.append(np.array(bw.values("chr1", 1000, 1200)))
        bw.close()
        np.testing.assert_allclose(tracks[-1], want, rtol=1e-6, atol=1e-7)
    assert not np.allclose(tracks[0], tracks[1])
