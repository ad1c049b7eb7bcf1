"""Regions: window placement, BED/narrowPeak and FASTA-of-sequences parsing."""

from __future__ import annotations

import gzip

import pytest

from genolift.errors import RegionError
from genolift.regions import Window, center_window, duplicates, is_fasta, read_bed, read_fasta_sequences


def test_narrowpeak_summit_and_bed_centre(tmp_path):
    bed = tmp_path / "r.narrowPeak"
    bed.write_text(
        "track name=x\n#comment\n"
        "chr1\t100\t300\tp1\t0\t.\t1\t1\t1\t50\n"   # summit at 150
        "chr1\t100\t300\tp2\t0\t.\t1\t1\t1\t-1\r\n"  # no summit: centre 200, CRLF
    )
    w = read_bed(bed, 10)
    assert [(x.chrom, x.start, x.end) for x in w] == [("chr1", 145, 155), ("chr1", 195, 205)]
    assert [x.line for x in w] == [3, 4] and w[0].name == "p1"
    bed3 = tmp_path / "r.bed"
    bed3.write_text("chr2\t10\t21\n")  # BED3, centre 15
    (w3,) = read_bed(bed3, 10)
    assert (w3.chrom, w3.start, w3.end, w3.name) == ("chr2", 10, 20, "chr2:10-21")


def test_gzip_bed(tmp_path):
    path = tmp_path / "r.bed.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("chr1\t0\t100\n")
    assert read_bed(path, 50)[0][:3] == ("chr1", 25, 75)


@pytest.mark.parametrize("line, words", [
    ("chr1\t100\n", "needs at least"),
    ("chr1\tx\t200\n", "not an integer"),
    ("chr1\t-5\t200\n", "negative start"),
    ("chr1\t300\t200\n", "not after start"),
])
def test_bad_bed_lines_name_the_line(tmp_path, line, words):
    bed = tmp_path / "bad.bed"
    bed.write_text("chr1\t0\t10\n" + line)
    with pytest.raises(RegionError, match=rf"bad.bed:2: .*{words}"):
        read_bed(bed, 10)


def test_empty_bed(tmp_path):
    bed = tmp_path / "e.bed"
    bed.write_text("# only a header\n")
    with pytest.raises(RegionError, match="no regions"):
        read_bed(bed, 10)


def test_center_window_even_and_odd():
    assert center_window(0, 10, None, 4) == (3, 7)
    assert center_window(0, 10, 2, 5) == (0, 5)


def test_fasta_of_sequences(tmp_path):
    fa = tmp_path / "s.fa"
    fa.write_text(">a desc\nACGT\nAC\n>b\nNNNNNN\n")
    windows, seqs = read_fasta_sequences(fa, 6)
    assert [w.name for w in windows] == ["a", "b"] and seqs == ["ACGTAC", "NNNNNN"]
    with pytest.raises(RegionError, match="has 6 bases, the model needs exactly 5"):
        read_fasta_sequences(fa, 5)


def test_is_fasta_and_duplicates(tmp_path):
    fa, bed = tmp_path / "s.fa", tmp_path / "r.bed"
    fa.write_text("\n>a\nACGT\n")
    bed.write_text("chr1\t0\t10\tfirst\nchr1\t0\t10\tsame_window\nchr1\t5\t15\tthird\n")
    assert is_fasta(fa) and not is_fasta(bed)
    windows = read_bed(bed, 10)
    assert duplicates(windows) == 1
    assert windows[0].key == "chr1:0-10" and isinstance(windows[0], Window)
