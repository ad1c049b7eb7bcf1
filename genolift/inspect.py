"""`genolift info`: what a model file holds and whether genolift can explain it.

Reads the config as data (so it also describes models genolift refuses),
then, when every layer is supported, converts the model and compares
genolift's forward pass with Keras's own on random one-hot sequences.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .model.keras_reader import MODEL_CLASSES, _layer_problem, file_sha256, read_config
from .model.layers import IDENTITY_CLASSES

_RULES = {
    "InputLayer": "input", "Conv1D": "linear", "Dense": "linear", "BatchNormalization": "linear (inference)",
    "AveragePooling1D": "linear", "GlobalAveragePooling1D": "linear", "Flatten": "linear", "Reshape": "linear",
    "Permute": "linear", "Cropping1D": "linear", "ZeroPadding1D": "linear", "Add": "linear",
    "Subtract": "linear", "Average": "linear", "Concatenate": "linear", "MaxPooling1D": "cross-max",
    "GlobalMaxPooling1D": "cross-max", "Activation": "rescale", "ReLU": "rescale", "LeakyReLU": "rescale",
    "ELU": "rescale", "PReLU": "rescale", "Multiply": "product (Shapley split)",
    "LayerNormalization": "centre (linear), square/rsqrt (rescale), product (Shapley split)",
    "Softmax": "final: target is the mean-normalised logit; inner: exp/sum/reciprocal/product",
    **{name: "identity" for name in IDENTITY_CLASSES},
}


class LayerInfo(NamedTuple):
    name: str
    cls: str
    verdict: str
    rule: str


class ModelInfo(NamedTuple):
    path: Path
    sha256: str
    kind: str
    layers: list
    problems: list


def _kind(path: Path, config: dict) -> str:
    import h5py

    if path.suffix == ".keras" or not h5py.is_hdf5(path):
        return "Keras 3 .keras"
    with h5py.File(path, "r") as f:
        version = f.attrs.get("keras_version", "?")
    version = version.decode() if isinstance(version, bytes) else str(version)
    return f"{'tf.keras 2' if version.startswith('2.') else 'Keras 3'} HDF5 (keras_version {version})"


def _rule(entry: dict) -> str:
    cls = entry.get("class_name", "?")
    rule = _RULES.get(cls, "-")
    activation = entry.get("config", {}).get("activation")
    if cls in ("Conv1D", "Dense") and activation not in (None, "linear"):
        rule += f" + {'final only' if activation == 'softmax' else 'rescale'} ({activation})"
    elif cls == "Activation":
        rule = f"rescale ({activation})" if activation not in ("softmax", "linear") else _RULES["Softmax"]
    return rule


def describe(path: str | Path) -> ModelInfo:
    """Layer-by-layer verdicts from the file's config (nothing in the file is run)."""
    path = Path(path)
    config = read_config(path)
    from .model.keras_reader import known_lambdas, scan_config

    known = known_lambdas(config)
    layers = []
    for entry in config.get("config", {}).get("layers", []) if config.get("class_name") in MODEL_CLASSES else []:
        name = entry.get("name") or entry.get("config", {}).get("name", "?")
        inner = scan_config(entry) if entry.get("class_name") in MODEL_CLASSES else []
        problem = None if name in known else (_layer_problem(entry) or ("; ".join(inner) if inner else None))
        if name in known:
            verdict, rule = "substituted", "genolift logsumexp: exp (rescale), sum (linear), log (rescale)"
        elif entry.get("class_name") in MODEL_CLASSES:
            verdict, rule = ("refused: " + problem) if problem else "supported", "nested model, inlined"
        else:
            verdict = "refused: " + problem.split("(", 1)[1].rstrip(")") if problem else "supported"
            rule = "-" if problem else _rule(entry)
        layers.append(LayerInfo(name, entry.get("class_name", "?"), verdict, rule))
    return ModelInfo(path, file_sha256(path), _kind(path, config), layers, scan_config(config, known))


def parity(path: str | Path, n: int = 4, seed: int = 0) -> tuple[object, list[float]]:
    """genolift's graph and max |genolift − Keras| per output on n random one-hot sequences."""
    from .engine.network import Network
    from .model.keras_reader import load_keras, to_graph

    from .model.keras_reader import known_lambdas, read_config

    known = known_lambdas(read_config(path))
    model = load_keras(path, allow_known_lambdas=True)
    graph = to_graph(model, str(path), file_sha256(path), known)
    rng = np.random.default_rng(seed)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, graph.length))]
    extras = [rng.normal(size=(n, *shape)).astype(np.float32) for _, shape in graph.extra_inputs]
    feed = X if not extras else {name: value for name, value in zip(graph.inputs, [X, *extras])}
    want = model.predict(feed, verbose=0)
    if isinstance(want, dict):
        want = [want[name] for name in graph.output_names]
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    for name in known:  # Keras parsed the model without the Lambda: apply its documented function here
        i = graph.output_names.index(name)
        top = want[i].max(axis=-1, keepdims=True)
        want[i] = top + np.log(np.exp(want[i] - top).sum(axis=-1, keepdims=True))
    got = Network(graph).forward(X, extras=extras)
    return graph, [float(np.abs(np.asarray(g) - np.asarray(w)).max()) for g, w in zip(got, want)]
