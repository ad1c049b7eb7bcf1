"""``variants``: both allele windows of each variant scored against the same references.

The references are those of the reference-allele window: its K dinucleotide
shuffles, seeded by the variant's key ``chrom:pos:REF>ALT``, or the GC
background.  With Σ C_ref = t(ref) − t(r_k) and Σ C_alt = t(alt) − t(r_k)
per reference, the difference of the projected scores decomposes the
variant's effect exactly: Σ_l Σ_b (C_alt − C_ref)[l, b] = t(alt) − t(ref).
The engine scores the 2n windows of a chunk (reference windows first) against
the references repeated for both halves.  The variant scores table (logfc, jsd,
quantiles, p-values against a shuffled null: :mod:`.variant_scores`) is computed
from the model's outputs on the same windows, in the same pass, and written as
datasets and as ``OUT.variant_scores.tsv``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import _constants as C
from ..scores import contributions
from .command import Clock
from .config import DELTA_WARN, Summary, VariantsConfig
from .driver import execute
from .outputs import per_task
from .score import References, ScoreCommand, nonfinite_rows, refuse_nonfinite
from .variant_scores import VariantTable, make_engine

log = logging.getLogger("genolift")

#: Suffixes of the three bigWig tracks written for ``--bigwig PREFIX``.
BIGWIG_TRACKS = ("delta", "ref", "alt")


class VariantInputs(NamedTuple):
    """What a chunk needs beside its windows: the references and the null's windows (or None)."""

    references: References
    null: object


def bigwig_paths(prefix: Path) -> dict[str, Path]:
    """``PREFIX.delta.bw``, ``PREFIX.ref.bw`` and ``PREFIX.alt.bw`` by track."""
    return {track: Path(f"{prefix}.{track}.bw") for track in BIGWIG_TRACKS}


