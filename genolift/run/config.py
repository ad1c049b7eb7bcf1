"""What a run needs (the command line's options, typed) and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

#: Per-pair |delta| above DELTA_WARN · (1 + |Δt|) is reported as a warning.
DELTA_WARN = 1e-4


@dataclass
class RunConfig:
    """Options every command shares: inputs, the model's target, batching, output handling.

    ``output`` may hold ``{task}``, replaced by each task's index (required when
    several tasks are explained).  ``shard`` is (i, n): only shard i of n.
    ``regions_out`` names the narrowPeak of the scored windows (default: beside
    ``output``, see :mod:`.scored_windows`); it may hold ``{task}`` too.
    """

    model: Path
    regions: Path
    output: Path
    genome: Path | None = None
    regions_out: Path | None = None
    model_output: str | None = None
    task: int | str = 0  # an index, or "all"
    known_lambdas: bool = True
    devices: str | None = None
    backend: str | None = None  # tensorflow, jax or torch; None: KERAS_BACKEND, else tensorflow
    precision: str = "float32"
    compile: str | None = None  # auto, plain or xla; None: $GENOLIFT_COMPILE where the backend offers it, else auto
    compression: str = "gzip"
    score_dtype: str = "float32"
    batch_size: int | str = "auto"  # pairs per device batch, or "auto" (resolved by the engine, then recorded)
    memory: float | None = None  # GB of the budget of batch_size auto
    chunk_size: int = 256
    threads: int = 0  # input worker threads; 0: one per usable core (at most 4) on a GPU, 1 on a CPU
    off_edge: str = "skip"
    force: bool = False
    resume: bool = False
    shard: tuple[int, int] | None = None
    quiet: bool = False
    command_line: str = ""
    extra_attrs: dict = field(default_factory=dict)


@dataclass
class ScoreConfig(RunConfig):
    """``score`` (``contributions=True``) and ``hypothetical``: DeepLIFT or a gradient rule against references.

    ``bigwig`` (may hold ``{task}``) and ``npz`` ask for the extra outputs the
    run writes from each finished HDF5 file.
    """

    contributions: bool = True
    reference: str = "shuffle"  # "shuffle" or "gc"
    shuffles: int = 10
    gc: float | None = None
    seed: int = 0
    target: str = "auto"
    revcomp: bool = False
    rule: str = "rescale"
    steps: int = 50
    maxpool: str = "cross-max"  # the DeepLIFT rules' max-pool rule
    epsilon: float = 1e-4  # lrp-epsilon
    alpha: float = 1.0  # lrp-alpha-beta
    beta: float = 0.0
    samples: int = 50  # smoothgrad's noisy copies, shapley-sampling's permutations
    noise: float = 0.15  # smoothgrad
    times_input: bool = False  # smoothgrad, connection-weights
    width: int = 1  # shapley-sampling's bases per feature
    bigwig: Path | None = None
    npz: bool = False

    def method_options(self) -> dict:
        """The rule's options as :class:`~genolift.engine.Engine` takes them (the seed seeds its draws)."""
        return {"maxpool": self.maxpool, "epsilon": self.epsilon, "alpha": self.alpha, "beta": self.beta,
                "samples": self.samples, "noise": self.noise, "times_input": self.times_input, "width": self.width,
                "seed": self.seed}


@dataclass
class IsmConfig(RunConfig):
    """``ism``: in-silico mutagenesis of positions ``window`` = (start, end) of each window (None: all)."""

    window: tuple[int, int] | None = None


@dataclass
class OcclusionConfig(RunConfig):
    """``occlusion``: windows of ``width`` bases, ``stride`` apart, filled from the references (``fill``
    ``reference``: K shuffles or the GC background, averaged) or with zeros (``fill`` ``zero``)."""

    width: int = 10
    stride: int = 1
    fill: str = "reference"
    reference: str = "shuffle"
    shuffles: int = 10
    gc: float | None = None
    seed: int = 0
    target: str = "auto"
    revcomp: bool = False


@dataclass
class VariantsConfig(ScoreConfig):
    """``variants``: both allele windows of every variant of ``regions`` (a VCF or TSV) against the same references.

    ``ref_mismatch`` is ``error`` (a REF that differs from the genome stops the run) or ``skip``;
    ``bigwig`` is a path prefix (may hold ``{task}``): PREFIX.delta.bw, PREFIX.ref.bw, PREFIX.alt.bw.
    The scores table (:mod:`genolift.run.variant_scores`): ``null`` shuffles per variant for p-values
    (0: none), ``null_total`` caps the pooled null, ``peaks`` a narrowPeak for the active allele's
    quantile, ``heads`` names the profile and log-counts outputs (``PROFILE,COUNTS``).
    """

    ref_mismatch: str = "error"
    null: int = 0
    null_total: int | None = None
    peaks: Path | None = None
    heads: str | None = None


class Summary(NamedTuple):
    """What a finished run reports; ``timings`` (seconds) by stage; ``extras`` the regions, bigWig and npz files."""

    output: Path
    regions: int
    pairs: int
    seconds: float
    max_delta: float
    skipped: int
    timings: dict
    outputs: list
    extras: list = []
