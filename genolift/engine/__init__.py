"""The DeepLIFT engine on TensorFlow: rules, targets and the batched pair runner."""

from .network import GRADIENT_RULES
from .results import ChunkResult
from .runner import Engine
from .targets import Target, select_target

__all__ = ["GRADIENT_RULES", "ChunkResult", "Engine", "Target", "select_target"]
