"""A run of a command over a regions file: config, regions and producer thread, writer thread, provenance.

:func:`run_score` (``score`` and ``hypothetical``) and :func:`run_ism` take a
config dataclass and return a :class:`Summary`; the shared steps live in
:mod:`.driver`, each command's own in :mod:`.score` and :mod:`.ism`.
"""

from .config import DELTA_WARN, IsmConfig, RunConfig, ScoreConfig, Summary
from .ism import run_ism
from .score import run_score

__all__ = ["DELTA_WARN", "IsmConfig", "RunConfig", "ScoreConfig", "Summary", "run_ism", "run_score"]
