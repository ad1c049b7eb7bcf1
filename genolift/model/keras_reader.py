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
        return f"{name!r} ({cls}: nested model, not supported yet)"
    if cls not in CONVERTERS and cls != "InputLayer":
        return f"{name!r} ({cls}: layer type without a genolift rule)"
    activation = cfg.get("activation")
    if isinstance(activation, dict) or activation not in _KNOWN_ACTIVATIONS:
        shown = activation.get("class_name") if isinstance(activation, dict) else activation
        return f"{name!r} ({cls} with activation {shown!r}: not a built-in activation)"
    return None


def scan_config(config: dict) -> list[str]:
    """Every layer of a model config that genolift refuses, described in words."""
    layers = config.get("config", {}).get("layers", [])
    if config.get("class_name") not in MODEL_CLASSES:
        return [f"top-level object {config.get('class_name')!r} is not a Keras model"]
    return [p for p in (_layer_problem(entry) for entry in layers) if p]


def load_keras(path: str | Path):
    """Scan the file's config, then let Keras parse it in safe mode.

    Returns
    -------
    keras.Model, not compiled.
    """
    problems = scan_config(read_config(path))
    if problems:
        raise UnsupportedLayerError(
            f"{path}: genolift cannot read {len(problems)} layer(s): {'; '.join(problems)}. "
            "Lambda and custom layers are refused because reading them would run code "
            "from the file; rebuild the model from built-in layers"
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    try:
        return keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: Keras could not read the model ({first})") from None


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


def _convert_calls(model, calls, tensor_ids: dict) -> list[Node]:
    """Convert layer calls in dependency order; collect every unsupported layer."""
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
            out = name if index == 0 else f"{name}#{index}"
            inputs = tuple(tensor_ids[r] for r in refs)
            try:
                nodes += convert_layer(type(layer).__name__, layer.get_config(), layer.get_weights(), out, inputs, name)
            except UnsupportedLayerError as exc:
                problems.append(str(exc))
            tensor_ids[(name, index, 0)] = out
    if problems:
        raise UnsupportedLayerError("unsupported layers: " + "; ".join(problems))
    return nodes


def _sequential_calls(model, input_name: str) -> list[tuple[str, int, list]]:
    calls, prev = [], (input_name, 0, 0)
    for layer in model.layers:
        calls.append((layer.name, 0, [prev]))
        prev = (layer.name, 0, 0)
    return calls


def to_graph(model, source: str = "", sha256: str = "") -> Graph:
    """Convert a parsed Keras model into a genolift Graph."""
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
    nodes = expand_inner_softmax(nodes, [tensor_ids[o] for o in outputs])
    bad = sorted({n.layer for n in nodes if any(not np.isfinite(w).all() for w in n.weights)})
    if bad:
        raise ModelError(f"{source}: NaN or infinite weights in layer(s) {', '.join(bad)}; the model is broken")
    return Graph(
        nodes=nodes,
        inputs=input_names,
        outputs=[tensor_ids[o] for o in outputs],
        output_names=[o[0] for o in outputs],
        input_shape=(int(shape[0]), 4),
        output_shapes=[tuple(t.shape[1:]) for t in model.outputs],
        source=str(source),
        sha256=sha256,
    )


def load_model(path: str | Path) -> Graph:
    """Read a Keras model file into a genolift Graph (see the module docstring)."""
    model = load_keras(path)
    return to_graph(model, str(path), file_sha256(path))
