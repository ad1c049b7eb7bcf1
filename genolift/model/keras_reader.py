"""Read Keras model files as data and convert them to a genolift :class:`Graph`.

Three file kinds load: Keras 3 ``.keras`` (zip of ``config.json`` and weights),
Keras 3 legacy ``.h5`` and tf.keras 2 ``.h5`` (root attribute ``model_config``).
The model config is first read straight from the file and scanned: a Lambda
layer, a custom layer or a custom activation refuses the whole model with one
message naming every such layer, before Keras sees the file.  Only then does
Keras parse it, in safe mode and without compiling, and genolift converts the
parsed layers through their public ``get_config()`` / ``get_weights()``.
No code stored in a model file is ever run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelError, UnsupportedLayerError
from .graph import Graph, Node
from .layers import CODE_CLASSES, CONVERTERS, ELEMENTWISE_ACTIVATIONS, convert_layer, expand_inner_softmax

MODEL_CLASSES = ("Functional", "Model", "Sequential")
_KNOWN_ACTIVATIONS = set(ELEMENTWISE_ACTIVATIONS) | {"linear", "softmax", None}


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_config(path: str | Path) -> dict:
    """The model config stored in a Keras file, parsed as JSON (nothing is run)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such model file; check the path")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json"))
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as handle:
                text = handle.attrs.get("model_config")
                if text is None:
                    raise ModelError(
                        f"{path}: HDF5 file without a model config (weights only?); "
                        "save the whole model with model.save()"
                    )
                return json.loads(text.decode() if isinstance(text, bytes) else text)
    except (KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: unreadable or corrupted model file ({exc})") from None
    raise ModelError(f"{path}: not a Keras model file (expected .keras zip or .h5 HDF5)")


def _layer_problem(entry: dict) -> str | None:
    """Why a config entry cannot be read, or None."""
    cls = entry.get("class_name", "?")
    name = entry.get("name") or entry.get("config", {}).get("name", "?")
    cfg = entry.get("config", {})
    if cls in CODE_CLASSES:
        return f"{name!r} ({cls}: Python code stored in the file, never run)"
    module = entry.get("module")
    registered = entry.get("registered_name")
    if (module and not module.startswith("keras")) or (registered and registered != cls):
        return f"{name!r} ({registered or cls}: custom layer, code outside Keras)"
    if cls in MODEL_CLASSES:
        return None  # a nested model: its own layers are scanned
    if cls not in CONVERTERS and cls != "InputLayer":
        return f"{name!r} ({cls}: layer type without a genolift rule)"
    activation = cfg.get("activation")
    if isinstance(activation, dict) or activation not in _KNOWN_ACTIVATIONS:
        shown = activation.get("class_name") if isinstance(activation, dict) else activation
        return f"{name!r} ({cls} with activation {shown!r}: not a built-in activation)"
    return None


#: Lambda layers recognised by their place in the graph and replaced by genolift's own ops.
KNOWN_LAMBDAS = {"logcount_predictions": "logsumexp of the Concatenate of two log-count heads (ChromBPNet)"}


def _inbound_names(entry: dict) -> list[str]:
    """Names of the layers feeding a config entry (Keras 2 or Keras 3 serialisation)."""
    return [ref[0] for ref in _refs(entry.get("inbound_nodes", []))]


def known_lambdas(config: dict) -> dict[str, str]:
    """{Lambda name: Concatenate name} for Lambdas exactly where ChromBPNet puts its counts combiner.

    The Lambda must be named ``logcount_predictions``, be a model output, and be fed
    by a single Concatenate layer (whose two (N, 1) inputs are checked after parsing).
    """
    layers = {e.get("name") or e.get("config", {}).get("name"): e for e in config.get("config", {}).get("layers", [])}
    outputs = {t[0] for t in _triples(config.get("config", {}).get("output_layers", []))}
    found = {}
    for name, entry in layers.items():
        if entry.get("class_name") != "Lambda" or name not in KNOWN_LAMBDAS or name not in outputs:
            continue
        feeds = _inbound_names(entry)
        if len(feeds) == 1 and layers.get(feeds[0], {}).get("class_name") == "Concatenate":
            found[name] = feeds[0]
    return found


def scan_config(config: dict, allowed: dict | None = None, prefix: str = "") -> list[str]:
    """Every layer of a model config (nested models included) that genolift refuses, in words.

    ``allowed`` are known Lambdas (see :func:`known_lambdas`) that are substituted, not refused.
    """
    layers = config.get("config", {}).get("layers", [])
    if config.get("class_name") not in MODEL_CLASSES:
        return [f"top-level object {config.get('class_name')!r} is not a Keras model"]
    problems = []
    for entry in layers:
        name = entry.get("name") or entry.get("config", {}).get("name", "?")
        if entry.get("class_name") in MODEL_CLASSES:
            problems += scan_config(entry, None, f"{prefix}{name}/")
        elif not (allowed and name in allowed and not prefix):
            problem = _layer_problem(entry)
            problems += [prefix + problem] if problem and prefix else [problem] if problem else []
    return problems


def load_keras(path: str | Path, allow_known_lambdas: bool = False):
    """Scan the file's config, then let Keras parse it in safe mode.

    With ``allow_known_lambdas``, a Lambda in a known place (:func:`known_lambdas`)
    is removed from a copy of the config before Keras parses it (so its code is
    never loaded); the caller substitutes genolift's own op.

    Returns
    -------
    keras.Model, not compiled.
    """
    config = read_config(path)
    known = known_lambdas(config) if allow_known_lambdas else {}
    problems = scan_config(config, known)
    renumbered = _renumber_nested_calls(config)
    if problems:
        raise UnsupportedLayerError(
            f"{path}: genolift cannot read {len(problems)} layer(s): {'; '.join(problems)}. "
            "Lambda and custom layers are refused because reading them would run code "
            "from the file; rebuild the model from built-in layers"
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    try:
        if known or renumbered:
            with tempfile.TemporaryDirectory() as tmp:
                return keras.saving.load_model(_without_lambdas(path, config, known, Path(tmp)), compile=False,
                                               safe_mode=True)
        return keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: Keras could not read the model ({first})") from None


def _renumber_nested_calls(config: dict) -> bool:
    """Make tf.keras 2 references to nested models readable by Keras 3 (in place).

    tf.keras 2 numbers a nested model's calls from 1 (call 0 built the model
    itself, outside the outer config); Keras 3 counts the calls the outer
    config lists, from 0.  Returns True if any reference changed.
    """
    layers = config.get("config", {}).get("layers", [])
    calls = {e.get("name"): len(e.get("inbound_nodes", [])) for e in layers if e.get("class_name") in MODEL_CLASSES}
    changed = False

    def fix(obj):
        nonlocal changed
        if isinstance(obj, list):
            if len(obj) >= 3 and isinstance(obj[0], str) and obj[0] in calls and isinstance(obj[1], int) \
                    and obj[1] >= calls[obj[0]]:
                obj[1] -= 1
                changed = True
            for item in obj:
                fix(item)
        elif isinstance(obj, dict):
            for item in obj.values():
                fix(item)

    for entry in layers:
        fix(entry.get("inbound_nodes", []))
    return changed


def _without_lambdas(path: Path, config: dict, known: dict, tmp: Path) -> str:
    """A copy of the model file whose config lacks the known Lambdas (their outputs become the
    Concatenates') and has nested-model calls renumbered for Keras 3."""
    import h5py

    patched = json.loads(json.dumps(config))
    body = patched["config"]
    body["layers"] = [e for e in body["layers"] if (e.get("name") or e["config"].get("name")) not in known]
    outputs = body["output_layers"]
    nested = bool(outputs) and not isinstance(outputs[0], str)
    triples = [[known.get(t[0], t[0]), t[1], t[2]] for t in _triples(outputs)]
    body["output_layers"] = triples if nested else triples[0]
    copy = tmp / Path(path).name
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(copy, "w") as dst:
            for item in src.infolist():
                data = json.dumps(patched).encode() if item.filename == "config.json" else src.read(item)
                dst.writestr(item, data)
    else:
        shutil.copy(path, copy)
        with h5py.File(copy, "r+") as handle:
            handle.attrs["model_config"] = json.dumps(patched)
    return str(copy)


def _refs(obj) -> list[tuple[str, int, int]]:
    """Keras-history triples found, in order, in a serialised call's arguments."""
    found: list[tuple[str, int, int]] = []
    if isinstance(obj, dict):
        history = obj.get("config", {}).get("keras_history") if obj.get("class_name") == "__keras_tensor__" else None
        if history is not None:
            return [(history[0], int(history[1]), int(history[2]))]
        for value in obj.values():
            found += _refs(value)
    elif isinstance(obj, (list, tuple)):
        if len(obj) >= 3 and isinstance(obj[0], str) and isinstance(obj[1], int) and isinstance(obj[2], int):
            return [(obj[0], obj[1], obj[2])]
        for value in obj:
            found += _refs(value)
    return found


def _triples(spec) -> list[tuple[str, int, int]]:
    """Normalise ``input_layers``/``output_layers`` to a list of triples."""
    if spec and isinstance(spec[0], str):
        spec = [spec]
    return [(s[0], int(s[1]), int(s[2])) for s in spec]


def _functional_calls(model) -> list[tuple[str, int, list]]:
    """(layer name, call index, input refs) for every layer call of a functional model."""
    calls = []
    for entry in model.get_config()["layers"]:
        for index, node in enumerate(entry.get("inbound_nodes", [])):
            calls.append((entry["name"], index, _refs(node.get("args", node) if isinstance(node, dict) else node)))
    return calls


def _convert_calls(model, calls, tensor_ids: dict, prefix: str = "") -> list[Node]:
    """Convert layer calls in dependency order; collect every unsupported layer.

    A layer that is itself a model is inlined: its nodes get the prefix
    ``CALL/`` (so a nested model called twice gives two copies sharing weights).
    """
    import keras

    nodes: list[Node] = []
    problems: list[str] = []
    pending = list(calls)
    while pending:
        ready = [c for c in pending if all(r in tensor_ids for r in c[2])]
        if not ready:
            raise ModelError(f"{model.name}: the model graph has unresolved inputs")
        for name, index, refs in ready:
            pending.remove((name, index, refs))
            layer = model.get_layer(name)
            out = prefix + (name if index == 0 else f"{name}#{index}")
            inputs = tuple(tensor_ids[r] for r in refs)
            try:
                if isinstance(layer, keras.Model):
                    inner, outs = _inline(layer, inputs, out + "/")
                    nodes += inner
                    tensor_ids.update({(name, index, t): o for t, o in enumerate(outs)})
                    continue
                nodes += convert_layer(type(layer).__name__, layer.get_config(), layer.get_weights(), out, inputs,
                                       prefix + name)
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
        names = [t[0] for t in _triples(cfg["input_layers"])]
        calls = [c for c in _functional_calls(model) if c[0] not in names]
        outputs = _triples(cfg["output_layers"])
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
        names = [t[0] for t in _triples(cfg["input_layers"])]
        calls = [c for c in _functional_calls(model) if c[0] not in names]
        outputs = _triples(cfg["output_layers"])
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


def load_model(path: str | Path, known_lambdas: bool = True) -> Graph:
    """Read a Keras model file into a genolift Graph (see the module docstring)."""
    config = read_config(path)
    substituted = globals()["known_lambdas"](config) if known_lambdas else {}
    model = load_keras(path, allow_known_lambdas=known_lambdas)
    graph = to_graph(model, str(path), file_sha256(path), substituted)
    graph.substituted = {name: KNOWN_LAMBDAS[name] for name in substituted}
    return graph
