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
a JSON description and the weight arrays, read with ``allow_pickle=False``.
It states what it is (its key, :data:`FORMAT`, the genolift version that wrote
it) and carries the SHA-256 of its description and arrays; a record that
cannot be read (truncated, not a zip file) or does not match what it states is
ignored with one warning line naming it, the model file read again and the
record replaced.  Writing is atomic (a temporary file renamed into place); a
folder that cannot be written only means the next run reads the file again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from .. import __version__
from .._cache import cache_root, discard, ignore_entry, keras_version, reason, write_atomically
from .graph import Graph, Node

log = logging.getLogger("genolift")

#: Version of the record layout (2: the record states its key and version and carries its digest).
FORMAT = 2


class _Unstorable(Exception):
    """A parameter of a type the record cannot hold exactly (the graph is then not kept)."""


class _Mismatch(ValueError):
    """A record that is not what its name says (another key, format or version, or other bytes)."""


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


def _digest(text: bytes, arrays) -> str:
    """SHA-256 of a record's description and of every array's dtype, shape and bytes, in order."""
    digest = hashlib.sha256(text)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"\0{array.dtype.str}{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def store(key: str, graph: Graph) -> None:
    """Keep ``graph`` under ``key`` (quietly nothing when it cannot be stored or written)."""
    arrays: list = []
    try:
        nodes = [[n.name, n.op, _encode(n.inputs, arrays), _encode(n.params, arrays),
                  _encode(n.weights, arrays), n.layer] for n in graph.nodes]
        description = {"format": FORMAT, "key": key, "genolift": __version__,
                       "nodes": nodes, "inputs": graph.inputs, "outputs": graph.outputs,
                       "output_names": graph.output_names, "input_shape": _encode(graph.input_shape, arrays),
                       "output_shapes": _encode(graph.output_shapes, arrays),
                       "substituted": _encode(graph.substituted, arrays)}
        text = json.dumps({**description, "arrays": len(arrays)}).encode("utf-8")
    except (_Unstorable, TypeError, ValueError) as exc:
        log.debug("graph cache: %s not kept (%s)", graph.source, exc)
        return
    members = {"graph": np.frombuffer(text, dtype=np.uint8), **{f"a{i}": a for i, a in enumerate(arrays)},
               "digest": np.frombuffer(_digest(text, arrays).encode("ascii"), dtype=np.uint8)}
    try:
        write_atomically(_path(key), lambda handle: np.savez(handle, **members))
    except OSError as exc:
        log.debug("graph cache: %s cannot be written (%s)", _path(key).parent, exc)


def recall(key: str, source: str, sha256: str) -> Graph | None:
    """The graph kept under ``key``, its ``source`` and ``sha256`` set; None when there is none usable.

    A record that cannot be read or is not the one ``key`` names is ignored
    (one warning line naming it) and removed, so the caller reads the model
    file and stores the graph afresh.
    """
    path = _path(key)
    try:
        handle = open(path, "rb")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        ignore_entry(path, reason(exc), "reading the model file again")
        return None
    with handle:
        read = os.fstat(handle.fileno())
        try:
            return _read(handle, key, source, sha256)
        except Exception as exc:  # whatever the bytes are, a record never fails a run
            ignore_entry(path, reason(exc), "reading the model file again and replacing it")
    discard(path, read)
    return None


def _read(handle, key: str, source: str, sha256: str) -> Graph:
    """The graph of an open record, checked against what it states; raises on any mismatch."""
    with np.load(handle, allow_pickle=False) as members:
        text = members["graph"].tobytes()
        description = json.loads(text.decode("utf-8"))
        stated = (description.get("format"), description.get("key"), description.get("genolift"))
        if stated != (FORMAT, key, __version__):
            raise _Mismatch(f"format {stated[0]} of genolift {stated[2]}, key {str(stated[1])[:12]}..., "
                            f"not format {FORMAT} of genolift {__version__}, key {key[:12]}...")
        arrays = {f"a{i}": members[f"a{i}"] for i in range(int(description["arrays"]))}
        if members["digest"].tobytes().decode("ascii") != _digest(text, arrays.values()):
            raise _Mismatch("its SHA-256 does not match its contents")
        nodes = [Node(name, op, _decode(inputs, arrays), _decode(params, arrays), _decode(weights, arrays), layer)
                 for name, op, inputs, params, weights, layer in description["nodes"]]
        return Graph(nodes=nodes, inputs=description["inputs"], outputs=description["outputs"],
                     output_names=description["output_names"],
                     input_shape=_decode(description["input_shape"], arrays),
                     output_shapes=_decode(description["output_shapes"], arrays), source=source, sha256=sha256,
                     substituted=_decode(description["substituted"], arrays))