class VariantsCommand(ScoreCommand):
    """The reference and alternate window of every variant, against the reference window's references."""

    def __init__(self, cfg: VariantsConfig):
        super().__init__(cfg)
        self.name = "variants"
        self.bigwig_prefixes: dict[int, Path] = {}
        self.tables: dict = {}
        self.units: dict = {}
        self.targets: dict = {}
        self.table: VariantTable | None = None

    def check(self, graph) -> None:
        """Find the heads the scores table reads (the genome is required by the source)."""
        self.table = VariantTable(self.cfg, graph, self.units)

    def task_target(self, graph, task):
        return self.targets[task] if self.targets else super().task_target(graph, task)

    def open_source(self, length: int):
        from .variant_source import VariantSource

        return VariantSource(self.cfg, length)

    def pairs(self, n: int) -> int:
        return 2 * n * self.k

    def extra_outputs(self, outputs: dict[int, Path]) -> list[tuple[str, Path]]:
        from ..writers.variant_table import table_path

        self.tables = {task: table_path(path) for task, path in outputs.items()}
        extra = [("the variant scores table of -o", path) for path in self.tables.values()]
        if self.cfg.bigwig is None:
            return extra
        self.bigwig_prefixes = per_task(self.cfg.bigwig, tuple(outputs), "--bigwig")
        return extra + [("--bigwig", path) for prefix in self.bigwig_prefixes.values()
                        for path in bigwig_paths(prefix).values()]

    def start(self, source, clock: Clock) -> None:
        self.cfg.extra_attrs["skipped_ref_mismatch"] = source.mismatched
        self.cfg.extra_attrs.update(self.table.start(source))
        super().start(source, clock)

    def settings(self) -> dict:
        return {**super().settings(), **self.table.settings()}

    def layout(self) -> dict:
        from ..writers.variant_table import add_pvalues

        values = {C.REF_PREDICTIONS: (), C.ALT_PREDICTIONS: (), C.EFFECT: (), C.REFERENCE_PREDICTIONS: (self.k,),
                  C.REF_DELTAS: (self.k,), C.ALT_DELTAS: (self.k,), **self.table.value_shapes()}
        return {"score_names": C.VARIANT_SCORE_DATASETS, "value_shapes": values, "strings": C.VARIANT_STRINGS,
                "ints": C.VARIANT_INTS, "on_complete": add_pvalues if self.cfg.null else None}

    def describe(self, n: int) -> str:
        return f"scoring {n} variant(s) x 2 alleles x {self.k} reference(s)"

    def prepare(self, windows: list, X: np.ndarray) -> VariantInputs:
        """References of the n reference windows X[:n] (X is (2n, L, 4): reference windows, then alternate),
        and the null's windows."""
        return VariantInputs(self._references(windows, X), self.table.prepare(windows))

    def _references(self, windows: list, X: np.ndarray) -> References:
        from ..references import degenerate_rows, dinucleotide_shuffle

        if self.cfg.reference == "gc":
            return super().prepare(windows, X)
        ref = X[: len(windows)]
        refs = dinucleotide_shuffle(ref, self.cfg.shuffles, seed=self.cfg.seed, keys=[w.key for w in windows])
        degenerate = degenerate_rows(ref, refs)
        for window in (w for w, bad in zip(windows, degenerate) if bad):
            log.warning("variant %s (line %d): its reference window has a single valid dinucleotide shuffle, so "
                        "its reference-allele scores are all 0", window.name, window.line)
        return References(refs, int(degenerate.sum()))

    def compute(self, chunk, engine) -> list[dict[str, np.ndarray]]:
        refs = chunk.inputs.references
        keys = [w.key for w in chunk.windows] + [w.key + "/alt" for w in chunk.windows]  # seeds of a rule's draws
        if refs.values.ndim == 2:
            results = engine.run_background_tasks(chunk.X, refs.values, revcomp=self.cfg.revcomp, keys=keys)
        else:
            both = np.concatenate([refs.values, refs.values])
            results = engine.run_tasks(chunk.X, both, revcomp=self.cfg.revcomp, keys=keys)
        tables = self.table.arrays(engine, chunk.X, chunk.windows, chunk.inputs.null, list(self.tables))
        arrays = []
        for res, table in zip(results, tables):
            self._check_finite(chunk, res)
            arrays.append({**self._allele_arrays(chunk, res), **_variant_fields(chunk.windows), **table})
            self._count_deltas(res)
        self.degenerate += refs.degenerate
        return arrays

    def _allele_arrays(self, chunk, res) -> dict[str, np.ndarray]:
        """Split the engine's 2n rows into the two alleles' datasets."""
        n = len(chunk.windows)
        X, hyp = chunk.X, res.hypothetical
        return {
            C.REF_SEQS: X[:n], C.ALT_SEQS: X[n:],
            C.REF_HYP_SCORES: hyp[:n], C.ALT_HYP_SCORES: hyp[n:],
            C.REF_CONTRIB_SCORES: contributions(hyp[:n], X[:n]), C.ALT_CONTRIB_SCORES: contributions(hyp[n:], X[n:]),
            C.REF_PREDICTIONS: res.predictions[:n], C.ALT_PREDICTIONS: res.predictions[n:],
            C.EFFECT: res.predictions[n:] - res.predictions[:n],
            C.REFERENCE_PREDICTIONS: res.reference_predictions[:n],
            C.REF_DELTAS: res.deltas[:n], C.ALT_DELTAS: res.deltas[n:],
        }

    def _check_finite(self, chunk, res) -> None:
        """Refuse NaN/inf results, naming the variants affected."""
        bad, n = nonfinite_rows(res), len(chunk.windows)
        refuse_nonfinite(self.cfg.model, chunk.windows, bad[:n] | bad[n:], "variant")

    def finish(self, outputs: dict[int, Path], clock: Clock) -> list[Path]:
        from ..writers.variant_bigwig import write_variant_bigwigs
        from ..writers.variant_table import write_table

        written = []
        for task, path in outputs.items():
            written.append(write_table(path, self.tables[task]))
            log.info("variant scores, one row per variant -> %s", self.tables[task])
            clock.lap("writing the variant scores table")
            if task in self.bigwig_prefixes:
                tracks = bigwig_paths(self.bigwig_prefixes[task])
                written += write_variant_bigwigs(path, self.cfg.genome, tracks, force=True)
                clock.lap("writing the bigWigs")
        return written

    def report(self, n: int) -> None:
        if self.flagged:
            log.warning("%d of %d pairs exceed the summation-to-delta threshold %.0e·(1+|Δt|) (max |delta| %.2e)",
                        self.flagged, self.pairs(n), DELTA_WARN, self.max_delta)
        if self.degenerate:
            log.warning("%d variant(s) have a reference window with a single valid dinucleotide shuffle",
                        self.degenerate)


def _variant_fields(windows: list) -> dict[str, np.ndarray]:
    """The variants' own columns and the alignment of their windows (n,) each."""
    variants = [w.variant for w in windows]
    ref_len = np.array([len(v.ref) for v in variants], dtype=np.int64)
    alt_len = np.array([len(v.alt) for v in variants], dtype=np.int64)
    return {
        C.VARIANT_CHROM: np.array([v.chrom for v in variants], dtype=str),
        C.VARIANT_ID: np.array([v.id for v in variants], dtype=str),
        C.VARIANT_REF: np.array([v.ref for v in variants], dtype=str),
        C.VARIANT_ALT: np.array([v.alt for v in variants], dtype=str),
        C.VARIANT_POS: np.array([v.pos for v in variants], dtype=np.int64),
        C.VARIANT_LINE: np.array([v.line for v in variants], dtype=np.int64),
        C.ALLELE_START: np.array([w.variant.pos - 1 - w.start for w in windows], dtype=np.int64),
        C.REF_LEN: ref_len,
        C.ALT_LEN: alt_len,
        C.SHIFT: alt_len - ref_len,
    }


def run_variants(cfg: VariantsConfig) -> Summary:
    """Score both alleles of every variant of ``cfg.regions`` (a VCF, VCF.gz or TSV)."""
    return execute(VariantsCommand(cfg), make_engine=make_engine)
