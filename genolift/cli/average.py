"""``genolift average``: the mean of the score files of several models (folds)."""

from __future__ import annotations

from pathlib import Path

import click

from .logs import setup_logging


@click.command()
@click.argument("scores", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True, help="The mean HDF5 file.")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr.")
def average(scores, out, force, quiet):
    """Average the hypothetical and contribution scores of SCORES (two or more files, one per model or fold).

    The files must hold the same windows and sequences, made with the same
    settings (references, seed, rule, target ...); the first difference is
    named otherwise.  OUT is a score file like its inputs (modisco, export and
    info read it) that records every input's model hash; its regions
    narrowPeak is written beside it.
    """
    from ..downstream import average as average_files
    from ..downstream import regions_path_for

    setup_logging(quiet)
    path = average_files(list(scores), out, force=force)
    if not quiet:
        click.echo(f"genolift: mean of {len(scores)} score files -> {path} (regions file -> "
                   f"{regions_path_for(path)})", err=True)
