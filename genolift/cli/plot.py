"""``genolift plot``: the contribution logo of one region."""

from __future__ import annotations

from pathlib import Path

import click

from .logs import setup_logging


@click.command()
@click.argument("scores", type=click.Path(path_type=Path))
@click.option("-r", "--region", default="0", show_default=True,
              help="Row index, region name, or chrom:start-end of the region to draw.")
@click.option("--variant", default=None, metavar="ID",
              help="In a file of genolift variants: the variant (ID, row index or chrom:pos:REF>ALT) whose ref, "
                   "alt and delta logos to draw.")
@click.option("--window", default=None, metavar="START:END", help="Positions of the window to draw (0-based).")
@click.option("--lower", type=click.Choice(["logo", "heatmap", "none"]), default="logo", show_default=True,
              help="Panel under the contribution logo: hypothetical scores as a logo, a heatmap, or nothing.")
@click.option("--width", type=click.FloatRange(1, 200), default=12.0, show_default=True, help="Width in inches.")
@click.option("--height", type=click.FloatRange(0.5, 100), default=None,
              help="Height in inches (default 2.2 per panel).")
@click.option("--dpi", type=click.IntRange(20, 1200), default=100, show_default=True, help="Dots per inch.")
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True,
              help="Image file: .png, .svg or .pdf.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr.")
def plot(scores, region, variant, window, lower, width, height, dpi, out, force, quiet):
    """Draw the contribution logo of one region of SCORES (headless).

    Letters are scaled by their projected contribution, positive up and
    negative down (A green, C blue, G orange, T red).  With --variant, three
    panels: the reference allele, the alternate allele and alt - ref.
    """
    from ..plot import plot_region
    from ..writers.paths import check_output, refuse_clobbering

    setup_logging(quiet)
    refuse_clobbering([("-o", out)], [("the score file", scores)])
    check_output(out, force)
    if variant is not None:
        from ..plot_variants import plot_variant

        shown = plot_variant(scores, out, variant, window, width, height, dpi)
        if not quiet:
            click.echo(f"genolift: variant row {shown.row} ({shown.start}-{shown.end}) -> {out}", err=True)
        return
    drawn = plot_region(scores, out, region, window, lower, width, height, dpi)
    if not quiet:
        click.echo(f"genolift: region row {drawn.row} ({drawn.start}-{drawn.end}) -> {out}", err=True)
