"""``genolift variants``: per-base contribution scores of both alleles of each variant, and their difference."""

from __future__ import annotations

from pathlib import Path

import click

from .options import COMPUTE, LAMBDAS, REFERENCES, REVCOMP, RULES, RUN, TARGET, run_command, with_options

#: --output, which may be 'all' here, and --task.
OUTPUTS = [
    click.option("--output", "model_output", default=None,
                 help="Model output to explain (name or index; default the first), or 'all': every output, one "
                      "file each ({task} in -o becomes the output's name)."),
    *TARGET[1:],
]

INPUTS = [
    click.argument("model", type=click.Path(path_type=Path)),
    click.argument("variants", type=click.Path(path_type=Path)),
    click.option("-g", "--genome", envvar="GENOLIFT_GENOME", type=click.Path(path_type=Path),
                 help="Genome FASTA the variants are on [env GENOLIFT_GENOME]."),
    click.option("-o", "--out", "out", type=click.Path(path_type=Path), default=None,
                 help="Output HDF5 file (default: VARIANTS name + .variants.h5 here)."),
    click.option("--regions-out", "regions_out", type=click.Path(path_type=Path), default=None,
                 help="narrowPeak of the variants' reference windows, line i = row i (default: OUT with .h5 "
                      "replaced by .regions.narrowPeak; {task} per task)."),
]

VARIANT_OPTIONS = [
    click.option("--ref-mismatch", type=click.Choice(["error", "skip"]), default="error", show_default=True,
                 help="A REF that differs from the genome: stop with an error naming its line, or skip the "
                      "variant (counted)."),
    click.option("--bigwig", "bigwig", type=click.Path(path_type=Path), default=None, metavar="PREFIX",
                 help="Also write PREFIX.delta.bw (alt - ref), PREFIX.ref.bw and PREFIX.alt.bw, per-base "
                      "projected scores on the reference coordinates ({task} per task)."),
    click.option("--null", type=click.IntRange(0, 10000), default=0, show_default=True, metavar="M",
                 help="Score each variant's alleles inside M dinucleotide shuffles of its flanks too, for "
                      "empirical p-values (*.pval) against the pooled null."),
    click.option("--null-total", "null_total", type=click.IntRange(1), default=None, metavar="T",
                 help="Cap the pooled null at T entries (a seeded draw of T of the variants x M shuffles)."),
    click.option("--peaks", type=click.Path(path_type=Path), default=None, metavar="NARROWPEAK",
                 help="Peaks whose predicted counts rank the alleles: active_allele_quantile and its products."),
    click.option("--heads", default=None, metavar="PROFILE,COUNTS",
                 help="The profile and log-counts outputs of the scores table (names or indices, '-' for none; "
                      "default: found by shape)."),
]


@click.command()
@with_options([*INPUTS, *REFERENCES, *OUTPUTS, *RULES, *LAMBDAS, *REVCOMP, *COMPUTE, *VARIANT_OPTIONS, *RUN])
def variants(**options):
    """Contribution scores of both alleles of each variant in VARIANTS, against the same references.

    VARIANTS is a VCF, VCF.gz or TSV (chrom pos ref alt [id], 1-based pos).
    Each variant's windows are centred on it (position L//2); the references
    are the shuffles of the reference-allele window (or the GC background),
    so that the sum of alt_contrib_scores - ref_contrib_scores equals the
    effect t(alt) - t(ref).  Writes ref_/alt_ seqs, hyp_scores and
    contrib_scores, ref_/alt_predictions, effect, the variants' fields and
    the windows' alignment to the HDF5 output, and the variant scores
    (logfc, jsd, ... as variant-scorer defines them) to OUT.variant_scores.tsv
    and as datasets.
    """
    from ..run import VariantsConfig, run_variants

    if options["null_total"] is not None and not options["null"]:
        raise click.UsageError("--null-total caps the null of --null M; give --null too")
    options["regions"] = options.pop("variants")
    run_command(VariantsConfig, run_variants, "variants", unit="variants", **options)
