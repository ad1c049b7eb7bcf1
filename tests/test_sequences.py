"""Sequences: the alphabet and its codes, one-hot encoding, reverse complement, genome access."""

from __future__ import annotations

import numpy as np
import pytest

from genolift.errors import GenomeError, ReferencesError, RegionError
from genolift.regions import read_bed
from genolift.sequences import (
    ALPHABET,
    N_CODE,
    OFF_EDGE_POLICIES,
    Genome,
    codes_to_one_hot,
    decode_one_hot,
    filter_windows,
    one_hot_encode,
    one_hot_encode_many,
    one_hot_to_codes,
    reverse_complement,
)


def test_one_hot_lowercase_n_and_iupac():
    x = one_hot_encode("ACgtNRY")
    np.testing.assert_array_equal(x[:4], np.eye(4, dtype=np.float32))
    assert x.dtype == np.float32 and not x[4:].any()
    assert decode_one_hot(x) == "ACGTNNN"
    np.testing.assert_array_equal(reverse_complement(one_hot_encode("AACG")), one_hot_encode("CGTT"))


def test_letter_codes_round_trip():
    assert ALPHABET == "ACGT" and N_CODE == 4
    x = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])  # A, C, G, T, N by hand
    np.testing.assert_array_equal(one_hot_encode("ACGTN"), x)
    assert one_hot_to_codes(x).tolist() == [0, 1, 2, 3, 4]
    assert one_hot_to_codes(x).dtype == np.int8
    np.testing.assert_array_equal(codes_to_one_hot(one_hot_to_codes(x)), x)
    assert codes_to_one_hot(np.array([[4, 0]])).dtype == np.float32
    batch = one_hot_encode_many(["ACGN", "TTTA"])
    assert batch.shape == (2, 4, 4) and one_hot_to_codes(batch).tolist() == [[0, 1, 2, 4], [3, 3, 3, 0]]
    assert one_hot_encode_many([]).shape == (0, 0, 4)
    with pytest.raises(ReferencesError):
        one_hot_to_codes(np.zeros((5, 3), np.float32))


def test_reverse_complement_of_a_batch():
    X = one_hot_encode_many(["AACGN", "GATTC"])
    rc = reverse_complement(X)
    assert [decode_one_hot(x) for x in rc] == ["NCGTT", "GAATC"]
    np.testing.assert_array_equal(reverse_complement(rc), X)


def test_genome_fetch_edges_and_missing_chromosome(tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\nACGTACGTAC\n>chr2\nGGGG\n")
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t4\n1\t0\t4\nchr2\t0\t4\n")
    with Genome(fa) as genome:
        windows = read_bed(bed, 6)
        with pytest.raises(RegionError, match=r"r.bed:2: chromosome '1' is not in .*did you mean chr1"):
            filter_windows(windows, genome, bed)
        kept, skipped = filter_windows([windows[0], windows[2]], genome, bed, "skip")
        assert skipped == [windows[0], windows[2]] and kept == []
        kept, _ = filter_windows([windows[0], windows[2]], genome, bed, "pad")
        assert [genome.fetch(w) for w in kept] == ["NACGTA", "NGGGGN"]
        with pytest.raises(RegionError, match="runs off the end"):
            filter_windows([windows[2]], genome, bed, "fail")


def test_unknown_off_edge_policy_is_a_region_error(tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\nACGTACGTAC\n")
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t4\n")
    assert OFF_EDGE_POLICIES == ("skip", "pad", "fail")
    with Genome(fa) as genome:
        with pytest.raises(RegionError, match="off-edge policy must be one of skip, pad, fail"):
            filter_windows(read_bed(bed, 4), genome, bed, "clip")


def test_missing_genome(tmp_path):
    with pytest.raises(GenomeError, match="no such genome"):
        Genome(tmp_path / "nope.fa")
