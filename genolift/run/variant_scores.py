"""The variant scores of a ``variants`` run, computed in the same pass as the contributions.

Per chunk the engine's plain forward values of every model output
(``engine.outputs``) on the 2n allele windows give the table's columns
(:mod:`genolift.variants.scores`); with ``--revcomp`` the reverse complements'
values are averaged in as variant-scorer does (counts averaged, profile logits
averaged with the reverse complement's mapped back: positions reversed, strands
swapped).  With ``--null m`` the same values of the alleles inside m shuffles of
each variant's flanks (:mod:`genolift.variants.null`) are stored per variant;
the p-values need every row and are written when the file is complete
(:func:`genolift.writers.variant_table.add_pvalues`).  With ``--peaks`` the
peaks' predicted counts are computed once, at the first chunk, for the quantiles.

``--output all`` explains every model output in one run: :class:`HeadsEngine`
holds one engine per output and runs them on the same chunks and references,
so each output gets its own file (``{task}`` in ``-o`` becomes the output's
name).  The engines share nothing else: each does its own forward passes of the
windows and references.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from .. import _constants as C
from ..errors import RegionError, TargetError
from ..sequences import codes_to_one_hot, reverse_complement
from ..variants import scores as S
from ..model.heads import Heads, find_heads, is_profile
from ..variants.null import NullWindows, null_selection, null_windows

log = logging.getLogger("genolift")

#: Windows put through the model at a time for the null and the peaks (bounds memory).
BLOCK_WINDOWS = 1024


# ----------------------------------------------------------------------------- --output all


class _Keys(NamedTuple):
    """What the driver reads of a target to name the files: the keys of the results, in order."""

    all_tasks: tuple


class HeadsEngine:
    """Engines of several model outputs run on the same inputs: their results one after the other.

    ``labels[i]`` names the files of ``engines[i]``'s tasks (the output's name, or ``NAME.TASK``
    for an output explained for several tasks); ``targets`` maps each label to its target.
    """

    def __init__(self, engines: list, labels: list[list[str]], targets: dict):
        self.engines = engines
        self.target = _Keys(tuple(label for per in labels for label in per))
        self.targets = targets
        self.devices = engines[0].devices

    @property
    def startup_seconds(self) -> float:
        return sum(engine.startup_seconds for engine in self.engines)

    def run_tasks(self, X, references, revcomp: bool = False, extras=None, keys=None) -> list:
        return [res for engine in self.engines for res in engine.run_tasks(X, references, revcomp, extras, keys)]

    def run_background_tasks(self, X, background, revcomp: bool = False, extras=None, keys=None) -> list:
        return [res for engine in self.engines
                for res in engine.run_background_tasks(X, background, revcomp, extras, keys)]

    def outputs(self, X, extras=None) -> list[np.ndarray]:
        return self.engines[0].outputs(X, extras)


def make_engine(command, graph):
    """The engine of a ``variants`` run: genolift's engine, or a :class:`HeadsEngine` for ``--output all``.

    Also tells ``command`` which output and unit each file explains (``command.units``) and, for
    ``--output all``, each file's target (``command.targets``).
    """
    from ..engine import select_target
    from .driver import _engine

    cfg = command.cfg
    if cfg.model_output != "all" or len(graph.output_names) == 1:
        engine = _engine(replace_output(command, 0 if cfg.model_output == "all" else cfg.model_output), graph)
        index = output_index(graph, cfg.model_output if cfg.model_output != "all" else 0)
        tasks = select_target(graph, index, cfg.task, command.target).all_tasks
        command.units, command.targets = {task: (index, task) for task in tasks}, {}
        return engine
    engines, labels, targets, units = [], [], {}, {}
    for index, (name, shape) in enumerate(zip(graph.output_names, graph.output_shapes)):
        kind = command.target if is_profile(name, shape) and command.target.startswith("profile") else "auto"
        proxy = replace_output(command, index, kind)
        target = select_target(graph, index, cfg.task, kind)
        engines.append(_engine(proxy, graph))
        several = len(target.all_tasks) > 1
        labels.append([f"{name}.{t}" if several else name for t in target.all_tasks])
        for label, task in zip(labels[-1], target.all_tasks):
            targets[label] = select_target(graph, index, task, kind)
            units[label] = (index, task)
    command.units, command.targets = units, targets
    return HeadsEngine(engines, labels, targets)


def replace_output(command, output, kind: str | None = None):
    """What the driver's engine factory reads of a command, with another model output (and target kind)."""
    return SimpleNamespace(cfg=replace(command.cfg, model_output=output), rule=command.rule,
                           target=kind or command.target, steps=command.steps, engine_options=command.engine_options)


