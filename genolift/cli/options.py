"""Options the run commands share (``score``, ``hypothetical``, ``ism``) and the one call they make.

Each command file stacks the groups it offers with :func:`with_options` and
calls :func:`run_command` with its config class and run function.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..engine.backends import BACKENDS
from ..engine.rule_names import MAXPOOL_RULES, RULE_NAMES
from .logs import command_line, setup_logging
from .quiet_import import import_backend


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


def _parse_batch(ctx, param, value):
    if value == "auto":
        return "auto"
    try:
        batch = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number of pairs or 'auto'") from None
    if batch < 1:
        raise click.BadParameter(f"{value!r}: need at least 1 pair")
    return batch


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


def parse_window(ctx, param, value):
    """``START:END`` → (start, end) with 0 <= start < end (the end is checked against the model by the run)."""
    if value is None:
        return None
    try:
        lo, hi = (int(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not START:END") from None
    if not 0 <= lo < hi:
        raise click.BadParameter(f"{value!r}: need 0 <= START < END")
    return lo, hi


def _path(*names, **kw):
    return click.option(*names, type=click.Path(path_type=Path), **kw)


#: MODEL, REGIONS, the genome and the HDF5 output.
INPUTS = [
    click.argument("model", type=click.Path(path_type=Path)),
    click.argument("regions", type=click.Path(path_type=Path)),
    _path("-g", "--genome", envvar="GENOLIFT_GENOME",
          help="Genome FASTA for BED/narrowPeak regions [env GENOLIFT_GENOME]."),
    _path("-o", "--out", "out", default=None,
          help="Output HDF5 file (default: REGIONS name + .scores.h5 / .hyp.h5 / .ism.h5 here)."),
    _path("--regions-out", "regions_out", default=None,
          help="narrowPeak of the scored windows, line i = row i, for Fi-NeMo -p and modisco seqlet-bed -p "
               "(default: OUT with .h5 replaced by .regions.narrowPeak; {task} per task)."),
]

#: The references of score and hypothetical.
REFERENCES = [
    click.option("--reference", type=click.Choice(["shuffle", "gc"]), default="shuffle", show_default=True,
                 help="Dinucleotide shuffles of each sequence, or a uniform GC background."),
    click.option("--shuffles", "-k", type=click.IntRange(1, 1000), default=10, show_default=True,
                 help="Dinucleotide shuffles per sequence (K)."),
    click.option("--gc", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
                 help="GC fraction of the background (default: from the scored sequences)."),
    click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
                 help="Seed of the references (combined with each region's coordinates)."),
]

#: Which output and unit of the model.
TARGET = [
    click.option("--output", "model_output", default=None,
                 help="Model output to explain: its name or index, or 'profile' / 'counts' for the head of that "
                      "shape (positions, or one unit), which finds BPNet's and every ChromBPNet file's heads "
                      "(chrombpnet.h5, chrombpnet_nobias.h5, bias.h5) whatever their names [default: the first]."),
    click.option("--task", callback=_parse_task, default="0", show_default=True,
                 help="Unit of the output to explain, or 'all' (one file per task: put {task} in -o)."),
]

#: The attribution method of score and hypothetical.
RULES = [
    click.option("--target", "target", type=click.Choice(["auto", "task", "profile", "profile-chrombpnet"]),
                 default="auto", show_default=True,
                 help="task: one unit (a logit); profile: exact profile target; profile-chrombpnet: "
                      "ChromBPNet's fixed-weight profile target (not exact); auto: profile for profile heads."),
    click.option("--rule", type=click.Choice(list(RULE_NAMES)),
                 default="rescale", show_default=True,
                 help="DeepLIFT rule (rescale, revealcancel, genomics-default), a gradient baseline, saliency, "
                      "LRP, SmoothGrad, connection weights or Shapley value sampling (docs/methods.md)."),
    click.option("--steps", type=click.IntRange(1, 10000), default=50, show_default=True,
                 help="Integration steps of integrated-gradients (midpoint rule)."),
    click.option("--maxpool", type=click.Choice(list(MAXPOOL_RULES)), default="cross-max", show_default=True,
                 help="Max pooling under the DeepLIFT rules: cross-max (sums to delta), winner-takes-all (the "
                      "input's maximum takes all), or average (each window's change spread evenly)."),
    click.option("--epsilon", type=click.FloatRange(0, min_open=True), default=1e-4, show_default=True,
                 help="Stabiliser of lrp-epsilon at every nonlinearity (not at the last linear layer)."),
    click.option("--alpha", type=float, default=1.0, show_default=True,
                 help="Weight of the positive parts of lrp-alpha-beta (alpha - beta = 1)."),
    click.option("--beta", type=click.FloatRange(0), default=0.0, show_default=True,
                 help="Weight of the negative parts of lrp-alpha-beta."),
    click.option("--samples", type=click.IntRange(1, 100000), default=50, show_default=True,
                 help="Noisy copies of smoothgrad, or permutations per reference of shapley-sampling."),
    click.option("--noise", type=click.FloatRange(0), default=0.15, show_default=True,
                 help="SmoothGrad's noise standard deviation, a fraction of the one-hot range (max - min)."),
    click.option("--times-input", "times_input", is_flag=True,
                 help="smoothgrad or connection-weights without a reference: contributions = input x multipliers."),
    click.option("--width", type=click.IntRange(1), default=1, show_default=True,
                 help="Bases per feature of shapley-sampling (1: every position is a feature)."),
]

LAMBDAS = [
    click.option("--no-known-lambdas", "no_known_lambdas", is_flag=True,
                 help="Refuse every Lambda, also ChromBPNet's counts combiner (replaced by default)."),
]

REVCOMP = [
    click.option("--revcomp", is_flag=True,
                 help="Average with the reverse complement (scores mapped back to the forward strand)."),
]

#: Batching, precision, devices, chunks and windows off a chromosome end.
COMPUTE = [
    click.option("--backend", type=click.Choice(list(BACKENDS)), default=None,
                 help="Array library the engine runs on: tensorflow, jax or torch (the GPU builds of JAX and "
                      "PyTorch need no TensorFlow); Keras reads the model on it too [default: KERAS_BACKEND when "
                      "it names one of them, else tensorflow]."),
    click.option("--batch-size", callback=_parse_batch, default="auto", show_default=True, metavar="N|auto",
                 help="(sequence, reference) pairs per device batch (mutants per forward pass for ism), or auto: "
                      "the largest batch whose activations fit the memory budget (see --memory), at most 256 on "
                      "a CPU and 4096 on a GPU.  The file records the batch used."),
    click.option("--memory", type=click.FloatRange(0, min_open=True), default=None, metavar="GB",
                 help="Memory budget of --batch-size auto, in GB [default: 75% of the GPU's memory; on a CPU a "
                      "quarter of the host's (or the job's cgroup limit), at most 2 GB]."),
    click.option("--precision", type=click.Choice(["float32", "bfloat16", "float16", "float64"]),
                 default="float32", show_default=True,
                 help="Compute precision; the per-pair deltas (and the summary) show the accuracy traded."),
    click.option("--compile", "compile_mode", type=click.Choice(["plain", "xla", "auto"]), default="auto",
                 show_default=True, envvar="GENOLIFT_COMPILE",
                 help="Step functions as plain TensorFlow graphs, XLA-compiled, or the faster of both (auto: "
                      "measured once per model, batch shape and device kind, and kept in the cache folder so "
                      "every process of a run takes the same one; measuring compiles both, which for large "
                      "models takes XLA's memory too: plain avoids it).  JAX always compiles with XLA, PyTorch "
                      "runs eagerly (plain); auto takes theirs [env GENOLIFT_COMPILE]."),
    click.option("--compression", type=click.Choice(["gzip", "lzf", "none"]), default="gzip", show_default=True,
                 help="Filter of the score datasets: gzip (smallest), lzf (faster to write and read) or none; "
                      "plain h5py reads all three."),
    click.option("--score-dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True,
                 help="Storage of the score datasets: float32, or float16 (half the size; small scores lose "
                      "precision, so sums close only to float16 round-off)."),
    click.option("--threads", type=click.IntRange(0), default=0, show_default=True,
                 help="Worker threads building input chunks (fetching, one-hot, shuffling) ahead of the engine; "
                      "0: one per usable core, at most 4, when the engine runs on a GPU (more only contend with "
                      "the writer), and 1 on a CPU (where the engine has the cores)."),
    click.option("--devices", default=None, metavar="SPEC",
                 help="Spread batches over devices: 'all' (every GPU), GPU indices '0,1', or the backend's device "
                      "names ('/CPU:0' on TensorFlow, 'cpu:0' on JAX, 'cpu' on PyTorch)."),
    click.option("--chunk-size", type=click.IntRange(1), default=256, show_default=True,
                 help="Regions per chunk: the unit of writing, resuming and sharding "
                      "(rounded down to whole device batches)."),
    click.option("--off-edge", type=click.Choice(["skip", "pad", "fail"]), default="skip", show_default=True,
                 help="Windows running off a chromosome end: skip them, pad with N, or fail."),
]

#: The files score and hypothetical write besides the HDF5.
EXTRA_OUTPUTS = [
    _path("--bigwig", "bigwig", default=None,
          help="Also write the per-base projected contributions to this bigWig (needs -g; {task} per task)."),
    click.option("--format", "formats", type=click.Choice(["hdf5", "npz"]), default="hdf5", show_default=True,
                 help="npz: also write OUT.ohe.npz and OUT.attr.npz, (N, 4, L) arrays for modisco -s/-a."),
]

#: Sharding, resuming, overwriting and logging.
RUN = [
    click.option("--shard", callback=_parse_shard, default=None, metavar="I/N",
                 help="Score only shard I of N (0-based; whole chunks of regions); join with `genolift merge`."),
    click.option("--resume", is_flag=True, help="Continue an interrupted run from the chunks it wrote."),
    click.option("--force", is_flag=True, help="Overwrite an existing output file (and discard a partial run)."),
    click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr."),
    _path("--log", "log_file", default=None, help="Also append every log line, time-stamped, to this file."),
]

#: Every option of score and hypothetical, in --help order.
SCORE_OPTIONS = [*INPUTS, *REFERENCES, *TARGET, *RULES, *LAMBDAS, *REVCOMP, *COMPUTE, *EXTRA_OUTPUTS, *RUN]


def with_options(decorators):
    """Apply click ``decorators`` so that --help lists them in their order."""

    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


REGION_SUFFIXES = (".gz", ".bgz", ".bed", ".narrowpeak", ".broadpeak", ".fa", ".fasta", ".fna", ".txt", ".vcf", ".tsv")


#: Suffix of each command's default output name.
OUTPUT_SUFFIXES = {"score": "scores", "hypothetical": "hyp", "ism": "ism", "occlusion": "occlusion",
                   "variants": "variants"}


def derived_output(regions: Path, command: str, per_task: bool | str = False) -> Path:
    """``peaks.narrowPeak`` → ``peaks.scores.h5`` here (``.hyp.h5``, ``.ism.h5``; ``.task{task}`` per task,
    or the text ``per_task`` gives, e.g. ``.{task}`` per model output)."""
    name = regions.name
    while Path(name).suffix.lower() in REGION_SUFFIXES:
        name = name[: -len(Path(name).suffix)]
    task = per_task if isinstance(per_task, str) else ".task{task}" if per_task else ""
    return Path(f"{name}.{OUTPUT_SUFFIXES[command]}{task}.h5")


#: Options that name a RunConfig field differently.
_RENAMED = {"out": "output", "no_known_lambdas": "known_lambdas", "formats": "npz", "compile_mode": "compile"}
_CONVERT = {"no_known_lambdas": lambda v: not v, "formats": lambda v: v == "npz"}


def run_command(config_class, run, command: str, unit: str = "regions", **options) -> None:
    """Set up logging and TensorFlow, build the config from the options, run, and log the summary line.

    Parameters
    ----------
    config_class : :class:`~genolift.run.ScoreConfig` or :class:`~genolift.run.IsmConfig`.
    run : the run function taking that config.
    command : the command's name (for the default output name).
    unit : what the rows are, for the summary line (``regions``, ``variants``).
    options : the command's click parameters; ``extra`` fields of the config (e.g. ``contributions``) too.
    """
    setup_logging(options["quiet"], options.pop("log_file"))
    if options.get("bigwig") is not None and options["genome"] is None:
        raise click.UsageError("--bigwig needs the genome (-g) for chromosome sizes")
    import_backend(options.get("backend"), replay=click.get_current_context().find_root().params.get("debug", False))
    if options["out"] is None:  # announced by the run once its inputs check out
        per_task = ".{task}" if options.get("model_output") == "all" else options["task"] == "all"
        options["out"] = derived_output(options["regions"], command, per_task)
    if click.get_current_context().get_parameter_source("compile_mode") != click.core.ParameterSource.COMMANDLINE:
        options["compile_mode"] = None  # the engine reads GENOLIFT_COMPILE where its backend offers that mode
    fields = {_RENAMED.get(name, name): _CONVERT.get(name, lambda v: v)(value) for name, value in options.items()}
    summary = run(config_class(command_line=command_line(), **fields))
    logging.getLogger("genolift").info(
        "%d %s, %d pairs in %.1f s (%.0f pairs/s), max |delta| %.1e -> %s", summary.regions, unit, summary.pairs,
        summary.seconds, summary.pairs / max(summary.seconds, 1e-9), summary.max_delta, summary.output,
    )
