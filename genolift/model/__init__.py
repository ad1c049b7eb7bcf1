"""Model files to genolift graphs: the only package that knows Keras versions."""

from .graph import Graph, Node
from .keras_reader import load_model

__all__ = ["Graph", "Node", "load_model"]