def output_index(graph, output) -> int:
    """Index of ``output`` (a name, an index or None for the first) among the model's outputs."""
    if output is None:
        return 0
    if str(output).isdigit():
        return int(output)
    if output in graph.output_names:
        return list(graph.output_names).index(output)
    raise TargetError(f"model output {output!r} does not exist; the model's outputs are "
                      f"{', '.join(graph.output_names)}")


# ----------------------------------------------------------------------------- values of windows


class WindowValues(NamedTuple):
    """What the scores read of w windows: counts (w,), profile logits (w, P, S), unit outputs {index: (w, C)}."""

    counts: np.ndarray | None
    logits: np.ndarray | None
    units: dict


def window_values(engine, X: np.ndarray, heads: Heads, unit_outputs, revcomp: bool) -> WindowValues:
    """The heads' values for windows X (w, L, 4), averaged with the reverse complements' when ``revcomp``."""
    forward = engine.outputs(X)
    backward = engine.outputs(np.ascontiguousarray(reverse_complement(X))) if revcomp else None
    counts = logits = None
    if heads.counts is not None:
        counts = S.predicted_counts(forward[heads.counts])
        if backward is not None:
            counts = (counts + S.predicted_counts(backward[heads.counts])) / 2
    if heads.profile is not None:
        logits = _as_profile(forward[heads.profile])
        if backward is not None:
            logits = (logits + _as_profile(backward[heads.profile])[:, ::-1, ::-1]) / 2
    units = {}
    for index in unit_outputs:
        values = forward[index].reshape(len(X), -1).astype(np.float64)
        if backward is not None:
            values = (values + backward[index].reshape(len(X), -1)) / 2
        units[index] = values
    return WindowValues(counts, logits, units)


def _as_profile(values: np.ndarray) -> np.ndarray:
    """(w, P) or (w, P, S) -> (w, P, S) float64."""
    values = np.asarray(values, np.float64)
    return values.reshape(len(values), values.shape[1], -1)


# ----------------------------------------------------------------------------- the table


