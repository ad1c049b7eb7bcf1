"""The DeepLIFT engine on TensorFlow: rules, targets and the batched pair runner.

Names are imported on first use, so that ``genolift.engine.targets`` and
``genolift.engine.results`` (plain data) can be read without importing
TensorFlow: the host side of a run (regions, references, writers) and its
null-engine benchmark need no TensorFlow.
"""

from __future__ import annotations

import importlib

#: Public name -> the submodule that holds it.
_HOMES = {"GRADIENT_RULES": "rule_names", "ChunkResult": "results", "Engine": "runner", "Target": "targets",
          "select_target": "targets"}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
