"""Variants to score: VCF, VCF.gz and plain TSV input.

A variant file becomes a list of :class:`Variant` records, one per alternate
allele.  The format is recognised by content, not by name: a file whose first
non-blank line is ``##fileformat=VCF...`` or ``#CHROM...`` is a VCF (columns
CHROM, POS, ID, REF, ALT, then anything); otherwise it is a TSV with columns
``chrom pos ref alt [id]``, an optional header line (``chrom pos ref alt [id]``)
and ``#`` comment lines.  Either may be gzip- or bgzip-compressed (recognised by
its magic bytes).  POS is 1-based in both, as in VCF.

Alleles are uppercased and must be made of A, C, G, T and N.  A comma-separated
ALT is split into one variant per allele, all with the line of their record.
Symbolic alleles (``<DEL>``, ``<*>``), the missing-allele ``*``, an ALT of ``.``
and breakends (``]chr2:10]A``, ``G.``) are not sequences: records carrying them
are counted and refused together.  With a genome, every variant is checked: the
chromosome exists, REF lies inside it, and REF equals the genome there
(case-insensitively); a mismatch is an error naming the line, or, under
``ref_mismatch="skip"``, the variant is dropped and counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ..errors import RegionError
from ..regions import Window, open_text
from ..sequences import Genome

REF_MISMATCH_POLICIES = ("error", "skip")
ALLELE_LETTERS = frozenset("ACGTN")
#: Header names accepted for the TSV columns chrom, pos, ref, alt and id.
TSV_HEADER = (("chrom", "chr", "chromosome"), ("pos", "position"), ("ref",), ("alt",), ("id", "name"))
VCF_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT")
SYMBOLIC_REMEDY = "keep sequence alleles only, e.g. with `bcftools norm -m- IN | bcftools view -v snps,indels`"


class Variant(NamedTuple):
    """One alternate allele at one site.

    Attributes
    ----------
    chrom : chromosome name as written in the file.
    pos : 1-based position of the first base of ``ref`` (VCF POS).
    id : the variant's ID (VCF ID or TSV column 5); :attr:`key` where absent or ``.``.
    ref, alt : the reference and alternate alleles, uppercase A/C/G/T/N, as written
        (no trimming: a VCF indel keeps its anchor base).
    line : 1-based line of the variant's record in its source file.
    """

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    line: int

    @property
    def key(self) -> str:
        """Stable text key used to seed this variant's references, ``chrom:pos:REF>ALT``."""
        return variant_key(self.chrom, self.pos, self.ref, self.alt)


class VariantSet(NamedTuple):
    """What :func:`read_variants` returns.

    Attributes
    ----------
    variants : list of Variant, in file order (split ALT alleles in their order).
    skipped_mismatch : number of variants dropped because REF differs from the
        genome (``ref_mismatch="skip"``; always 0 otherwise).
    """

    variants: list[Variant]
    skipped_mismatch: int


class _Record(NamedTuple):
    """One data line: its fields as text, before any checking."""

    chrom: str
    pos: str
    id: str
    ref: str
    alts: list[str]
    line: int


def variant_key(chrom: str, pos: int, ref: str, alt: str) -> str:
    """``chrom:pos:REF>ALT``, the text key of a variant."""
    return f"{chrom}:{pos}:{ref}>{alt}"


