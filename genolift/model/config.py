"""Keras model configs read as data: nothing stored in a model file is run here.

The config is read straight from the file (``config.json`` in a ``.keras``
zip, the ``model_config`` attribute of an ``.h5``) and scanned against the
support table: a Lambda layer, a custom layer or a custom activation refuses
the whole model with one message naming every such layer.  Lambdas in a
known place (ChromBPNet's log-count combiner) are recognised here and
substituted by the reader.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ..errors import ModelError
from .support import MODEL_CLASSES, layer_problem


def read_config(path: str | Path) -> dict:
    """The model config stored in a Keras file, parsed as JSON (nothing is run)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such model file; check the path")
    if path.is_dir():
        hint = " (a SavedModel folder: genolift reads .keras and .h5 files; in Keras, model.save('model.keras'))" \
            if (path / "saved_model.pb").exists() else ""
        raise ModelError(f"{path}: is a directory, not a model file; give the .keras or .h5 file{hint}")
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


def keras_version(path: str | Path) -> str | None:
    """The ``keras_version`` an HDF5 model file records, or None (a ``.keras`` file: Keras 3)."""
    import h5py

    if zipfile.is_zipfile(path) or not h5py.is_hdf5(path):
        return None
    with h5py.File(path, "r") as handle:
        version = handle.attrs.get("keras_version")
    return None if version is None else version.decode() if isinstance(version, bytes) else str(version)


def saved_by_tf_keras2(path: str | Path) -> bool:
    """Whether tf.keras 2 wrote the file (some activation names meant other functions there)."""
    return (keras_version(path) or "").startswith("2.")


#: Lambda layers recognised by their place in the graph and replaced by genolift's own ops.
KNOWN_LAMBDAS = {"logcount_predictions": "logsumexp of the Concatenate of two log-count heads (ChromBPNet)"}


def _inbound_names(entry: dict) -> list[str]:
    """Names of the layers feeding a config entry (Keras 2 or Keras 3 serialisation)."""
    return [ref[0] for ref in refs(entry.get("inbound_nodes", []))]


def known_lambdas(config: dict) -> dict[str, str]:
    """{Lambda name: Concatenate name} for Lambdas exactly where ChromBPNet puts its counts combiner.

    The Lambda must be named ``logcount_predictions``, be a model output, and be fed
    by a single Concatenate layer (whose two (N, 1) inputs are checked after parsing).
    """
    layers = {e.get("name") or e.get("config", {}).get("name"): e for e in config.get("config", {}).get("layers", [])}
    outputs = {t[0] for t in triples(config.get("config", {}).get("output_layers", []))}
    found = {}
    for name, entry in layers.items():
        if entry.get("class_name") != "Lambda" or name not in KNOWN_LAMBDAS or name not in outputs:
            continue
        feeds = _inbound_names(entry)
        if len(feeds) == 1 and layers.get(feeds[0], {}).get("class_name") == "Concatenate":
            found[name] = feeds[0]
    return found


def scan_config(config: dict, allowed: dict | None = None, prefix: str = "", tf_keras2: bool = False) -> list[str]:
    """Every layer of a model config (nested models included) that genolift refuses, in words.

    ``allowed`` are known Lambdas (see :func:`known_lambdas`) that are substituted, not refused;
    ``tf_keras2``: the file was saved by tf.keras 2 (see :func:`saved_by_tf_keras2`).
    Each problem reads ``'name' (why)``, the name prefixed by its nested models'.
    """
    layers = config.get("config", {}).get("layers", [])
    if config.get("class_name") not in MODEL_CLASSES:
        return [f"top-level object {config.get('class_name')!r} is not a Keras model"]
    problems = []
    for entry in layers:
        name = entry.get("name") or entry.get("config", {}).get("name", "?")
        if entry.get("class_name") in MODEL_CLASSES:
            problems += scan_config(entry, None, f"{prefix}{name}/", tf_keras2)
        elif not (allowed and name in allowed and not prefix):
            problem = layer_problem(entry, tf_keras2)
            problems += [f"{prefix}{name!r} ({problem})"] if problem else []
    return problems


def renumber_nested_calls(config: dict) -> bool:
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


def refs(obj) -> list[tuple[str, int, int]]:
    """Keras-history triples found, in order, in a serialised call's arguments."""
    found: list[tuple[str, int, int]] = []
    if isinstance(obj, dict):
        history = obj.get("config", {}).get("keras_history") if obj.get("class_name") == "__keras_tensor__" else None
        if history is not None:
            return [(history[0], int(history[1]), int(history[2]))]
        for value in obj.values():
            found += refs(value)
    elif isinstance(obj, (list, tuple)):
        if len(obj) >= 3 and isinstance(obj[0], str) and isinstance(obj[1], int) and isinstance(obj[2], int):
            return [(obj[0], obj[1], obj[2])]
        for value in obj:
            found += refs(value)
    return found


def triples(spec) -> list[tuple[str, int, int]]:
    """Normalise ``input_layers``/``output_layers`` to a list of triples."""
    if spec and isinstance(spec[0], str):
        spec = [spec]
    return [(s[0], int(s[1]), int(s[2])) for s in spec]