class VariantTable:
    """The scores table of one run: which heads, the null, the peaks; the arrays of each chunk.

    Parameters
    ----------
    cfg : the run's :class:`~genolift.run.config.VariantsConfig`.
    graph : the model.
    units : file key -> (output index, unit) explained in that file (used without a profile or counts head).
    """

    def __init__(self, cfg, graph, units: dict):
        self.cfg, self.units = cfg, units
        self.names = list(graph.output_names)
        shapes = [tuple(s) for s in graph.output_shapes]
        output = None if cfg.model_output == "all" else cfg.model_output
        self.heads = find_heads(self.names, shapes, cfg.heads, output)
        if cfg.peaks is not None and self.heads.counts is None:
            raise TargetError(f"--peaks {cfg.peaks}: the active allele's quantile needs a log-counts head, and "
                              f"the model has none ({', '.join(self.names)}); name it with --heads PROFILE,COUNTS")
        self.unit_outputs = sorted({index for index, _ in units.values()}) if not self.heads.any else []
        self.null = cfg.null
        self.selection: np.ndarray | None = None
        self.rows: dict = {}
        self.peak_windows: list = []
        self.sorted_peaks: np.ndarray | None = None
        self.genome, self.length = None, 0

    # -- before the run
    def settings(self) -> dict:
        return {"null": self.null or None, "null_total": self.cfg.null_total if self.null else None,
                "peaks_sha256": _sha256(self.cfg.peaks) if self.cfg.peaks is not None else None,
                "heads": self.heads.describe(self.names)}

    def start(self, source) -> dict:
        """Read the peaks' windows, draw the null's entries; returns the attributes to record."""
        self.genome, self.length = source.genome, source.length
        attrs = {"variant_table": "heads" if self.heads.any else "unit",
                 "profile_output": None if self.heads.profile is None else self.names[self.heads.profile],
                 "counts_output": None if self.heads.counts is None else self.names[self.heads.counts]}
        if self.null:
            self.rows = {window: i for i, window in enumerate(source.windows)}
            self.selection = null_selection(len(source.windows), self.null, self.cfg.null_total, self.cfg.seed)
            attrs["null_per_variant"] = self.null
        if self.cfg.peaks is not None:
            self.peak_windows, skipped = _peak_windows(self.cfg.peaks, source.genome, source.length)
            attrs.update({"peaks_file": Path(self.cfg.peaks).name, "peaks_scored": len(self.peak_windows),
                          "peaks_skipped": skipped})
            log.info("%s: %d peak window(s) for the quantiles (%d off a chromosome end or repeated)",
                     self.cfg.peaks, len(self.peak_windows), skipped)
        return attrs

    def value_shapes(self) -> dict:
        """The table's datasets and their shapes after the row axis."""
        base = {}
        if self.heads.counts is not None:
            base.update({C.ALLELE1_PRED_COUNTS: 0, C.ALLELE2_PRED_COUNTS: 0})
        if self.heads.profile is not None:
            base.update({C.JSD: 0, C.ORIGINAL_JSD: 0})
        if self.cfg.peaks is not None:
            base.update({C.ALLELE1_QUANTILE: 0, C.ALLELE2_QUANTILE: 0})
        if not self.heads.any:
            base.update({C.ALLELE1_PRED: 0, C.ALLELE2_PRED: 0})
        shapes = {name: () for name in S.derived_scores({name: np.ones(1) for name in base})}
        if self.null:
            nulls = [C.NULL_ALLELE1, C.NULL_ALLELE2]
            nulls += [C.NULL_JSD] if self.heads.profile is not None else []
            nulls += [C.NULL_ALLELE1_QUANTILE, C.NULL_ALLELE2_QUANTILE] if self.cfg.peaks is not None else []
            shapes.update({name: (self.null,) for name in nulls})
        return shapes

    # -- per chunk (input worker thread)
    def prepare(self, windows: list) -> NullWindows | None:
        """The null windows of a chunk's variants (None without ``--null``)."""
        if not self.null:
            return None
        rows = [self.rows[w] for w in windows]
        return null_windows([w.variant for w in windows], self.genome, self.length, self.null, self.cfg.seed,
                            self.selection[rows])

    # -- per chunk (engine)
    def arrays(self, engine, X: np.ndarray, windows: list, null: NullWindows | None, keys: list) -> list[dict]:
        """The table's (n,) float32 columns (and (n, m) null values) of a chunk, one dict per file key."""
        n = len(windows)
        ref_len = np.array([len(w.variant.ref) for w in windows])
        alt_len = np.array([len(w.variant.alt) for w in windows])
        values = window_values(engine, X, self.heads, self.unit_outputs, self.cfg.revcomp)
        null_values = self._null_values(engine, null, ref_len, alt_len, n) if null is not None else None
        out = []
        for key in keys:
            base = self._base(values, slice(0, n), slice(n, 2 * n), ref_len, alt_len, key, engine)
            arrays = {name: v.astype(np.float32) for name, v in S.derived_scores(base).items()}
            if null_values is not None:
                arrays.update(null_values(key))
            out.append(arrays)
        return out

    def _base(self, values: WindowValues, ref: slice, alt: slice, ref_len, alt_len, key, engine) -> dict:
        base = {}
        if values.counts is not None:
            base[C.ALLELE1_PRED_COUNTS], base[C.ALLELE2_PRED_COUNTS] = values.counts[ref], values.counts[alt]
            if self.cfg.peaks is not None:
                peaks = self._peaks(engine)
                base[C.ALLELE1_QUANTILE] = S.allele_quantiles(values.counts[ref], peaks)
                base[C.ALLELE2_QUANTILE] = S.allele_quantiles(values.counts[alt], peaks)
        if values.logits is not None:
            p1, p2 = S.profile_probabilities(values.logits[ref]), S.profile_probabilities(values.logits[alt])
            plain = S.js_distance(p2.reshape(len(p2), -1), p1.reshape(len(p1), -1))
            base[C.ORIGINAL_JSD] = plain
            base[C.JSD] = S.realigned_js_distance(p1, p2, ref_len, alt_len, plain)
        if not self.heads.any:
            index, unit = self.units[key]
            base[C.ALLELE1_PRED] = values.units[index][ref, unit]
            base[C.ALLELE2_PRED] = values.units[index][alt, unit]
        return base

    def _null_values(self, engine, null: NullWindows, ref_len, alt_len, n: int):
        """A function key -> {null dataset: (n, m) float32, NaN where not selected}."""
        rows, shuffles = np.nonzero(null.selected)
        parts = []
        for lo in range(0, len(rows), BLOCK_WINDOWS // 2):
            r, s = rows[lo:lo + BLOCK_WINDOWS // 2], shuffles[lo:lo + BLOCK_WINDOWS // 2]
            X = codes_to_one_hot(np.concatenate([null.ref[r, s], null.alt[r, s]]))
            parts.append((r, s, window_values(engine, X, self.heads, self.unit_outputs, self.cfg.revcomp)))

        def per_key(key) -> dict:
            out = {name: np.full((n, self.null), np.nan, np.float32) for name in self.value_shapes()
                   if name in C.NULL_DATASETS}
            for r, s, values in parts:
                k = len(r)
                base = self._base(values, slice(0, k), slice(k, 2 * k), ref_len[r], alt_len[r], key, engine)
                first = base.get(C.ALLELE1_PRED_COUNTS, base.get(C.ALLELE1_PRED))
                second = base.get(C.ALLELE2_PRED_COUNTS, base.get(C.ALLELE2_PRED))
                out[C.NULL_ALLELE1][r, s], out[C.NULL_ALLELE2][r, s] = first, second
                for name, score in ((C.NULL_JSD, C.JSD), (C.NULL_ALLELE1_QUANTILE, C.ALLELE1_QUANTILE),
                                    (C.NULL_ALLELE2_QUANTILE, C.ALLELE2_QUANTILE)):
                    if name in out:
                        out[name][r, s] = base[score]
            return out

        return per_key

    def _peaks(self, engine) -> np.ndarray:
        """The peaks' predicted counts, sorted (computed at the first call)."""
        if self.sorted_peaks is None:
            from ..sequences import one_hot_encode_many

            counts = []
            for lo in range(0, len(self.peak_windows), BLOCK_WINDOWS):
                block = self.peak_windows[lo:lo + BLOCK_WINDOWS]
                X = one_hot_encode_many([self.genome.fetch(w) for w in block])
                counts.append(window_values(engine, X, self.heads, [], self.cfg.revcomp).counts)
            self.sorted_peaks = np.sort(np.concatenate(counts))
        return self.sorted_peaks


def _peak_windows(path, genome, length: int) -> tuple[list, int]:
    """The peaks' windows (summit-centred, length L), those off a chromosome end and repeats left out."""
    from ..regions import read_bed
    from ..sequences import filter_windows

    windows = read_bed(path, length)
    kept, off = filter_windows(windows, genome, path, "skip")
    unique = list({(w.chrom, w.start, w.end): w for w in kept}.values())
    if not unique:
        raise RegionError(f"{path}: no peak window fits its chromosome; --peaks needs peaks inside the genome")
    return unique, len(off) + len(kept) - len(unique)


def _sha256(path) -> str:
    from .provenance import file_sha256

    return file_sha256(Path(path))
