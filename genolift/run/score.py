"""``score`` and ``hypothetical``: DeepLIFT (or a gradient rule) of every region against its references.

References are built in an input worker thread: K dinucleotide shuffles per
region (seeded by the region's key), or one GC background shared by all.
After the HDF5 files the run writes the bigWig tracks and npz pairs asked for.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import _constants as C
from ..engine.rule_names import Method
from ..errors import ModelError, RegionError
from ..regions import is_fasta
from ..scores import contributions, residuals
from .command import Clock, Command
from .config import DELTA_WARN, ScoreConfig, Summary
from .driver import execute
from .outputs import per_task

log = logging.getLogger("genolift")


class References(NamedTuple):
    """A chunk's references: (n, K, L, 4) shuffles, or the (L, 4) GC background; rows with one valid shuffle."""

    values: np.ndarray
    degenerate: int


def _aligned(cfg: ScoreConfig, k: int) -> ScoreConfig:
    """cfg with chunks of whole device batches, so that only the last chunk pads a batch."""
    from ..engine.batching import aligned_chunk
    from ..engine.rule_names import DEEPLIFT_RULES

    if cfg.rule not in DEEPLIFT_RULES or cfg.batch_size == "auto":  # auto: aligned once the engine resolved it
        return cfg
    chunk = aligned_chunk(cfg.chunk_size, cfg.batch_size, k)
    if chunk != cfg.chunk_size:
        log.debug("chunk size %d -> %d regions: a whole number of device batches", cfg.chunk_size, chunk)
    return replace(cfg, chunk_size=chunk)


def _npz_outputs(path: Path) -> tuple[Path, ...]:
    from ..downstream import export_paths

    return export_paths("modisco-npz", path)


