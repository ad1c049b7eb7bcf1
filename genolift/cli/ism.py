"""``genolift ism``: in-silico mutagenesis."""

from __future__ import annotations

import click

from .options import COMPUTE, INPUTS, LAMBDAS, RUN, TARGET, parse_window, run_command, with_options

WINDOW = click.option("--window", callback=parse_window, default=None, metavar="START:END",
                      help="Mutate only positions START..END-1 of each window (default: all).")


@click.command()
@with_options([*INPUTS, WINDOW, *TARGET, *LAMBDAS, *COMPUTE, *RUN])
def ism(**options):
    """In-silico mutagenesis of REGIONS: t(mutant) - t(x) for every position and base.

    Writes input_seqs and ism_scores (N, L, 4) (the observed base's entry is 0),
    predictions and coordinates; every task with --task all.
    """
    from ..run import IsmConfig, run_ism

    run_command(IsmConfig, run_ism, "ism", **options)
