#!/usr/bin/env python
"""Generate the small variant files in ``test_data/`` from the example genome and peaks.

Run from the repository root (after ``scripts/make_test_data.py``)::

    python scripts/make_variant_fixtures.py            # writes into test_data/
    python scripts/make_variant_fixtures.py --out DIR  # writes into DIR

Needs numpy and pyfaidx; deterministic (fixed seed), byte-identical on every run,
well under a second.

What it makes
-------------
example_variants.vcf
    A VCFv4.2 (sorted by chromosome and position) of variants inside the motifs
    planted in ``example_peaks.narrowPeak`` (listed in ``example_peaks.motifs.tsv``)
    and at the summit of the peak whose summit is soft-masked (lowercase) in the
    genome, so scores around them change.  REF is the genome's sequence, uppercase.
    Kinds cycle through a SNV, an insertion (1-6 inserted bases after the anchor
    base), a deletion (1-12 deleted bases after the anchor), a multi-allelic SNV
    (ALT ``X,Y``) and a two-base substitution; IDs are ``var_0``, ``var_1``, ...
    except one written ``.``.  INFO names the peak and motif.
example_variants.vcf.gz
    The same bytes, gzip-compressed with mtime 0 (reproducible).
example_variants.tsv
    The same variants as a TSV ``chrom pos ref alt id`` with a header line and a
    ``#`` comment, multi-allelic records split into one row per ALT allele.
example_orientation.vcf
    Two SNVs of known direction for the GATA-like motif A (consensus CAGATAAGGA),
    each in a peak whose only planted motif is one motif A instance: ``breaks_motif``
    changes the core G of a consensus instance (the motif is lost), ``makes_motif``
    restores the one core base (GATAA) where an instance differs from the consensus
    (the motif is made).  The example model's motif-A logit must fall for the first
    and rise for the second.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from pathlib import Path

import numpy as np
import pyfaidx

SEED = 17
ALPHABET = "ACGT"
KINDS = ("snv", "insertion", "deletion", "multiallelic", "mnv")
N_MOTIF_VARIANTS = 15          # one per peak, the peaks' first planted motif
MISSING_ID_INDEX = 3           # this variant's ID is written '.'
ROOT = Path(__file__).resolve().parent.parent


def other_base(base: str, rng: np.random.Generator, exclude: str = "") -> str:
    choices = [b for b in ALPHABET if b != base.upper() and b not in exclude]
    return choices[int(rng.integers(len(choices)))]


def random_bases(n: int, rng: np.random.Generator) -> str:
    return "".join(ALPHABET[i] for i in rng.integers(0, 4, n))


def make_alleles(kind: str, genome: pyfaidx.Fasta, chrom: str, p: int, rng: np.random.Generator):
    """REF and ALT list of one variant whose first REF base is 0-based ``p``."""
    base = str(genome[chrom][p:p + 1]).upper()
    if kind == "snv":
        return base, [other_base(base, rng)]
    if kind == "insertion":
        return base, [base + random_bases(int(rng.integers(1, 7)), rng)]
    if kind == "deletion":
        ref = str(genome[chrom][p:p + 1 + int(rng.integers(1, 13))]).upper()
        return ref, [base]
    if kind == "multiallelic":
        first = other_base(base, rng)
        return base, [first, other_base(base, rng, exclude=first)]
    ref = str(genome[chrom][p:p + 2]).upper()
    return ref, [other_base(ref[0], rng) + other_base(ref[1], rng)]


def pick_sites(root: Path) -> list[tuple[str, int, str, str]]:
    """(chrom, 0-based position, peak, motif) of every variant, spread over the chromosomes."""
    peaks = {}
    with open(root / "example_peaks.narrowPeak") as handle:
        for fields in csv.reader(handle, delimiter="\t"):
            peaks[fields[3]] = (fields[0], int(fields[1]) + int(fields[9]))
    first_motif = {}
    with open(root / "example_peaks.motifs.tsv") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            first_motif.setdefault(row["peak"], row)
    by_chrom: dict[str, list[str]] = {}
    for name, (chrom, _) in peaks.items():
        by_chrom.setdefault(chrom, []).append(name)
    per_chrom = N_MOTIF_VARIANTS // len(by_chrom)
    sites = []
    for names in by_chrom.values():
        for name in names[:per_chrom]:
            row = first_motif[name]
            centre = (int(row["start"]) + int(row["end"])) // 2
            sites.append((peaks[name][0], centre, name, row["motif"]))
    return sites


def softmasked_summit(genome: pyfaidx.Fasta, root: Path) -> tuple[str, int, str, str]:
    """The first peak whose summit base is lowercase in the genome."""
    with open(root / "example_peaks.narrowPeak") as handle:
        for fields in csv.reader(handle, delimiter="\t"):
            chrom, summit = fields[0], int(fields[1]) + int(fields[9])
            if str(genome[chrom][summit:summit + 1]).islower():
                return chrom, summit, fields[3], "none"
    raise SystemExit("no peak summit is soft-masked; run scripts/make_test_data.py first")


def make_records(root: Path) -> list[dict]:
    genome = pyfaidx.Fasta(str(root / "example_genome.fa"), as_raw=True, sequence_always_upper=False)
    rng = np.random.default_rng(SEED)
    sites = pick_sites(root) + [softmasked_summit(genome, root)]
    records = []
    for i, (chrom, p, peak, motif) in enumerate(sites):
        kind = KINDS[i % len(KINDS)]
        ref, alts = make_alleles(kind, genome, chrom, p, rng)
        name = "." if i == MISSING_ID_INDEX else f"var_{i}"
        records.append({"chrom": chrom, "pos": p + 1, "id": name, "ref": ref, "alts": alts,
                        "info": f"PEAK={peak};MOTIF={motif};KIND={kind}"})
    genome.close()
    order = {c: k for k, c in enumerate(dict.fromkeys(r["chrom"] for r in records))}
    return sorted(records, key=lambda r: (order[r["chrom"]], r["pos"]))


MOTIF_A = "CAGATAAGGA"
CORE = range(2, 7)  # the GATAA of the consensus
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def lone_motif_a_sites(root: Path) -> list[dict]:
    """Motif A instances that are their peak's only planted motif, with the instance read 5'->3' on its strand."""
    peaks = {}
    with open(root / "example_peaks.narrowPeak") as handle:
        for fields in csv.reader(handle, delimiter="\t"):
            peaks[fields[3]] = fields[0]
    by_peak: dict[str, list[dict]] = {}
    with open(root / "example_peaks.motifs.tsv") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            by_peak.setdefault(row["peak"], []).append(row)
    sites = []
    for peak, rows in by_peak.items():
        if len(rows) == 1 and rows[0]["motif"] == "motif_a":
            row = rows[0]
            seq = row["sequence"] if row["strand"] == "+" else row["sequence"][::-1].translate(COMPLEMENT)
            sites.append({**row, "chrom": peaks[peak], "motif_seq": seq})
    return sites


