"""``genolift score`` and ``genolift hypothetical``."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from .main import cli, command_line, setup_logging
from .quiet_tf import import_tensorflow


def _parse_task(ctx, param, value):
    if value == "all":
        return "all"
    try:
        task = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a task index or 'all'") from None
    if task < 0:
        raise click.BadParameter(f"{value!r}: task indices start at 0")
    return task


def _parse_shard(ctx, param, value):
    if value is None:
        return None
    try:
        i, n = (int(part) for part in value.split("/"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not I/N (for example 0/4)") from None
    if n < 1 or not 0 <= i < n:
        raise click.BadParameter(f"{value!r}: need 0 <= I < N")
    return i, n


ISM_OPTIONS = ("model", "regions", "genome", "out", "output", "task", "no-known-lambdas", "batch-size", "precision",
               "devices", "chunk-size", "off-edge", "shard", "resume", "force", "quiet", "log")


def _options(func, only=None):
    """Options shared by the scoring commands (``only``: the names to keep, for `ism`)."""
    decorators = [
        click.argument("model", type=click.Path(path_type=Path)),
        click.argument("regions", type=click.Path(path_type=Path)),
        click.option("-g", "--genome", type=click.Path(path_type=Path), envvar="GENOLIFT_GENOME",
                     help="Genome FASTA for BED/narrowPeak regions [env GENOLIFT_GENOME]."),
        click.option("-o", "--out", "out", type=click.Path(path_type=Path), default=None,
                     help="Output HDF5 file (default: REGIONS name + .scores.h5 / .hyp.h5 here)."),
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
        click.option("--task", callback=_parse_task, default="0", show_default=True,
                     help="Unit of the output to explain, or 'all' (one file per task: put {task} in -o)."),
        click.option("--target", "target_kind", type=click.Choice(["auto", "task", "profile", "profile-chrombpnet"]),
                     default="auto", show_default=True,
                     help="task: one unit (a logit); profile: exact profile target; profile-chrombpnet: "
                          "ChromBPNet's fixed-weight profile target (not exact); auto: profile for profile heads."),
        click.option("--rule", type=click.Choice(["rescale", "revealcancel", "genomics-default", "gradient",
                                                  "grad-x-input", "guided-backprop", "integrated-gradients"]),
                     default="rescale", show_default=True,
                     help="DeepLIFT rule (rescale, revealcancel, genomics-default) or a gradient baseline."),
        click.option("--steps", type=click.IntRange(1, 10000), default=50, show_default=True,
                     help="Integration steps of integrated-gradients (midpoint rule)."),
        click.option("--no-known-lambdas", "no_known_lambdas", is_flag=True,
                     help="Refuse every Lambda, also ChromBPNet's counts combiner (replaced by default)."),
        click.option("--revcomp", is_flag=True,
                     help="Average with the reverse complement (scores mapped back to the forward strand)."),
        click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True,
                     help="(sequence, reference) pairs per device batch."),
        click.option("--precision", type=click.Choice(["float32", "bfloat16", "float16", "float64"]),
                     default="float32", show_default=True,
                     help="Compute precision; the per-pair deltas (and the summary) show the accuracy traded."),
        click.option("--devices", default=None, metavar="SPEC",
                     help="Spread batches over devices: 'all' (every GPU), GPU indices '0,1', or names '/CPU:0'."),
        click.option("--chunk-size", type=click.IntRange(1), default=256, show_default=True,
                     help="Regions per chunk: the unit of writing, resuming and sharding "
                          "(rounded down to whole device batches)."),
        click.option("--off-edge", type=click.Choice(["skip", "pad", "fail"]), default="skip", show_default=True,
                     help="Windows running off a chromosome end: skip them, pad with N, or fail."),
        click.option("--bigwig", "bigwig", type=click.Path(path_type=Path), default=None,
                     help="Also write the per-base projected contributions to this bigWig (needs -g)."),
        click.option("--format", "formats", type=click.Choice(["hdf5", "npz"]), default="hdf5", show_default=True,
                     help="npz: also write OUT.ohe.npz and OUT.attr.npz, (N, 4, L) arrays for modisco -s/-a."),
        click.option("--shard", callback=_parse_shard, default=None, metavar="I/N",
                     help="Score only shard I of N (0-based; whole chunks of regions); join with `genolift merge`."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run from the chunks it wrote."),
        click.option("--force", is_flag=True, help="Overwrite an existing output file (and discard a partial run)."),
        click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr."),
        click.option("--log", "log_file", type=click.Path(path_type=Path), default=None,
                     help="Also append every log line, time-stamped, to this file."),
    ]
    if only is not None:
        decorators = [d for d in decorators if _param_name(d) in only]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _param_name(decorator) -> str:
    """The first declared name of an option/argument decorator, without dashes ('batch-size')."""

    def probe():
        pass

    decorator(probe)
    return max(probe.__click_params__[-1].opts, key=len).lstrip("-")


#: What `ism` reads of the options it does not offer.
_DEFAULTS = {"reference": "shuffle", "shuffles": 1, "gc": None, "seed": 0, "target_kind": "task", "rule": "rescale",
             "steps": 50, "no_known_lambdas": False, "devices": None, "precision": "float32", "revcomp": False,
             "bigwig": None, "formats": "hdf5", "window": None}
#: RunConfig field ← option value.
_FIELDS = {"model": "model", "regions": "regions", "output": "out", "genome": "genome", "reference": "reference",
           "shuffles": "shuffles", "gc": "gc", "seed": "seed", "window": "window", "devices": "devices",
           "precision": "precision", "model_output": "model_output", "task": "task", "target": "target_kind",
           "revcomp": "revcomp", "rule": "rule", "steps": "steps", "batch_size": "batch_size",
           "chunk_size": "chunk_size", "off_edge": "off_edge", "force": "force", "resume": "resume", "shard": "shard",
           "quiet": "quiet"}


REGION_SUFFIXES = (".gz", ".bed", ".narrowpeak", ".broadpeak", ".fa", ".fasta", ".fna", ".txt")


def derived_output(regions: Path, mode: str, per_task: bool = False) -> Path:
    """``peaks.narrowPeak`` → ``peaks.scores.h5`` (``.hyp.h5``, ``.ism.h5``; ``.task{task}`` per task) here."""
    name = regions.name
    while Path(name).suffix.lower() in REGION_SUFFIXES:
        name = name[: -len(Path(name).suffix)]
    task = ".task{task}" if per_task else ""
    return Path(f"{name}.{ {'score': 'scores', 'hypothetical': 'hyp'}.get(mode, mode)}{task}.h5")


def _run(mode: str, **kw) -> None:
    from ..pipeline import RunConfig, check_output, run

    kw = {**_DEFAULTS, **kw}
    setup_logging(kw["quiet"], kw["log_file"])
    import_tensorflow(replay=click.get_current_context().find_root().params.get("debug", False))
    if kw["out"] is None:  # announced by the run once its inputs check out
        kw["out"] = derived_output(kw["regions"], mode, kw["task"] == "all")
    cfg = RunConfig(mode=mode, known_lambdas=not kw["no_known_lambdas"], command_line=command_line(),
                    **{field: kw[option] for field, option in _FIELDS.items()})
    if kw["bigwig"] is not None:
        if kw["genome"] is None:
            raise click.UsageError("--bigwig needs the genome (-g) for chromosome sizes")
        check_output(kw["bigwig"], kw["force"])
    summary = run(cfg)
    if kw["bigwig"] is not None:
        from ..writers.bigwig import write_bigwig

        for task, path in zip(_tasks_of(summary), summary.outputs):
            write_bigwig(path, kw["genome"], str(kw["bigwig"]).replace("{task}", str(task)), force=True)
    if kw["formats"] == "npz":
        from ..writers.npz import write_npz_pair

        for path in summary.outputs:
            write_npz_pair(path, path)
    logging.getLogger("genolift").info(
        "%d regions, %d pairs in %.1f s (%.0f pairs/s), max |delta| %.1e -> %s", summary.regions, summary.pairs,
        summary.seconds, summary.pairs / max(summary.seconds, 1e-9), summary.max_delta, summary.output,
    )


def _tasks_of(summary) -> list:
    import h5py

    tasks = []
    for path in summary.outputs:
        with h5py.File(path, "r") as f:
            tasks.append(int(f.attrs["task"]))
    return tasks


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


def _parse_window(ctx, param, value):
    if value is None:
        return None
    try:
        lo, hi = (int(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not START:END") from None
    if not 0 <= lo < hi:
        raise click.BadParameter(f"{value!r}: need 0 <= START < END")
    return lo, hi


def _ism(**kw):
    """In-silico mutagenesis of REGIONS: t(mutant) - t(x) for every position and base.

    Writes input_seqs and ism_scores (N, L, 4) (the observed base's entry is 0),
    predictions and coordinates; every task with --task all.
    """
    _run("ism", **kw)


ism = cli.command(name="ism")(
    _options(click.option("--window", callback=_parse_window, default=None, metavar="START:END",
                          help="Mutate only positions START..END-1 of each window (default: all).")(_ism),
             only=ISM_OPTIONS)
)
