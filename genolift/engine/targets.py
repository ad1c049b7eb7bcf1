"""Which scalar of the model genolift explains (the DeepLIFT target).

A final sigmoid is stripped: the target is its input, the logit.  A final
softmax is stripped too and the logits are mean-normalised across classes
(z_c − mean(z)), so a feature that raises every class equally contributes
nothing.  Any other output is explained as it is.  ``task`` picks the unit of
the (C,)-shaped output.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GenoliftError
from ..model.graph import Graph


class TargetError(GenoliftError, ValueError):
    """The requested output or task does not exist or cannot be explained."""


@dataclass(frozen=True)
class Target:
    """The explained scalar.

    Attributes
    ----------
    node : graph node whose value (a (C,) vector per sequence) holds the target.
    task : index of the unit within that vector.
    normalise : subtract the mean over units first (pre-softmax logits).
    output_name : name of the model output it belongs to.
    description : words for the output file's attributes.
    """

    node: str
    task: int
    normalise: bool
    output_name: str
    description: str


def _output_index(graph: Graph, output: str | int | None) -> int:
    if output is None:
        return 0
    if isinstance(output, int) or str(output).isdigit():
        index = int(output)
        if 0 <= index < len(graph.outputs):
            return index
    elif output in graph.output_names:
        return graph.output_names.index(output)
    raise TargetError(
        f"model output {output!r} does not exist; the model's outputs are "
        f"{', '.join(graph.output_names)} (or their index 0..{len(graph.outputs) - 1})"
    )


def select_target(graph: Graph, output: str | int | None = None, task: int = 0) -> Target:
    """The target for ``output`` (name or index, default the first) and ``task``."""
    index = _output_index(graph, output)
    node = graph.node(graph.outputs[index])
    shape = graph.output_shapes[index]
    name = graph.output_names[index]
    if len(shape) != 1:
        raise TargetError(
            f"output {name!r} has shape {shape}; genolift explains outputs of shape (tasks,) "
            "(profile outputs are not supported yet)"
        )
    if not 0 <= task < shape[0]:
        raise TargetError(f"--task {task} is out of range: output {name!r} has {shape[0]} task(s), 0..{shape[0] - 1}")
    if node.op == "sigmoid":
        return Target(node.inputs[0], task, False, name, f"logit of output {name!r} task {task} (pre-sigmoid)")
    if node.op == "softmax":
        return Target(
            node.inputs[0], task, True, name,
            f"mean-normalised logit of output {name!r} class {task} (pre-softmax)",
        )
    return Target(node.name, task, False, name, f"output {name!r} task {task}")
