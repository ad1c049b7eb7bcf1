"""A run of a command over a regions file: config, regions and input worker threads, writer thread, provenance.

:func:`run_score` (``score`` and ``hypothetical``), :func:`run_ism`, :func:`run_occlusion` and
:func:`run_variants` take a config dataclass and return a :class:`Summary`; the shared steps live in
:mod:`.driver`, each command's own in :mod:`.score`, :mod:`.ism`, :mod:`.occlusion` and :mod:`.variants`.
"""

from .config import DELTA_WARN, IsmConfig, OcclusionConfig, RunConfig, ScoreConfig, Summary, VariantsConfig
from .ism import run_ism
from .occlusion import run_occlusion
from .score import run_score
from .variants import run_variants

__all__ = ["DELTA_WARN", "IsmConfig", "OcclusionConfig", "RunConfig", "ScoreConfig", "Summary", "VariantsConfig",
           "run_ism", "run_occlusion", "run_score", "run_variants"]
