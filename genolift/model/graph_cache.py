"""Graphs read from model files, kept on disk so that a later run of the same file skips Keras.

Reading a model file imports Keras and lets it parse the file: seconds of a
run's start-up (importing Keras alone takes 2 s on a 2-core machine, more when
scikit-learn and matplotlib are installed, which Keras imports too).  The
result, a :class:`~genolift.model.graph.Graph`, is plain data, so the first
read writes it to ``<cache root>/graphs/<key>.npz`` and later reads of a file
with the same bytes load that instead.

The key is the SHA-256 of everything that decides the graph: the file's
SHA-256, the reader's options, :data:`FORMAT`, the genolift and Keras versions
and the source of the reader itself (every module of ``genolift/model``), so a
changed file, reader or Keras never meets an old graph.  A record is data only:
a JSON description and the weight arrays, read with ``allow_pickle=False``; an
unreadable or foreign record is ignored and the file read again.  Writing is
atomic (a temporary file renamed into place); a folder that cannot be written
only means the next run reads the file again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__
from .._cache import cache_root, keras_version
from .graph import Graph, Node

log = logging.getLogger("genolift")

#: Version of the record layout.
FORMAT = 1


class _Unstorable(Exception):
    """A parameter of a type the record cannot hold exactly (the graph is then not kept)."""


@functools.lru_cache(maxsize=1)
def _reader_digest() -> str:
    """SHA-256 of the reader's own source: every module of this package."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def graph_key(sha256: str, options: dict) -> str:
    """The record name of the graph of a file with digest ``sha256`` read with ``options``."""
    fields = {"format": FORMAT, "file": sha256, "options": options, "genolift": __version__,
              "keras": keras_version(), "reader": _reader_digest()}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _path(key: str) -> Path:
    return cache_root() / "graphs" / f"{key}.npz"


def _encode(value, arrays: list):
    """``value`` as JSON, tuples and arrays tagged (arrays appended to ``arrays``)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype != object:
        arrays.append(np.asarray(value))
        return {"array": len(arrays) - 1, "scalar": isinstance(value, np.generic)}
    raise _Unstorable(type(value).__name__)


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if isinstance(value, dict):
        if set(value) == {"tuple"}:
            return tuple(_decode(v, arrays) for v in value["tuple"])
        if set(value) == {"dict"}:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in value["dict"]}
        array = arrays[f"a{int(value['array'])}"]
        return array[()] if value["scalar"] else array
    return value


def store(key: str, graph: Graph) -> None:
    """Keep ``graph`` under ``key`` (quietly nothing when it cannot be stored or written)."""
    arrays: list = []
    try:
        nodes = [[n.name, n.op, _encode(n.inputs, arrays), _encode(n.params, arrays),
                  _encode(n.weights, arrays), n.layer] for n in graph.nodes]
        description = {"format": FORMAT, "nodes": nodes, "inputs": graph.inputs, "outputs": graph.outputs,
                       "output_names": graph.output_names, "input_shape": _encode(graph.input_shape, arrays),
                       "output_shapes": _encode(graph.output_shapes, arrays),
                       "substituted": _encode(graph.substituted, arrays)}
        text = json.dumps(description)
    except (_Unstorable, TypeError, ValueError) as exc:
        log.debug("graph cache: %s not kept (%s)", graph.source, exc)
        return
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".graph-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, graph=np.frombuffer(text.encode("utf-8"), dtype=np.uint8),
                         **{f"a{i}": a for i, a in enumerate(arrays)})
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        log.debug("graph cache: %s cannot be written (%s)", path.parent, exc)


def recall(key: str, source: str, sha256: str) -> Graph | None:
    """The graph kept under ``key``, its ``source`` and ``sha256`` set; None when there is none usable."""
    path = _path(key)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            description = json.loads(arrays["graph"].tobytes().decode("utf-8"))
            if description.get("format") != FORMAT:
                return None
            nodes = [Node(name, op, _decode(inputs, arrays), _decode(params, arrays), _decode(weights, arrays), layer)
                     for name, op, inputs, params, weights, layer in description["nodes"]]
            graph = Graph(nodes=nodes, inputs=description["inputs"], outputs=description["outputs"],
                          output_names=description["output_names"],
                          input_shape=_decode(description["input_shape"], arrays),
                          output_shapes=_decode(description["output_shapes"], arrays), source=source, sha256=sha256,
                          substituted=_decode(description["substituted"], arrays))
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        log.debug("graph cache: %s ignored (%s)", path, exc)
        return None
    return graph
