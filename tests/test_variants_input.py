"""Variants: VCF/VCF.gz/TSV reading and the reference/alternate allele windows.

Expectations come from the files' text and from the genome read through pyfaidx
directly, not from genolift's own parsing or fetching.
"""

from __future__ import annotations

import gzip

import numpy as np
import pyfaidx
import pytest

from genolift.errors import RegionError
from genolift.sequences import Genome
from genolift.variants import (
    Variant,
    allele_sequences,
    allele_windows,
    filter_variants,
    genome_span,
    read_variants,
    variant_window,
)

from .dna import decode, encode

L = 200  # the example model's input length
VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def genome(test_data):
    with Genome(test_data / "example_genome.fa") as g:
        yield g


@pytest.fixture(scope="module")
def fasta(test_data):
    fa = pyfaidx.Fasta(str(test_data / "example_genome.fa"), as_raw=True, sequence_always_upper=True)
    yield fa
    fa.close()


def expected_from_vcf_text(path) -> list[tuple]:
    """(chrom, pos, id, ref, alt, line) straight from the VCF text, one row per ALT allele."""
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith("#"):
            continue
        chrom, pos, name, ref, alts = line.split("\t")[:5]
        for alt in alts.split(","):
            rows.append((chrom, int(pos), name if name != "." else f"{chrom}:{pos}:{ref}>{alt}", ref, alt, lineno))
    return rows


def write_vcf(tmp_path, body: str, name: str = "v.vcf"):
    path = tmp_path / name
    path.write_text(VCF_HEADER + body)
    return path


# ----------------------------------------------------------------------------- reading


def test_vcf_multiallelic_rows_split(test_data, genome):
    path = test_data / "example_variants.vcf"
    result = read_variants(path, genome)
    assert result.skipped_mismatch == 0
    assert [tuple(v) for v in result.variants] == expected_from_vcf_text(path)
    split = [v for v in result.variants if v.line == result.variants[3].line]
    assert [(v.pos, v.ref, v.alt) for v in split] == [(9182, "C", "A"), (9182, "C", "G")]
    assert split[0].id == "chr1:9182:C>A" and split[0].key == "chr1:9182:C>A"  # ID '.' -> key
    assert len({v.key for v in result.variants}) == len(result.variants) == 19
    kinds = {(len(v.ref) > len(v.alt), len(v.ref) < len(v.alt), len(v.ref) == len(v.alt) > 1)
             for v in result.variants}
    assert kinds == {(False, False, False), (True, False, False), (False, True, False), (False, False, True)}


def test_gzip_vcf_and_tsv_give_the_same_variants(test_data, genome, tmp_path):
    plain = read_variants(test_data / "example_variants.vcf", genome).variants
    assert read_variants(test_data / "example_variants.vcf.gz", genome).variants == plain
    text = (test_data / "example_variants.vcf").read_bytes()
    cut = len(text) // 2
    members = tmp_path / "members.vcf.bgz"  # BGZF is a series of gzip members
    members.write_bytes(gzip.compress(text[:cut]) + gzip.compress(text[cut:]))
    assert read_variants(members).variants == plain
    tsv = read_variants(test_data / "example_variants.tsv", genome).variants
    assert [v[:5] for v in tsv] == [v[:5] for v in plain]
    assert tsv[0].line == 3  # after the comment and the header line


def test_bgzf_vcf(test_data, tmp_path):
    bgzf = pytest.importorskip("Bio.bgzf")
    path = tmp_path / "v.vcf.gz"
    with bgzf.BgzfWriter(str(path), "wb") as handle:
        handle.write((test_data / "example_variants.vcf").read_bytes())
    assert read_variants(path).variants == read_variants(test_data / "example_variants.vcf").variants


def test_softmasked_ref_matches_case_insensitively(test_data, genome, fasta):
    variants = read_variants(test_data / "example_variants.vcf", genome).variants
    soft = [v for v in variants if genome.fetch(variant_window(v, 1)).islower()]
    assert soft and all(v.ref == fasta[v.chrom][v.pos - 1:v.pos] for v in soft)


