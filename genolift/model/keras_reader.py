"""Read Keras model files and convert them to a genolift :class:`Graph`.

Three file kinds load: Keras 3 ``.keras`` (zip of ``config.json`` and weights),
Keras 3 legacy ``.h5`` and tf.keras 2 ``.h5`` (root attribute ``model_config``).
The model config is first read as data and scanned (:mod:`.config`): a Lambda
layer, a custom layer or a custom activation refuses the whole model with one
message naming every such layer, before Keras sees the file.  Only then does
Keras parse it, in safe mode and without compiling, and genolift converts the
parsed layers through their public ``get_config()`` / ``get_weights()`` by the
support table (:mod:`.support`).  No code stored in a model file is ever run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import ModelError, UnsupportedLayerError
from . import graph_cache
from .config import KNOWN_LAMBDAS, read_config, refs, triples
from .config import known_lambdas as find_known_lambdas
from .graph import Graph, Node
from .keras_file import load_keras, use_keras_backend
from .layers import expand_inner_softmax
from .support import convert_layer, convert_operation, is_operation


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Keyword arguments of a layer call that are inputs (after the positional ones): attention's ``key``.
_TENSOR_KWARGS = ("key",)


def _call_refs(node) -> list:
    """Input refs of one serialised call: its positional arguments, then the tensor keyword arguments."""
    if not isinstance(node, dict):
        return refs(node)
    kwargs = node.get("kwargs") or {}
    return refs(node.get("args", node)) + [r for key in _TENSOR_KWARGS if key in kwargs for r in refs(kwargs[key])]


def _functional_calls(model) -> list[tuple[str, int, list]]:
    """(layer name, call index, input refs) for every layer call of a functional model."""
    calls = []
    for entry in model.get_config()["layers"]:
        for index, node in enumerate(entry.get("inbound_nodes", [])):
            calls.append((entry["name"], index, _call_refs(node)))
    return calls


def _call_args(entry: dict | None, index: int) -> list | None:
    """Positional arguments of call ``index`` in a config entry: ``{"tensor": k, "shape": …}`` for the
    k-th tensor (in :func:`refs` order), constants as they are; None without the entry."""
    if entry is None or index >= len(entry.get("inbound_nodes", [])):
        return None
    node = entry["inbound_nodes"][index]
    args = node.get("args", []) if isinstance(node, dict) else []
    count = 0

    def walk(arg):
        nonlocal count
        if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
            count += 1
            shape = arg.get("config", {}).get("shape")
            return {"tensor": count - 1, "shape": None if shape is None else tuple(shape[1:])}
        if isinstance(arg, list) and any(isinstance(a, dict) and a.get("class_name") == "__keras_tensor__"
                                         for a in arg):
            return [walk(a) for a in arg]
        return arg

    return [walk(a) for a in args]


def _input_shapes(layer, args: list | None, index: int) -> list[tuple]:
    """Shapes (without the batch axis) of the inputs of one layer call."""
    found = []
    for arg in args or []:
        for a in arg if isinstance(arg, list) else [arg]:
            if isinstance(a, dict) and "tensor" in a:
                found.append(a["shape"])
    if found:
        return found
    try:
        return [tuple(t.shape[1:]) for t in layer._inbound_nodes[index].input_tensors]
    except (AttributeError, IndexError):
        return []


def _convert_one(model, entry, name: str, index: int, out: str, inputs: tuple, layer_name: str):
    """Nodes of one call of a layer or operation node, or (nodes, output ids) of a nested model."""
    import keras

    args = _call_args(entry, index)
    if entry is not None and is_operation(entry):
        cfg = {**entry.get("config", {}), "call_args": args or []}
        return convert_operation(entry["class_name"], cfg, out, inputs, layer_name), None
    layer = model.get_layer(name)
    if isinstance(layer, keras.Model):
        return _inline(layer, inputs, out + "/")
    cfg = {**layer.get_config(), "input_shapes": _input_shapes(layer, args, index),
           "call_kwargs": _call_kwargs(entry, index)}
    cls = getattr(type(layer), "registered", type(layer).__name__)  # genolift's stand-ins for registered layers
    return convert_layer(cls, cfg, layer.get_weights(), out, inputs, layer_name), None


def _call_kwargs(entry: dict | None, index: int) -> dict:
    """Keyword arguments of call ``index`` in a config entry (tensors as they are serialised); {} if none."""
    nodes = (entry or {}).get("inbound_nodes", [])
    node = nodes[index] if index < len(nodes) else None
    return dict(node.get("kwargs") or {}) if isinstance(node, dict) else {}


def _convert_calls(model, calls, tensor_ids: dict, prefix: str = "") -> list[Node]:
    """Convert layer calls in dependency order; collect every unsupported layer.

    A layer that is itself a model is inlined: its nodes get the prefix
    ``CALL/`` (so a nested model called twice gives two copies sharing weights).
    Operation nodes (``keras.ops.*``) are read from the config entry.
    """
    import keras

    entries = {} if isinstance(model, keras.Sequential) else {e["name"]: e for e in model.get_config()["layers"]}
    nodes: list[Node] = []
    problems: list[str] = []
    pending = list(calls)
    while pending:
        ready = [c for c in pending if all(r in tensor_ids for r in c[2])]
        if not ready:
            raise ModelError(f"{model.name}: the model graph has unresolved inputs")
        for name, index, sources in ready:
            pending.remove((name, index, sources))
            out = prefix + (name if index == 0 else f"{name}#{index}")
            inputs = tuple(tensor_ids[r] for r in sources)
            try:
                made, outs = _convert_one(model, entries.get(name), name, index, out, inputs, prefix + name)
                nodes += made
                if outs is not None:
                    tensor_ids.update({(name, index, t): o for t, o in enumerate(outs)})
                    continue
            except UnsupportedLayerError as exc:
                problems.append(str(exc))
            tensor_ids[(name, index, 0)] = out
    if problems:
        raise UnsupportedLayerError("unsupported layers: " + "; ".join(problems))
    return nodes


def _inline(model, input_ids: tuple, prefix: str) -> tuple[list[Node], list[str]]:
    """Nodes of a nested model fed by ``input_ids``, and the ids of its outputs."""
    import keras

    if isinstance(model, keras.Sequential):
        calls = _sequential_calls(model, "__input__")
        names, outputs = ["__input__"], [(model.layers[-1].name, 0, 0)]
    else:
        cfg = model.get_config()
        names = [t[0] for t in triples(cfg["input_layers"])]
        calls = [c for c in _functional_calls(model) if c[0] not in names]
        outputs = triples(cfg["output_layers"])
    if len(names) != len(input_ids):
        raise UnsupportedLayerError(f"{prefix}: nested model called with {len(input_ids)} of {len(names)} inputs")
    tensor_ids = {(name, 0, 0): given for name, given in zip(names, input_ids)}
    nodes = _convert_calls(model, calls, tensor_ids, prefix)
    return nodes, [tensor_ids[o] for o in outputs]


def _sequential_calls(model, input_name: str) -> list[tuple[str, int, list]]:
    calls, prev = [], (input_name, 0, 0)
    for layer in model.layers:
        calls.append((layer.name, 0, [prev]))
        prev = (layer.name, 0, 0)
    return calls


def to_graph(model, source: str = "", sha256: str = "", substituted: dict | None = None) -> Graph:
    """Convert a parsed Keras model into a genolift Graph.

    ``substituted`` maps known Lambdas removed before parsing to the Concatenate
    that fed them (see :func:`load_keras`); genolift's logsumexp replaces each.
    """
    import keras

    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    dna = [i for i, shape in enumerate(shapes) if len(shape) == 2 and shape[1] == 4 and shape[0] is not None]
    if not dna:
        raise ModelError(
            f"{source}: input shape {' / '.join(map(str, shapes))} is not (L, 4); genolift needs a "
            "fixed-length one-hot DNA input"
        )
    if isinstance(model, keras.Sequential):
        names = ["input"]
        calls = _sequential_calls(model, names[0])
        outputs = [(model.layers[-1].name, 0, 0)]
    else:
        cfg = model.get_config()
        names = [t[0] for t in triples(cfg["input_layers"])]
        calls = [c for c in _functional_calls(model) if c[0] not in names]
        outputs = triples(cfg["output_layers"])
    order = [dna[0]] + [i for i in range(len(names)) if i != dna[0]]  # the sequence input first
    input_names = [names[i] for i in order]
    shape = shapes[dna[0]]
    tensor_ids = {(name, 0, 0): name for name in input_names}
    nodes = [Node(name, "input", (), {"shape": shapes[i]}, (), name) for i, name in zip(order, input_names)]
    nodes += _convert_calls(model, calls, tensor_ids)
    output_ids, output_names = [tensor_ids[o] for o in outputs], [o[0] for o in outputs]
    output_shapes = [tuple(t.shape[1:]) for t in model.outputs]
    for lam, concat in (substituted or {}).items():
        nodes += _logsumexp(model, lam, concat, output_ids, output_names, output_shapes, source)
    nodes = expand_inner_softmax(nodes, output_ids)
    bad = sorted({n.layer for n in nodes if any(not np.isfinite(w).all() for w in n.weights)})
    if bad:
        raise ModelError(f"{source}: NaN or infinite weights in layer(s) {', '.join(bad)}; the model is broken")
    return Graph(
        nodes=nodes,
        inputs=input_names,
        outputs=output_ids,
        output_names=output_names,
        input_shape=(int(shape[0]), 4),
        output_shapes=output_shapes,
        source=str(source),
        sha256=sha256,
    )


def _logsumexp(model, lam: str, concat: str, output_ids, output_names, output_shapes, source) -> list[Node]:
    """genolift's log(Σ exp) over the last axis in place of a known Lambda (checked: two (N, 1) heads)."""
    layer = model.get_layer(concat)
    shapes = [tuple(t.shape[1:]) for t in (layer.input if isinstance(layer.input, list) else [layer.input])]
    if shapes != [(1,), (1,)]:
        raise UnsupportedLayerError(
            f"{source}: Lambda {lam!r} is fed by {concat!r} with inputs {shapes}, not two (N, 1) log-count heads; "
            "refused (its code is never run)"
        )
    i = output_names.index(concat)
    src = output_ids[i]
    output_ids[i], output_names[i], output_shapes[i] = lam, lam, (1,)
    return [
        Node(f"{lam}/exp", "exponential", (src,), {}, (), lam),
        Node(f"{lam}/sum", "reduce_sum", (f"{lam}/exp",), {"axis": -1}, (), lam),
        Node(lam, "log", (f"{lam}/sum",), {}, (), lam),
    ]


def load_model(path: str | Path, known_lambdas: bool = True, cache: bool = True, backend: str | None = None) -> Graph:
    """Read a Keras model file into a genolift Graph (see the module docstring).

    ``cache``: reuse the graph an earlier read of a file with the same bytes
    kept (:mod:`genolift.model.graph_cache`: no Keras import, no parsing), and
    keep this one for later reads.  ``backend``: the Keras backend to read
    with where Keras is not imported yet (:func:`use_keras_backend`).
    """
    config = read_config(path)  # first: a missing or foreign file gets its clear refusal
    sha256 = file_sha256(path)
    key = graph_cache.graph_key(sha256, {"known_lambdas": bool(known_lambdas)})
    if cache and (graph := graph_cache.recall(key, str(path), sha256)) is not None:
        return graph
    substituted = find_known_lambdas(config) if known_lambdas else {}
    use_keras_backend(backend)
    model = load_keras(path, allow_known_lambdas=known_lambdas)
    graph = to_graph(model, str(path), sha256, substituted)
    graph.substituted = {name: KNOWN_LAMBDAS[name] for name in substituted}
    if cache:
        graph_cache.store(key, graph)
    return graph
