"""``genolift score``: contribution and hypothetical scores."""

from __future__ import annotations

import click

from .options import SCORE_OPTIONS, run_command, with_options


@click.command()
@with_options(SCORE_OPTIONS)
def score(**options):
    """Contribution and hypothetical scores of REGIONS under MODEL.

    REGIONS is a BED/narrowPeak file (with -g GENOME) or a FASTA of sequences
    of the model's input length.  Writes input_seqs, hyp_scores,
    contrib_scores, coordinates, predictions and deltas to the HDF5 output.
    """
    from ..run import ScoreConfig, run_score

    run_command(ScoreConfig, run_score, "score", contributions=True, **options)