def test_tsv_forms(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("# comment\nCHROM POS REF ALT\nchr1 10 a c,G\n\nchr2\t5\tAT\tA\trs1\r\n")
    got = read_variants(path).variants
    assert got == [Variant("chr1", 10, "chr1:10:A>C", "A", "C", 3), Variant("chr1", 10, "chr1:10:A>G", "A", "G", 3),
                   Variant("chr2", 5, "rs1", "AT", "A", 5)]


@pytest.mark.parametrize("alts", ["<DEL>", "*", "A,<*>", "]chr1:5]A", "A[chr2:9[", "G.", ".A", "."])
def test_symbolic_and_breakends_refused_with_count(tmp_path, alts):
    path = write_vcf(tmp_path, f"chr1\t10\t.\tA\tC\nchr1\t20\t.\tA\t{alts}\nchr1\t30\t.\tA\tG\n"
                               "chr1\t40\tx\tA\t<INS>\n")
    with pytest.raises(RegionError, match=r"v\.vcf: 2 record\(s\) carry symbolic alleles or breakends, "
                                          r"the first at line 4 .*bcftools") as info:
        read_variants(path)
    assert alts in str(info.value)


def test_vcf_without_header_refused(tmp_path):
    path = tmp_path / "nohead.vcf"
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1>\nchr1\t10\t.\tA\tC\t.\tPASS\t.\n")
    with pytest.raises(RegionError, match=r"nohead\.vcf:3: data line before the '#CHROM"):
        read_variants(path)
    path.write_text("chr1\t10\t.\tA\tC\t.\tPASS\t.\n")  # no header at all
    with pytest.raises(RegionError, match=r"nohead\.vcf:1: 8 columns.*'#CHROM' header"):
        read_variants(path)
    path.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tREF\tALT\n")
    with pytest.raises(RegionError, match=r"nohead\.vcf:2: VCF header line starts CHROM/POS/REF/ALT"):
        read_variants(path)


def test_ref_mismatch_error_names_the_line_and_skip_counts(tmp_path, genome, fasta):
    base = fasta["chr1"][99]  # 1-based POS 100
    wrong = "ACGT"[("ACGT".index(base) + 1) % 4]
    path = write_vcf(tmp_path, f"chr1\t100\tok\t{base}\tN\nchr1\t100\tbad\t{wrong}\tA,C\n"
                               f"chr1\t100\tok2\t{base.lower()}\t{base}T\n")
    with pytest.raises(RegionError, match=rf"v\.vcf:4: REF {wrong} differs from the genome's {base} at chr1:100 "
                                          r".*--ref-mismatch skip"):
        read_variants(path, genome)
    result = read_variants(path, genome, ref_mismatch="skip")
    assert result.skipped_mismatch == 2
    assert [(v.id, v.ref, v.alt, v.line) for v in result.variants] == [("ok", base, "N", 3),
                                                                       ("ok2", base, base + "T", 5)]
    assert read_variants(path).skipped_mismatch == 0 and len(read_variants(path).variants) == 4  # no genome
    with pytest.raises(RegionError, match="ref_mismatch must be one of error, skip"):
        read_variants(path, genome, ref_mismatch="ignore")


def test_positions_checked(tmp_path, genome, fasta):
    last = fasta["chr3"][99_999]
    path = write_vcf(tmp_path, f"chr3\t100000\t.\t{last}\tA\n")
    assert read_variants(path, genome).variants[0].pos == 100_000
    path = write_vcf(tmp_path, f"chr3\t100000\t.\t{last}A\tA\n")
    with pytest.raises(RegionError, match=r"v\.vcf:3: POS 100000 \(REF 2 bp\) runs beyond the end of chr3 "
                                          r"\(100000 bp\)"):
        read_variants(path, genome)
    path = write_vcf(tmp_path, "chr3\t200001\t.\tA\tC\n")
    with pytest.raises(RegionError, match=r"v\.vcf:3: POS 200001 .*beyond the end of chr3"):
        read_variants(path, genome)
    for pos, words in [("0", r"POS 0 is below 1; POS is 1-based"), ("1.5", r"POS '1\.5' is not an integer")]:
        path = write_vcf(tmp_path, f"chr1\t{pos}\t.\tA\tC\n")
        with pytest.raises(RegionError, match=rf"v\.vcf:3: {words}"):
            read_variants(path)


def test_unknown_chromosome(tmp_path, genome):
    path = write_vcf(tmp_path, "1\t100\t.\tA\tC\n")
    with pytest.raises(RegionError, match=r"v\.vcf:3: chromosome '1' is not in .*did you mean chr1"):
        read_variants(path, genome)


@pytest.mark.parametrize("ref, alt, bad", [("R", "A", "REF allele 'R'"), ("A", "AX", "ALT allele 'AX'"),
                                           ("A", "A C", "ALT allele 'A C'"), ("", "A", "REF allele ''")])
def test_non_acgtn_alleles(tmp_path, ref, alt, bad):
    path = write_vcf(tmp_path, f"chr1\t10\t.\t{ref}\t{alt}\n")
    with pytest.raises(RegionError, match=rf"v\.vcf:3: {bad} is not made of A, C, G, T and N"):
        read_variants(path)


@pytest.mark.parametrize("text, words", [
    ("", "no variants found"),
    ("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n", "no variants found"),
    ("chrom\tpos\tref\talt\n", "no variants found"),
    ("chr1\t10\tA\n", ":1: 3 column"),
    ("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t10\t.\tA\n", ":3: 4 tab-separated column"),
])
def test_malformed_files(tmp_path, text, words):
    path = tmp_path / "v.tsv"
    path.write_text(text)
    with pytest.raises(RegionError, match=words):
        read_variants(path)


def test_missing_and_corrupt_files(tmp_path, test_data):
    with pytest.raises(RegionError, match=r"nothere\.vcf: no such file; check the variants path"):
        read_variants(tmp_path / "nothere.vcf")
    truncated = tmp_path / "cut.vcf.gz"
    truncated.write_bytes((test_data / "example_variants.vcf.gz").read_bytes()[:300])
    with pytest.raises(RegionError, match=r"cut\.vcf\.gz: cannot be decompressed .*check the file is complete"):
        read_variants(truncated)
    corrupt = tmp_path / "bad.vcf.gz"
    corrupt.write_bytes(b"\x1f\x8b" + b"garbage" * 20)
    with pytest.raises(RegionError, match=r"bad\.vcf\.gz: cannot be decompressed"):
        read_variants(corrupt)


# ----------------------------------------------------------------------------- windows


def check_windows_against_genome(variants, out, fasta, length):
    """Every window base by base against the genome read through pyfaidx."""
    h = length // 2
    assert out.ref.shape == out.alt.shape == (len(variants), length, 4) and out.ref.dtype == np.float32
    for k, v in enumerate(variants):
        p, r, a = v.pos - 1, len(v.ref), len(v.alt)
        ref, alt = decode(out.ref[k]), decode(out.alt[k])
        assert len(ref) == len(alt) == length
        assert ref == fasta[v.chrom][p - h:p - h + length]
        assert ref[h:h + r] == v.ref[:length - h]                   # REF at L//2
        assert alt[:h] == ref[:h]                                   # same left flank
        assert alt[h:h + a] == v.alt[:length - h]                   # ALT at L//2
        right = length - h - a
        if right > 0:                                               # genome resumes after REF
            assert alt[h + a:] == fasta[v.chrom][p + r:p + r + right]
        assert (out.allele_start[k], out.ref_len[k], out.alt_len[k], out.shift[k]) == (h, r, a, a - r)
        for i in range(h + a, length):                              # the stored alignment
            if 0 <= i - out.shift[k] < length:
                assert alt[i] == ref[i - out.shift[k]]
        w = out.windows[k]
        assert (w.chrom, w.start, w.end, w.name, w.line) == (v.chrom, p - h, p - h + length, v.id, v.line)


@pytest.mark.parametrize("length", [L, 51, 10])
def test_windows_base_by_base(test_data, genome, fasta, length):
    variants = read_variants(test_data / "example_variants.vcf", genome).variants
    kept, skipped = filter_variants(variants, genome, "example_variants.vcf", length)
    assert skipped == [] and kept == variants
    out = allele_windows(variants, genome, length)
    check_windows_against_genome(variants, out, fasta, length)
    for k, v in enumerate(variants):
        seqs = [s.upper() for s in allele_sequences(v, genome, length)]
        np.testing.assert_array_equal(out.ref[k], encode(seqs[0]))
        np.testing.assert_array_equal(out.alt[k], encode(seqs[1]))
        if len(v.ref) == len(v.alt):
            differ = [i for i in range(length) if seqs[0][i] != seqs[1][i]]
            assert differ == [length // 2 + j for j in range(len(v.ref)) if v.ref[j] != v.alt[j]]


def test_alternate_window_is_the_alternate_haplotype(genome, fasta):
    """The definition: the window of the same start on genome[:p] + ALT + genome[p + len(REF):]."""
    size = len(fasta["chr2"])
    for pos, ref_len, alt in [(5000, 1, "ACGTACGTACGTACGTACGT"), (5000, 30, "G"), (5000, 2, "TT"), (5000, 8, "CA")]:
        ref = fasta["chr2"][pos - 1:pos - 1 + ref_len]
        v = Variant("chr2", pos, "v", ref, alt, 1)
        for length in (8, 9, 40, L):
            start = pos - 1 - length // 2
            hap = fasta["chr2"][start:pos - 1] + alt + fasta["chr2"][pos - 1 + ref_len:size]
            pair = allele_sequences(v, genome, length)
            assert pair.ref.upper() == fasta["chr2"][start:start + length]
            assert pair.alt.upper() == hap[:length]


def test_off_edge_policies(genome, fasta):
    size = genome.sizes["chr3"]
    h = L // 2
    inside = Variant("chr3", size - (L - h) + 1, "in", fasta["chr3"][size - (L - h)], "A", 1)
    deletion = inside._replace(id="del", ref=fasta["chr3"][size - (L - h):size - (L - h) + 3], alt=inside.ref, line=2)
    left = Variant("chr1", h, "left", fasta["chr1"][h - 1], "G", 3)  # window starts at -1
    assert variant_window(inside, L).end == size and genome_span(deletion, L).end == size + 2
    variants = [inside, deletion, left]
    assert filter_variants(variants, genome, "x.vcf", L) == ([inside], [deletion, left])
    assert filter_variants(variants, genome, "x.vcf", L, "pad") == (variants, [])
    out = allele_windows(variants, genome, L)
    alt_del, ref_left = decode(out.alt[1]), decode(out.ref[2])
    assert alt_del.endswith("NN") and alt_del[:-2] == fasta["chr3"][size - L:size - (L - h)] + inside.ref + \
        fasta["chr3"][size - (L - h) + 3:]
    assert ref_left == "N" + fasta["chr1"][0:L - 1]
    with pytest.raises(RegionError, match=r"x\.vcf:2: the 200-bp windows of variant del run off the end of chr3 "
                                          r"\(100000 bp\); use --off-edge skip or pad"):
        filter_variants(variants, genome, "x.vcf", L, "fail")
    with pytest.raises(RegionError, match="off-edge policy must be one of skip, pad, fail"):
        filter_variants(variants, genome, "x.vcf", L, "clip")
    with pytest.raises(RegionError, match=r"x\.vcf:9: chromosome 'chrX' is not in"):
        filter_variants([left._replace(chrom="chrX", line=9)], genome, "x.vcf", L)


def test_empty_batch_and_keys(genome):
    out = allele_windows([], genome, L)
    assert out.ref.shape == out.alt.shape == (0, L, 4) and out.shift.shape == (0,)
    v = Variant("chr1", 100, "rs1", "A", "AT", 4)
    assert v.key == "chr1:100:A>AT" and v._replace(id="other").key == v.key
