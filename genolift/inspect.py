"""`genolift info`: what a model file holds and whether genolift can explain it.

Reads the config as data (so it also describes models genolift refuses),
then, when every layer is supported, converts the model and compares
genolift's forward pass with Keras's own on random one-hot sequences.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .model.config import keras_version, known_lambdas, read_config, saved_by_tf_keras2, scan_config
from .model.keras_reader import file_sha256
from .model.support import LOGSUMEXP, MODEL_CLASSES, layer_problem, rule_words


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


def _kind(path: Path) -> str:
    import h5py

    if not h5py.is_hdf5(path):
        return "Keras 3 .keras"
    version = keras_version(path) or "?"
    return f"{'tf.keras 2' if version.startswith('2.') else 'Keras 3'} HDF5 (keras_version {version})"


def _layer(entry: dict, known: dict, tf_keras2: bool) -> LayerInfo:
    """Verdict and rule of one top-level config entry."""
    cls = entry.get("registered_name") or entry.get("class_name", "?")  # the same for .keras and .h5
    name = entry.get("name") or entry.get("config", {}).get("name", "?")
    if name in known:
        return LayerInfo(name, cls, "substituted", LOGSUMEXP.words)
    if cls in MODEL_CLASSES:
        inner = scan_config(entry, tf_keras2=tf_keras2)
        return LayerInfo(name, cls, "refused: " + "; ".join(inner) if inner else "supported", "nested model, inlined")
    problem = layer_problem(entry, tf_keras2)
    if problem:
        return LayerInfo(name, cls, "refused: " + problem, "-")
    return LayerInfo(name, cls, "supported", rule_words(entry))


def describe(path: str | Path) -> ModelInfo:
    """Layer-by-layer verdicts from the file's config (nothing in the file is run)."""
    path = Path(path)
    config = read_config(path)
    known, tf_keras2 = known_lambdas(config), saved_by_tf_keras2(path)
    entries = config.get("config", {}).get("layers", []) if config.get("class_name") in MODEL_CLASSES else []
    layers = [_layer(entry, known, tf_keras2) for entry in entries]
    return ModelInfo(path, file_sha256(path), _kind(path), layers, scan_config(config, known, tf_keras2=tf_keras2))


class Parity(NamedTuple):
    """What :func:`parity` found: genolift's graph, max |genolift − Keras| per output, and the
    parameter counts Keras reports (``count_params()``), trainable and total."""

    graph: object
    diffs: list
    trainable: int
    total: int


def parity(path: str | Path, n: int = 4, seed: int = 0, xp=None) -> Parity:
    """genolift's graph and max |genolift − Keras| per output on n random one-hot sequences.

    ``xp``: the backend module genolift's forward pass runs on (default: the default backend).
    """
    from .engine.network import Network
    from .model.keras_reader import load_keras, to_graph

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
    network = Network(graph, xp=xp)
    got = [network.xp.to_numpy(g) for g in network.forward(X, extras=extras)]
    diffs = [float(np.abs(g - np.asarray(w)).max()) for g, w in zip(got, want)]
    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    return Parity(graph, diffs, trainable, int(model.count_params()))
