"""``genolift merge``: join shard files."""

from __future__ import annotations

from pathlib import Path

import click

from .logs import setup_logging


@click.command()
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True, help="Merged HDF5 file.")
@click.option("--regions-out", type=click.Path(path_type=Path), default=None,
              help="narrowPeak of the merged rows' windows (default: OUT with .h5 replaced by .regions.narrowPeak).")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr.")
def merge(shards, out, regions_out, force, quiet):
    """Join the shard files of one run (made with --shard I/N) into OUT.

    Rows come back in the order of the regions file; shards made with another
    model or other parameters are refused.  The datasets equal those of an
    unsharded run; the merged regions narrowPeak (line i = row i) is written
    beside OUT.
    """
    from ..writers.merge import merge as merge_files

    setup_logging(quiet)
    path = merge_files(list(shards), out, force, regions_out)
    if not quiet:
        click.echo(f"genolift: merged {len(shards)} shard(s) -> {path}", err=True)