class ScoreCommand(Command):
    """Hypothetical scores (and contributions, for ``score``) against shuffles or a GC background."""

    def __init__(self, cfg: ScoreConfig):
        k = cfg.shuffles if cfg.reference == "shuffle" else 1
        super().__init__(_aligned(cfg, k))
        self.name = "score" if cfg.contributions else "hypothetical"
        self.rule, self.target, self.steps, self.k = cfg.rule, cfg.target, cfg.steps, k
        self.engine_options = cfg.method_options()
        self.method = Method(cfg.rule, cfg.steps, **self.engine_options)  # options checked before any region is read
        self.gc, self.gc_source = cfg.gc, ("--gc" if cfg.gc is not None else None)
        self.flagged = self.degenerate = 0
        self.bigwigs: dict[int, Path] = {}

    def use_engine(self, engine) -> None:
        """The engine's batch and compilation, and chunks of whole batches."""
        super().use_engine(engine)
        self.cfg = _aligned(self.cfg, self.k)

    def check(self, graph) -> None:
        cfg = self.cfg
        if cfg.bigwig is not None and cfg.genome is None:
            raise RegionError(f"--bigwig {cfg.bigwig}: needs the genome (-g/--genome) for chromosome sizes")
        if cfg.bigwig is not None and is_fasta(cfg.regions):
            raise RegionError(f"--bigwig {cfg.bigwig}: {cfg.regions} is a FASTA of sequences, without genome "
                              "coordinates; give BED/narrowPeak regions for a bigWig")

    def extra_outputs(self, outputs: dict[int, Path]) -> list[tuple[str, Path]]:
        extra = []
        if self.cfg.bigwig is not None:
            self.bigwigs = per_task(self.cfg.bigwig, tuple(outputs), "--bigwig")
            extra += [("--bigwig", path) for path in self.bigwigs.values()]
        if self.cfg.npz:
            extra += [("--format npz", path) for out in outputs.values() for path in _npz_outputs(out)]
        return extra

    def start(self, source, clock: Clock) -> None:
        if self.cfg.reference == "gc" and self.gc is None:
            from .source import estimate_gc

            self.gc, self.gc_source = estimate_gc(source, self.cfg.chunk_size), "scored sequences"
            log.info("GC fraction of the scored sequences: %.4f", self.gc)
            clock.lap("estimating GC")

    def settings(self) -> dict:
        cfg = self.cfg
        return {
            "command": self.name,
            "rule": cfg.rule,
            "steps": cfg.steps if cfg.rule == "integrated-gradients" else None,
            "ism_window": None,
            "reference": "dinucleotide-shuffle" if cfg.reference == "shuffle" else "gc-background",
            "shuffles": self.k,
            "seed": cfg.seed,
            "gc": self.gc,
            "revcomp": cfg.revcomp,
            **self.method.settings(),
        }

    def layout(self) -> dict:
        return {"with_contributions": self.cfg.contributions}

    def describe(self, n: int) -> str:
        return f"scoring {n} region(s) x {self.k} reference(s)"

    def prepare(self, windows: list, X: np.ndarray) -> References:
        """(n, K, L, 4) shuffles of X (n, L, 4), or the (L, 4) GC background (zeroed at N by the engine)."""
        from ..references import degenerate_rows, dinucleotide_shuffle, gc_background

        if self.cfg.reference == "gc":
            background = gc_background(np.ones((1, 1, 4), np.float32), self.gc)[0, 0, 0]
            return References(np.tile(background, (X.shape[1], 1)), 0)
        refs = dinucleotide_shuffle(X, self.cfg.shuffles, seed=self.cfg.seed, keys=[w.key for w in windows])
        degenerate = degenerate_rows(X, refs)
        for window in (w for w, bad in zip(windows, degenerate) if bad):
            log.warning("region %s (line %d) has a single valid dinucleotide shuffle: its scores are all 0",
                        window.name, window.line)
        return References(refs, int(degenerate.sum()))

    def compute(self, chunk, engine) -> list[dict[str, np.ndarray]]:
        refs = chunk.inputs
        keys = [w.key for w in chunk.windows]
        if refs.values.ndim == 2:
            results = engine.run_background_tasks(chunk.X, refs.values, revcomp=self.cfg.revcomp, keys=keys)
        else:
            results = engine.run_tasks(chunk.X, refs.values, revcomp=self.cfg.revcomp, keys=keys)
        arrays = []
        for res in results:
            self._check_finite(chunk, res)
            arrays.append(self._arrays(chunk.X, res))
            self._count_deltas(res)
            self.max_delta = max(self.max_delta, float(np.abs(res.deltas).max()))
        self.degenerate += refs.degenerate
        return arrays

    def _count_deltas(self, res) -> None:
        """Keep the largest |delta|; count the pairs over the warning threshold where the rule should sum to delta."""
        self.max_delta = max(self.max_delta, float(np.abs(res.deltas).max()))
        if self.method.sums_to_delta:
            scale = 1.0 + np.abs(res.predictions[:, None] - res.reference_predictions)
            self.flagged += int((np.abs(res.deltas) > DELTA_WARN * scale).sum())

    def _arrays(self, X: np.ndarray, res) -> dict[str, np.ndarray]:
        contrib = contributions(res.hypothetical, X)
        arrays = {
            C.INPUT_SEQS: X,
            C.HYP_SCORES: res.hypothetical,
            C.PREDICTIONS: res.predictions,
            C.REFERENCE_PREDICTIONS: res.reference_predictions,
            C.DELTAS: res.deltas,
            C.RESIDUALS: residuals(contrib, res.predictions, res.reference_predictions),
        }
        if self.cfg.contributions:
            arrays[C.CONTRIB_SCORES] = contrib
        return arrays

    def _check_finite(self, chunk, res) -> None:
        """Refuse NaN/inf results, naming the regions affected."""
        refuse_nonfinite(self.cfg.model, chunk.windows, nonfinite_rows(res), "region")

    def finish(self, outputs: dict[int, Path], clock: Clock) -> list[Path]:
        from ..downstream import export
        from ..writers.bigwig import write_bigwig

        written = []
        for task, path in outputs.items():
            if task in self.bigwigs:
                written.append(write_bigwig(path, self.cfg.genome, self.bigwigs[task], force=True))
                clock.lap("writing the bigWig")
            if self.cfg.npz:
                written += export(path, "modisco-npz", path, force=True).paths
                clock.lap("writing npz")
        return written

    def report(self, n: int) -> None:
        if self.flagged:
            log.warning("%d of %d pairs exceed the summation-to-delta threshold %.0e·(1+|Δt|) (max |delta| %.2e)",
                        self.flagged, n * self.k, DELTA_WARN, self.max_delta)
        if self.degenerate:
            log.warning("%d region(s) have a single valid dinucleotide shuffle (all scores 0)", self.degenerate)


def run_score(cfg: ScoreConfig) -> Summary:
    """Score every region of ``cfg.regions`` (``score`` or, without contributions, ``hypothetical``)."""
    return execute(ScoreCommand(cfg))


def nonfinite_rows(res) -> np.ndarray:
    """(n,) bool: rows of an engine result with a NaN or infinite prediction, score or reference prediction."""
    return ~(np.isfinite(res.predictions) & np.isfinite(res.hypothetical).all(axis=(1, 2))
             & np.isfinite(res.reference_predictions).all(axis=1))


def refuse_nonfinite(model, windows, bad: np.ndarray, unit: str) -> None:
    """Raise ModelError naming the first windows (name, line) whose rows are ``bad``."""
    if bad.any():
        names = [f"{w.name} (line {w.line})" for w, b in zip(windows, bad) if b]
        raise ModelError(
            f"{model}: the model gives NaN or infinite values for {len(names)} {unit}(s): "
            f"{', '.join(names[:5])}{' ...' if len(names) > 5 else ''}; check the model's weights"
        )
