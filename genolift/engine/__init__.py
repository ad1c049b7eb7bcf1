"""The DeepLIFT engine on TensorFlow: rules, targets and the batched pair runner."""

from .runner import ChunkResult, Engine
from .targets import Target, select_target

__all__ = ["ChunkResult", "Engine", "Target", "select_target"]
