"""``occlusion``: the target's drop when a window of each region is replaced, per position.

Windows of ``--width`` bases, ``--stride`` apart, are filled from the
region's references (K dinucleotide shuffles or the GC background, seeded as
for ``score``; the mean over the K is taken) or with zeros (``--fill zero``).
"""

from __future__ import annotations

import logging

import numpy as np

from .. import _constants as C
from ..errors import MethodError, ModelError
from .command import Clock, Command
from .config import OcclusionConfig, Summary
from .driver import execute

log = logging.getLogger("genolift")


class OcclusionCommand(Command):
    """Occlusion of every region, one task's unit at a time (writes ``occlusion_scores`` (N, L))."""

    name = "occlusion"
    target = "task"

    def __init__(self, cfg: OcclusionConfig):
        super().__init__(cfg)
        self.k = 0 if cfg.fill == "zero" else (cfg.shuffles if cfg.reference == "shuffle" else 1)
        self.gc, self.gc_source = cfg.gc, ("--gc" if cfg.gc is not None else None)
        self.length = 0

    def check(self, graph) -> None:
        cfg = self.cfg
        if cfg.width > graph.length:
            raise MethodError(f"--width {cfg.width}: the model's input has {graph.length} positions; "
                              f"give a window of at most {graph.length}")
        self.length = graph.length

    def pairs(self, n: int) -> int:
        return n * max(self.k, 1)

    def start(self, source, clock: Clock) -> None:
        if self.k and self.cfg.reference == "gc" and self.gc is None:
            from .source import estimate_gc

            self.gc, self.gc_source = estimate_gc(source, self.cfg.chunk_size), "scored sequences"
            log.info("GC fraction of the scored sequences: %.4f", self.gc)
            clock.lap("estimating GC")

    def settings(self) -> dict:
        cfg = self.cfg
        zero = cfg.fill == "zero"
        return {"command": "occlusion", "rule": "occlusion", "steps": None, "ism_window": None,
                "reference": "zero" if zero else ("dinucleotide-shuffle" if cfg.reference == "shuffle"
                                                  else "gc-background"),
                "shuffles": self.k, "seed": None if zero else cfg.seed, "gc": None if zero else self.gc,
                "revcomp": cfg.revcomp, "width": cfg.width, "stride": cfg.stride, "fill": cfg.fill}

    def layout(self) -> dict:
        return {"score_names": (C.INPUT_SEQS,),
                "value_shapes": {C.PREDICTIONS: (), C.OCCLUSION_SCORES: (self.length,)}}

    def describe(self, n: int) -> str:
        fill = "zeros" if self.k == 0 else f"{self.k} reference(s)"
        return f"occluding {n} region(s), windows of {self.cfg.width} every {self.cfg.stride}, filled with {fill}"

    def prepare(self, windows: list, X: np.ndarray):
        """What fills the windows of X (n, L, 4): (n, K, L, 4) shuffles, the (L, 4) GC background, or None."""
        from ..references import dinucleotide_shuffle, gc_background

        if self.k == 0:
            return None
        if self.cfg.reference == "gc":
            return np.tile(gc_background(np.ones((1, 1, 4), np.float32), self.gc)[0, 0, 0], (X.shape[1], 1))
        return dinucleotide_shuffle(X, self.cfg.shuffles, seed=self.cfg.seed, keys=[w.key for w in windows])

    def compute(self, chunk, engine) -> list[dict[str, np.ndarray]]:
        arrays = []
        for scores, predictions in engine.occlusion(chunk.X, chunk.inputs, self.cfg.width, self.cfg.stride,
                                                    revcomp=self.cfg.revcomp):
            if not (np.isfinite(scores).all() and np.isfinite(predictions).all()):
                raise ModelError(f"{self.cfg.model}: the model gives NaN or infinite values; check its weights")
            arrays.append({C.INPUT_SEQS: chunk.X, C.OCCLUSION_SCORES: scores, C.PREDICTIONS: predictions})
        return arrays


def run_occlusion(cfg: OcclusionConfig) -> Summary:
    """Occlusion of every region of ``cfg.regions``."""
    return execute(OcclusionCommand(cfg))
