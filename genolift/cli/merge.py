"""``genolift merge``: join shard files."""

from __future__ import annotations

from pathlib import Path

import click

from .main import cli, setup_logging


@cli.command()
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True, help="Merged HDF5 file.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr.")
def merge(shards, out, force, quiet):
    """Join the shard files of one run (made with --shard I/N) into OUT.

    Rows come back in the order of the regions file; shards made with another
    model or other parameters are refused.  The datasets equal those of an
    unsharded run.
    """
    from ..writers.merge import merge as merge_files

    setup_logging(quiet)
    path = merge_files(list(shards), out, force)
    if not quiet:
        click.echo(f"genolift: merged {len(shards)} shard(s) -> {path}", err=True)