def read_variants(path: str | Path, genome: Genome | None = None, ref_mismatch: str = "error") -> VariantSet:
    """Read a VCF, VCF.gz or TSV of variants, one :class:`Variant` per alternate allele.

    Parameters
    ----------
    path : the variant file (format recognised by content; see the module notes).
    genome : when given, chromosomes, positions and REF alleles are checked against it.
    ref_mismatch : ``error`` raises on the first REF that differs from the genome,
        ``skip`` drops such variants and counts them.

    Returns
    -------
    VariantSet : the variants and the number skipped for a REF mismatch.

    Raises
    ------
    RegionError : a missing or malformed file, a bad line (named with its number and a remedy),
        symbolic alleles or breakends (counted, first line named), no variants at all.
    """
    path = Path(path)
    if ref_mismatch not in REF_MISMATCH_POLICIES:
        raise RegionError(f"ref_mismatch must be one of {', '.join(REF_MISMATCH_POLICIES)}, got {ref_mismatch!r}")
    if not path.is_file():
        raise RegionError(f"{path}: no such file; check the variants path")
    try:
        variants = _parse_records(_iter_records(path), path)
    except (EOFError, OSError) as exc:  # a truncated or corrupt gzip stream
        raise RegionError(f"{path}: cannot be decompressed ({exc}); check the file is complete") from None
    if not variants:
        raise RegionError(f"{path}: no variants found; the file is empty or holds only headers")
    skipped = 0
    if genome is not None:
        variants, skipped = _check_against_genome(variants, genome, path, ref_mismatch)
    return VariantSet(variants, skipped)


def _parse_records(records: Iterator[_Record], path: Path) -> list[Variant]:
    """Variants of the records; symbolic alleles and breakends are counted, then refused."""
    variants: list[Variant] = []
    symbolic, first_symbolic = 0, None
    for record in records:
        if any(_is_symbolic(alt) for alt in record.alts):
            symbolic += 1
            first_symbolic = first_symbolic or record
            continue
        variants.extend(_record_variants(record, path))
    if symbolic:
        raise RegionError(
            f"{path}: {symbolic} record(s) carry symbolic alleles or breakends, the first at line "
            f"{first_symbolic.line} (ALT {','.join(first_symbolic.alts)}); genolift scores sequence alleles: "
            + SYMBOLIC_REMEDY
        )
    return variants


def _is_symbolic(alt: str) -> bool:
    """True for ``<...>``, ``*``, ``.`` and breakend notations (``[``, ``]`` or a ``.`` end)."""
    return alt.startswith("<") or alt in ("*", ".") or "[" in alt or "]" in alt or "." in alt


def _record_variants(record: _Record, path: Path) -> list[Variant]:
    """Check one record's fields and split its ALT alleles into variants."""
    pos = _parse_pos(record.pos, path, record.line)
    ref = _parse_allele(record.ref, "REF", path, record.line)
    out = []
    for text in record.alts:
        alt = _parse_allele(text, "ALT", path, record.line)
        given = record.id if record.id not in ("", ".") else variant_key(record.chrom, pos, ref, alt)
        out.append(Variant(record.chrom, pos, given, ref, alt, record.line))
    return out


def _parse_pos(text: str, path: Path, lineno: int) -> int:
    try:
        pos = int(text)
    except ValueError:
        raise RegionError(f"{path}:{lineno}: POS {text!r} is not an integer; POS is a 1-based whole number") from None
    if pos < 1:
        raise RegionError(f"{path}:{lineno}: POS {pos} is below 1; POS is 1-based, as in VCF")
    return pos


def _parse_allele(text: str, what: str, path: Path, lineno: int) -> str:
    allele = text.upper()
    if not allele or not set(allele) <= ALLELE_LETTERS:
        raise RegionError(
            f"{path}:{lineno}: {what} allele {text!r} is not made of A, C, G, T and N; "
            "write alleles as bases (IUPAC codes other than N are not accepted)"
        )
    return allele


def _iter_records(path: Path) -> Iterator[_Record]:
    """Records of a VCF or TSV file, told apart by the first non-blank line."""
    with open_text(path) as handle:
        lines = ((n, line.rstrip("\r\n")) for n, line in enumerate(handle, start=1))
        lines = ((n, text) for n, text in lines if text.strip())
        first = next(lines, None)
        if first is None:
            return
        if first[1].startswith(("##fileformat=VCF", "#CHROM")):
            yield from _vcf_records(first, lines, path)
        else:
            yield from _tsv_records(first, lines, path)


