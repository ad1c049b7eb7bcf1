"""``ism``: in-silico mutagenesis, t(mutant) − t(x) for every position (of the window) and base."""

from __future__ import annotations

import numpy as np

from .. import _constants as C
from ..errors import ModelError, RegionError
from .command import Command
from .config import IsmConfig, Summary
from .driver import execute


class IsmCommand(Command):
    """Every single-base substitution of each window (or of positions ``cfg.window``), one task's unit at a time."""

    name = "ism"
    target = "task"

    def check(self, graph) -> None:
        window = self.cfg.window
        if window is not None and not 0 <= window[0] < window[1] <= graph.length:
            raise RegionError(f"--window {window[0]}:{window[1]}: the model's input has {graph.length} positions; "
                              f"give 0 <= START < END <= {graph.length}")

    def settings(self) -> dict:
        window = self.cfg.window
        return {"command": "ism", "rule": "ism", "steps": None, "ism_window": list(window) if window else None,
                "reference": "dinucleotide-shuffle", "shuffles": 0, "seed": 0, "gc": None, "revcomp": False}

    def layout(self) -> dict:
        return {"score_names": (C.INPUT_SEQS, C.ISM_SCORES), "value_shapes": {C.PREDICTIONS: ()}}

    def describe(self, n: int) -> str:
        return f"mutating {n} region(s)"

    def compute(self, chunk, engine) -> list[dict[str, np.ndarray]]:
        arrays = []
        for scores, predictions in engine.mutagenesis(chunk.X, self.cfg.window):
            if not (np.isfinite(scores).all() and np.isfinite(predictions).all()):
                raise ModelError(f"{self.cfg.model}: the model gives NaN or infinite values; check its weights")
            arrays.append({C.INPUT_SEQS: chunk.X, C.ISM_SCORES: scores, C.PREDICTIONS: predictions})
        return arrays


def run_ism(cfg: IsmConfig) -> Summary:
    """In-silico mutagenesis of every region of ``cfg.regions``."""
    return execute(IsmCommand(cfg))
