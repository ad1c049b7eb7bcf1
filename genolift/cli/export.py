"""``genolift export``: a score file in the layout another tool reads (chrombpnet's HDF5, modisco's, Fi-NeMo's npz)."""

from __future__ import annotations

from pathlib import Path

import click

from .logs import setup_logging

#: The formats of :func:`genolift.downstream.export` (listed here so that --help needs no h5py).
FORMATS = ("chrombpnet", "modisco-npz", "finemo-npz")


@click.command()
@click.argument("scores", type=click.Path(path_type=Path))
@click.option("--to", "to", type=click.Choice(FORMATS), required=True,
              help="chrombpnet: HDF5 with raw/seq, shap/seq, projected_shap/seq (N, 4, L); modisco-npz: the "
                   "OUT.ohe.npz + OUT.attr.npz pair for modisco motifs -s/-a; finemo-npz: the regions .npz "
                   "finemo call-hits -r reads.")
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True,
              help="Output file (modisco-npz: the stem of the pair).")
@click.option("--drop-n", is_flag=True,
              help="Leave out windows holding N (modisco cannot take them); writes the regions narrowPeak of "
                   "the rows kept beside OUT, so rows still match.")
@click.option("--allele", type=click.Choice(["ref", "alt"]), default=None,
              help="For a file of genolift variants: the allele to export (its sequences and scores; rows are "
                   "the variants).")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr.")
def export(scores, to, out, drop_n, allele, force, quiet):
    """Write SCORES (from score, hypothetical, merge or average) in the layout FORMAT's tools read.

    Arrays are written as (N, 4, L), channels A, C, G, T, row i the window of
    line i of the regions narrowPeak.
    """
    from ..downstream import export as export_scores

    setup_logging(quiet)
    done = export_scores(scores, to, out, drop_n=drop_n, force=force, allele=allele)
    if not quiet:
        dropped = f" ({done.dropped} with N left out)" if drop_n else ""
        regions = f"; regions file -> {done.regions}" if done.regions else ""
        click.echo(f"genolift: {done.rows} rows{dropped} -> {', '.join(map(str, done.paths))}{regions}", err=True)
