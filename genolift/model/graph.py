"""genolift's own model graph: a list of small layer specs in topological order.

A :class:`Graph` holds plain numpy weights and parameters; the engine turns it
into TensorFlow ops.  Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Node:
    """One operation of the graph.

    Attributes
    ----------
    name : unique node id (the Keras layer name, with suffixes for fused
        activations and repeated calls).
    op : operation kind, a key of the support table :data:`genolift.model.support.OPS` (``conv1d``, ``relu``...).
    inputs : ids of the nodes feeding this one, in order.
    params : operation parameters (strides, padding, axis...).
    weights : numpy arrays (kernel, bias...), float32.
    layer : name of the Keras layer this node comes from.
    """

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    weights: tuple[np.ndarray, ...] = ()
    layer: str = ""


@dataclass
class Graph:
    """A model as genolift runs it.

    Attributes
    ----------
    nodes : list of Node, topologically sorted (inputs first).
    inputs : node ids of the model inputs, the one-hot sequence input first; any
        others are held at values the caller gives (the same for a sequence and
        its references).
    outputs : node ids of the model outputs, in Keras order.
    output_names : the Keras names of the outputs.
    input_shape : (L, 4) shape of the sequence input, without the batch axis.
    output_shapes : shapes of the outputs without the batch axis.
    source : path of the file the graph was read from.
    sha256 : SHA-256 of that file.
    """

    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    output_names: list[str]
    input_shape: tuple[int, int]
    output_shapes: list[tuple]
    source: str = ""
    sha256: str = ""
    substituted: dict = field(default_factory=dict)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def extra_inputs(self) -> list[tuple[str, tuple]]:
        """(name, shape without the batch axis) of the inputs other than the sequence."""
        return [(name, tuple(self.node(name).params.get("shape", ()))) for name in self.inputs[1:]]

    @property
    def length(self) -> int:
        """Input length L of the sequence input."""
        return int(self.input_shape[0])

    def consumers(self) -> dict[str, list[str]]:
        """Map node id → ids of the nodes that read it."""
        out: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for node in self.nodes:
            for src in node.inputs:
                out[src].append(node.name)
        return out
