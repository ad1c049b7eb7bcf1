"""``genolift occlusion``: the target's drop when windows of each region are replaced."""

from __future__ import annotations

import click

from ..engine.rule_names import OCCLUSION_FILLS
from .options import COMPUTE, INPUTS, LAMBDAS, REFERENCES, REVCOMP, RUN, TARGET, run_command, with_options

WINDOWS = [
    click.option("--width", type=click.IntRange(1), default=10, show_default=True,
                 help="Bases per occluded window."),
    click.option("--stride", type=click.IntRange(1), default=1, show_default=True,
                 help="Bases between the starts of consecutive windows."),
    click.option("--fill", type=click.Choice(list(OCCLUSION_FILLS)), default="reference", show_default=True,
                 help="What replaces a window: the same window of each reference (--reference, averaged over "
                      "the K), or zeros (all-N, DeepExplain's occlusion)."),
]


@click.command()
@with_options([*INPUTS, *WINDOWS, *REFERENCES, *TARGET, *LAMBDAS, *REVCOMP, *COMPUTE, *RUN])
def occlusion(**options):
    """Occlusion of REGIONS: t(x) - t(x with a window replaced), per position.

    Each position gets the mean over the windows covering it (0 where none
    does), averaged over the references.  Writes input_seqs, occlusion_scores
    (N, L), predictions and coordinates; every task with --task all.
    """
    from ..run.config import OcclusionConfig
    from ..run.occlusion import run_occlusion

    run_command(OcclusionConfig, run_occlusion, "occlusion", **options)
