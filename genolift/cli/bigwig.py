"""``genolift bigwig``: a score file to a bigWig track."""

from __future__ import annotations

from pathlib import Path

import click

from .logs import setup_logging


@click.command()
@click.argument("scores", type=click.Path(path_type=Path))
@click.option("-g", "--genome", type=click.Path(path_type=Path), envvar="GENOLIFT_GENOME", required=True,
              help="Genome FASTA the scores were made with (chromosome sizes) [env GENOLIFT_GENOME].")
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True, help="Output bigWig file.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr.")
def bigwig(scores, genome, out, force, quiet):
    """Per-base projected contributions of SCORES (an HDF5 from score/hypothetical) as a bigWig.

    Overlapping windows: each base takes the value of the window whose centre
    is nearest.
    """
    from ..writers.bigwig import write_bigwig

    setup_logging(quiet)
    path = write_bigwig(scores, genome, out, force)
    if not quiet:
        click.echo(f"genolift: bigWig -> {path}", err=True)
