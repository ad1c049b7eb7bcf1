"""``genolift hypothetical``: hypothetical scores for TF-MoDISco."""

from __future__ import annotations

import click

from .options import SCORE_OPTIONS, run_command, with_options


@click.command()
@with_options(SCORE_OPTIONS)
def hypothetical(**options):
    """Hypothetical scores of REGIONS, ready for `modisco motifs -i`.

    Same as `score` without contrib_scores: the file holds input_seqs and
    hyp_scores (N, L, 4) at its root, plus coordinates and deltas.
    """
    from ..run import ScoreConfig, run_score

    run_command(ScoreConfig, run_score, "hypothetical", contributions=False, **options)