def _vcf_records(first: tuple[int, str], lines: Iterator[tuple[int, str]], path: Path) -> Iterator[_Record]:
    """Records after the ``#CHROM`` line of a VCF; a data line before it is an error."""
    header_seen = False
    for lineno, text in _chain(first, lines):
        if text.startswith("##"):
            continue
        if text.startswith("#"):
            _check_vcf_header(text, path, lineno)
            header_seen = True
            continue
        if not header_seen:
            raise RegionError(
                f"{path}:{lineno}: data line before the '#CHROM POS ID REF ALT ...' header line; "
                "a VCF needs its header (restore it, e.g. with bcftools reheader, "
                "or write a TSV chrom pos ref alt [id])"
            )
        fields = text.split("\t")
        if len(fields) < 5:
            raise RegionError(
                f"{path}:{lineno}: {len(fields)} tab-separated column(s), a VCF line needs at least "
                "CHROM, POS, ID, REF and ALT"
            )
        yield _Record(fields[0], fields[1], fields[2], fields[3], fields[4].split(","), lineno)


def _check_vcf_header(text: str, path: Path, lineno: int) -> None:
    names = tuple(name.upper() for name in text.lstrip("#").split("\t")[:5])
    if names != VCF_COLUMNS:
        raise RegionError(
            f"{path}:{lineno}: VCF header line starts {'/'.join(names)}, expected "
            f"{'/'.join(VCF_COLUMNS)} separated by tabs"
        )


def _tsv_records(first: tuple[int, str], lines: Iterator[tuple[int, str]], path: Path) -> Iterator[_Record]:
    """Records of a TSV ``chrom pos ref alt [id]``; an optional header line and ``#`` comments."""
    at_start = True
    for lineno, text in _chain(first, lines):
        if text.startswith("#"):
            continue
        fields = text.split("\t") if "\t" in text else text.split()
        if at_start and _is_tsv_header(fields):
            at_start = False
            continue
        at_start = False
        _check_tsv_columns(fields, path, lineno)
        name = fields[4] if len(fields) == 5 else "."
        yield _Record(fields[0], fields[1], name, fields[2], fields[3].split(","), lineno)


def _is_tsv_header(fields: list[str]) -> bool:
    if len(fields) < 4 or len(fields) > 5:
        return False
    return all(name.lower() in accepted for name, accepted in zip(fields, TSV_HEADER))


def _check_tsv_columns(fields: list[str], path: Path, lineno: int) -> None:
    if len(fields) > 5:
        raise RegionError(
            f"{path}:{lineno}: {len(fields)} columns; a variant TSV has chrom, pos, ref, alt and an optional id, "
            "and a VCF needs its '##fileformat=VCF' and '#CHROM' header lines"
        )
    if len(fields) < 4:
        raise RegionError(
            f"{path}:{lineno}: {len(fields)} column(s), a variant TSV line needs chrom, pos, ref and alt "
            "separated by tabs"
        )


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _check_against_genome(
    variants: list[Variant], genome: Genome, path: Path, ref_mismatch: str
) -> tuple[list[Variant], int]:
    """Check chromosome, extent and REF of every variant; drop REF mismatches under ``skip``."""
    kept = []
    for variant in variants:
        span = Window(variant.chrom, variant.pos - 1, variant.pos - 1 + len(variant.ref), ".", variant.id,
                      variant.line)
        genome.check_chromosome(span, path)
        size = genome.sizes[variant.chrom]
        if span.end > size:
            raise RegionError(
                f"{path}:{variant.line}: POS {variant.pos} (REF {len(variant.ref)} bp) runs beyond the end of "
                f"{variant.chrom} ({size} bp) in {genome.path}; check the genome build"
            )
        found = genome.fetch(span).upper()
        if found == variant.ref:
            kept.append(variant)
        elif ref_mismatch == "error":
            raise RegionError(
                f"{path}:{variant.line}: REF {_short(variant.ref)} differs from the genome's {_short(found)} at "
                f"{variant.chrom}:{variant.pos} in {genome.path}; check the genome build, or skip such "
                "variants with --ref-mismatch skip"
            )
    return kept, len(variants) - len(kept)


def _short(allele: str, limit: int = 20) -> str:
    return allele if len(allele) <= limit else f"{allele[:limit]}... ({len(allele)} bp)"