def snv_at(site: dict, index: int, base: str) -> tuple[int, str, str]:
    """(1-based pos, REF, ALT) of the SNV putting ``base`` at motif index ``index`` (motif strand)."""
    start, end = int(site["start"]), int(site["end"])
    plus = site["strand"] == "+"
    p = start + index if plus else end - 1 - index
    ref = site["sequence"][p - start]
    return p + 1, ref, base if plus else base.translate(COMPLEMENT)


def orientation_records(root: Path) -> list[dict]:
    """The motif-breaking and the motif-making SNV (see the module's docstring)."""
    sites = lone_motif_a_sites(root)
    exact = next(s for s in sites if s["motif_seq"] == MOTIF_A)
    near = next(s for s in sites if [i for i in range(10) if s["motif_seq"][i] != MOTIF_A[i]]
                in ([i] for i in CORE))
    index = next(i for i in CORE if near["motif_seq"][i] != MOTIF_A[i])
    records = []
    for name, site, (pos, ref, alt) in (("breaks_motif", exact, snv_at(exact, 2, "C")),
                                        ("makes_motif", near, snv_at(near, index, MOTIF_A[index]))):
        records.append({"chrom": site["chrom"], "pos": pos, "id": name, "ref": ref, "alts": [alt],
                        "info": f"PEAK={site['peak']};MOTIF=motif_a;KIND=snv"})
    return sorted(records, key=lambda r: (r["chrom"], r["pos"]))


def vcf_text(records: list[dict], root: Path) -> str:
    lines = ["##fileformat=VCFv4.2", "##source=scripts/make_variant_fixtures.py",
             "##reference=example_genome.fa"]
    with open(root / "example_genome.fa.fai") as handle:
        lines += [f"##contig=<ID={f[0]},length={f[1]}>" for f in csv.reader(handle, delimiter="\t")]
    lines += ['##INFO=<ID=PEAK,Number=1,Type=String,Description="Peak the variant lies in">',
              '##INFO=<ID=MOTIF,Number=1,Type=String,Description="Planted motif hit, or none">',
              '##INFO=<ID=KIND,Number=1,Type=String,Description="Kind of variant">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for r in records:
        lines.append("\t".join([r["chrom"], str(r["pos"]), r["id"], r["ref"], ",".join(r["alts"]), ".", "PASS",
                                r["info"]]))
    return "\n".join(lines) + "\n"


def tsv_text(records: list[dict]) -> str:
    lines = ["# variants of example_variants.vcf, one ALT allele per row; pos is 1-based",
             "chrom\tpos\tref\talt\tid"]
    for r in records:
        lines += [f"{r['chrom']}\t{r['pos']}\t{r['ref']}\t{alt}\t{r['id']}" for alt in r["alts"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "test_data", help="output directory")
    parser.add_argument("--data", type=Path, default=ROOT / "test_data", help="directory of the example genome")
    args = parser.parse_args(argv)
    records = make_records(args.data)
    vcf = vcf_text(records, args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "example_variants.vcf").write_text(vcf)
    with open(args.out / "example_variants.vcf.gz", "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        handle.write(vcf.encode())
    (args.out / "example_variants.tsv").write_text(tsv_text(records))
    (args.out / "example_orientation.vcf").write_text(vcf_text(orientation_records(args.data), args.data))
    print(f"wrote {len(records)} records and 2 orientation SNVs to {args.out}")


if __name__ == "__main__":
    main()
