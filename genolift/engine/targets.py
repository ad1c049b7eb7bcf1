"""Which scalar of the model genolift explains (the DeepLIFT target).

Unit targets (``kind="task"``): a final sigmoid is stripped, so the target
is its input, the logit; a final softmax is stripped too and the logits are
mean-normalised across classes (z_c − mean(z)), so a feature that raises
every class equally contributes nothing.  Any other output is explained as it
is.  ``task`` picks the unit of the (C,)-shaped output.

Profile targets (``kind="profile"``) explain a profile head's logits z over
positions (and strands, flattened jointly): with z̃ = z − mean(z), the target
is Σ_j z̃_j · softmax(z̃)_j, and the map z̃_j ↦ z̃_j · softmax(z̃)_j is treated
as one nonlinearity with the Rescale rule per element, so contributions sum
exactly to the target's difference.  ``kind="profile-chrombpnet"`` keeps the
softmax weights fixed (the ChromBPNet convention): its multipliers are
½(w(x) + w(r)) and its scores do not sum exactly to Δtarget.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TargetError
from ..model.graph import Graph


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
    kind: str = "task"
    tasks: tuple = ()

    @property
    def all_tasks(self) -> tuple:
        """Units explained together (one backward pass each, forward passes shared)."""
        return self.tasks or (self.task,)


#: ``--output`` words that name a head by its shape (:mod:`genolift.model.heads`) rather than by its name.
HEAD_WORDS = ("profile", "counts")


def _outputs_words(graph: Graph) -> str:
    shapes = ", ".join(f"{name} {tuple(shape)}" for name, shape in zip(graph.output_names, graph.output_shapes))
    return (f"the model's outputs are {shapes} (name one, give its index 0..{len(graph.outputs) - 1}, or "
            f"{' or '.join(HEAD_WORDS)} for the head of that shape)")


def _output_index(graph: Graph, output: str | int | None) -> int:
    if output is None:
        return 0
    if isinstance(output, int) or str(output).isdigit():
        index = int(output)
        if 0 <= index < len(graph.outputs):
            return index
    elif output in graph.output_names:
        return graph.output_names.index(output)
    elif output in HEAD_WORDS:
        from ..model.heads import find_heads

        index = getattr(find_heads(graph.output_names, graph.output_shapes), output)
        if index is not None:
            return index
        raise TargetError(f"--output {output}: no output has the shape of a {output} head; " + _outputs_words(graph))
    raise TargetError(f"model output {output!r} does not exist; " + _outputs_words(graph))


TARGET_KINDS = ("auto", "task", "profile", "profile-chrombpnet")


def _resolve_kind(kind: str, name: str, shape: tuple) -> str:
    if kind not in TARGET_KINDS:
        raise TargetError(f"target kind {kind!r} is not one of {', '.join(TARGET_KINDS)}")
    if kind != "auto":
        return kind
    from ..model.heads import is_profile

    return "profile" if is_profile(name, shape) else "task"


def _profile_target(node, name: str, shape: tuple, kind: str) -> Target:
    size = int(np_prod(shape))
    if size < 2:
        raise TargetError(f"output {name!r} has shape {shape}: a profile needs several positions")
    if kind == "profile":
        words = "exact: contributions sum to its difference"
    else:
        words = "ChromBPNet-compatible: softmax weights held fixed, does not sum exactly to its difference"
    return Target(node.name, 0, False, name,
                  f"profile of output {name!r} {shape}: sum_j zc_j*softmax(zc)_j, zc = mean-centred logits "
                  f"over positions and strands ({words})", kind)


def np_prod(shape) -> int:
    out = 1
    for size in shape:
        out *= int(size)
    return out


def select_target(graph: Graph, output: str | int | None = None, task=0, kind: str = "auto") -> Target:
    """The target for ``output`` (name or index, default the first), ``task`` and ``kind``.

    ``task`` is a unit index, a sequence of them, or ``"all"`` (every unit).
    """
    index = _output_index(graph, output)
    node = graph.node(graph.outputs[index])
    shape = tuple(graph.output_shapes[index])
    name = graph.output_names[index]
    kind = _resolve_kind(kind, name, shape)
    if kind != "task":
        return _profile_target(node, name, shape, kind)
    if len(shape) != 1:
        raise TargetError(
            f"output {name!r} has shape {shape}; explain it as a profile (--target profile) or pick "
            "an output of shape (tasks,)"
        )
    tasks = tuple(range(shape[0])) if task == "all" else tuple(task) if isinstance(task, (list, tuple)) else (task,)
    for t in tasks:
        if not isinstance(t, int) or not 0 <= t < shape[0]:
            raise TargetError(f"--task {t} is out of range: output {name!r} has {shape[0]} task(s), 0..{shape[0] - 1}")
    if len(tasks) > 1:
        words = "logits" if node.op in ("sigmoid", "softmax") else "units"
        base = _unit_target(node, tasks[0], name)
        return Target(base.node, tasks[0], base.normalise, name, f"{words} of output {name!r} tasks {list(tasks)}",
                      "task", tasks)
    return _unit_target(node, tasks[0], name)


def _unit_target(node, task: int, name: str) -> Target:
    if node.op == "sigmoid":
        return Target(node.inputs[0], task, False, name, f"logit of output {name!r} task {task} (pre-sigmoid)")
    if node.op == "softmax":
        return Target(
            node.inputs[0], task, True, name,
            f"mean-normalised logit of output {name!r} class {task} (pre-softmax)",
        )
    return Target(node.name, task, False, name, f"output {name!r} task {task}")
