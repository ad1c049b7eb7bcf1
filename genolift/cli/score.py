"""``genolift score`` and ``genolift hypothetical``."""

from __future__ import annotations

import functools
import shlex
import sys
from pathlib import Path

import click

from .main import cli, setup_logging


def _options(func):
    """Options shared by the scoring commands."""
    decorators = [
        click.argument("model", type=click.Path(path_type=Path)),
        click.argument("regions", type=click.Path(path_type=Path)),
        click.option("-g", "--genome", type=click.Path(path_type=Path),
                     help="Genome FASTA (indexed by pyfaidx) for BED/narrowPeak regions."),
        click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True,
                     help="Output HDF5 file."),
        click.option("--reference", type=click.Choice(["shuffle", "gc"]), default="shuffle", show_default=True,
                     help="Dinucleotide shuffles of each sequence, or a uniform GC background."),
        click.option("--shuffles", "-k", type=click.IntRange(1, 1000), default=10, show_default=True,
                     help="Dinucleotide shuffles per sequence (K)."),
        click.option("--gc", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
                     help="GC fraction of the background (default: from the scored sequences)."),
        click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
                     help="Seed of the references (combined with each region's coordinates)."),
        click.option("--output", "model_output", default=None,
                     help="Model output to explain (name or index; default the first)."),
        click.option("--task", type=click.IntRange(0), default=0, show_default=True,
                     help="Unit of the output to explain."),
        click.option("--rule", type=click.Choice(["rescale"]), default="rescale", show_default=True,
                     help="DeepLIFT rule for nonlinearities."),
        click.option("--batch-size", type=click.IntRange(1), default=128, show_default=True,
                     help="(sequence, reference) pairs per device batch."),
        click.option("--off-edge", type=click.Choice(["skip", "pad", "fail"]), default="skip", show_default=True,
                     help="Windows running off a chromosome end: skip them, pad with N, or fail."),
        click.option("--force", is_flag=True, help="Overwrite an existing output file."),
        click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _run(mode: str, **kw) -> None:
    from ..pipeline import RunConfig, run

    setup_logging(kw["quiet"])
    cfg = RunConfig(
        model=kw["model"], regions=kw["regions"], output=kw["out"], genome=kw["genome"], mode=mode,
        reference=kw["reference"], shuffles=kw["shuffles"], gc=kw["gc"], seed=kw["seed"],
        model_output=kw["model_output"], task=kw["task"], rule=kw["rule"], batch_size=kw["batch_size"],
        off_edge=kw["off_edge"], force=kw["force"], quiet=kw["quiet"],
        command_line=shlex.join(["genolift", *sys.argv[1:]]),
    )
    summary = run(cfg)
    if not kw["quiet"]:
        click.echo(
            f"genolift: {summary.regions} regions, {summary.pairs} pairs in {summary.seconds:.1f} s "
            f"({summary.pairs / max(summary.seconds, 1e-9):,.0f} pairs/s), max |delta| "
            f"{summary.max_delta:.1e} -> {summary.output}",
            err=True,
        )


@cli.command()
@_options
def score(**kw):
    """Contribution and hypothetical scores of REGIONS under MODEL.

    REGIONS is a BED/narrowPeak file (with -g GENOME) or a FASTA of sequences
    of the model's input length.  Writes input_seqs, hyp_scores,
    contrib_scores, coordinates, predictions and deltas to the HDF5 output.
    """
    _run("score", **kw)


@cli.command()
@_options
def hypothetical(**kw):
    """Hypothetical scores of REGIONS, ready for `modisco motifs -i`.

    Same as `score` without contrib_scores: the file holds input_seqs and
    hyp_scores (N, L, 4) at its root, plus coordinates and deltas.
    """
    _run("hypothetical", **kw)
