"""Keras model files parsed by Keras, as data: the config scanned first, safe mode, nothing from the file run.

:func:`load_keras` reads the file's config (:mod:`.config`) and refuses a Lambda, a custom layer or a
custom activation, naming each, before Keras sees the file; Keras then parses it in safe mode and
without compiling.  A known Lambda (ChromBPNet's counts combiner) is removed from a copy of the config
first, and registered layers (CREsted's) are parsed by genolift's own stand-ins
(:mod:`.crested_layers`), so no code stored in a model file or another library is ever run.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from ..errors import ModelError, UnsupportedLayerError
from .config import known_lambdas as find_known_lambdas
from .config import read_config, renumber_nested_calls, saved_by_tf_keras2, scan_config, triples
from .crested_layers import alias_registered, registered_layers
from .support import CODE_WORDS, is_operation


def registered_functions() -> dict:
    """genolift's own implementations of activations other libraries register with Keras, by registered name.

    Keras needs them to parse a file that names them; genolift's graph uses its own
    ops for them (:data:`.support.ACTIVATIONS`).  Nothing from the file or the other
    library runs.
    """
    import keras

    def gelu_enf(x):
        return keras.ops.sigmoid(1.702 * x) * x

    def gelu_approx(x):
        return keras.activations.gelu(x, approximate=True)

    found = {}
    for name, fn in (("crested>gelu_enf", gelu_enf), ("crested>gelu_approx", gelu_approx)):
        fn.__name__ = fn.__qualname__ = name  # serialised back under the registered name
        found[name] = fn
    return found


def use_keras_backend(backend: str | None) -> None:
    """Let Keras run on ``backend`` (tensorflow, jax, torch) when it is imported later in the process.

    Keras picks its backend once, from ``KERAS_BACKEND``, when it is first
    imported; reading a file works on any of them (genolift takes the config
    and the weights as numpy).  Choosing the engine's backend means a run on
    JAX or PyTorch never imports TensorFlow.  Where Keras is imported already
    nothing changes.
    """
    import os
    import sys

    if backend and "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = backend


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
    known = find_known_lambdas(config) if allow_known_lambdas else {}
    problems = scan_config(config, known, tf_keras2=saved_by_tf_keras2(path))
    renumbered = renumber_nested_calls(config)
    if problems:
        code = any(words in p for p in problems for words in CODE_WORDS)
        advice = (" Lambda and custom layers are refused because reading them would run code "
                  "from the file; rebuild the model from built-in layers") if code else ""
        raise UnsupportedLayerError(
            f"{path}: genolift cannot read {len(problems)} layer(s): {'; '.join(problems)}.{advice}"
        )
    from ..quiet import quiet_stderr

    with quiet_stderr():  # Keras imports its backend (TensorFlow's start-up notes)
        import keras  # noqa: F401

    with quiet_stderr(on_error=False):  # building the model starts the backend's devices; errors say it below
        return _parsed(path, config, known, renumbered)


def _parsed(path, config: dict, known: dict, renumbered: bool):
    """The Keras model of ``path``, parsed in safe mode (see :func:`load_keras`)."""
    import keras

    custom = registered_functions()
    operations = _legacy_operations(config) if not zipfile.is_zipfile(path) else {}
    custom.update(operations)
    registered = registered_layers(config)
    custom.update(registered)
    try:  # a scope, not custom_objects=: it wins over classes another library registered in this process
        with keras.saving.custom_object_scope(custom):
            if known or renumbered or operations or registered:
                with tempfile.TemporaryDirectory() as tmp:
                    return keras.saving.load_model(_without_lambdas(path, config, known, Path(tmp)), compile=False,
                                                   safe_mode=True, custom_objects=custom)
            return keras.saving.load_model(str(path), compile=False, safe_mode=True, custom_objects=custom)
    except Exception as exc:  # Keras raises many types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: Keras could not read the model ({first})") from None


#: Prefix genolift gives operation nodes of a legacy ``.h5`` config so that Keras parses them as operations.
_OPERATION_ALIAS = "genolift>keras.ops."


def _legacy_operations(config: dict) -> dict:
    """{alias: Keras's own operation class} for the operation nodes of a legacy ``.h5`` config.

    Keras 3 writes ``keras.ops`` calls into ``.h5`` files without their module and cannot
    parse them back (``Multiply`` would even read as the layer); :func:`_without_lambdas`
    renames them to these aliases.
    """
    from keras.src.ops import nn
    from keras.src.ops import numpy as knp

    found = {}
    for entry in config.get("config", {}).get("layers", []):
        if is_operation(entry) and not entry.get("module"):
            cls = entry["class_name"]
            op = getattr(knp, cls, None) or getattr(nn, cls, None)
            if op is not None:
                found[_OPERATION_ALIAS + cls] = op
    return found


def _without_lambdas(path: Path, config: dict, known: dict, tmp: Path) -> str:
    """A copy of the model file whose config lacks the known Lambdas (their outputs become the
    Concatenates'), has nested-model calls renumbered for Keras 3, a legacy ``.h5``'s operation
    nodes renamed to their aliases (:func:`_legacy_operations`) and registered layers to genolift's
    stand-ins (:func:`.crested_layers.alias_registered`)."""
    import h5py

    patched = json.loads(json.dumps(config))
    alias_registered(patched)
    body = patched["config"]
    for entry in body["layers"]:
        if not zipfile.is_zipfile(path) and is_operation(entry) and not entry.get("module"):
            entry["class_name"] = _OPERATION_ALIAS + entry["class_name"]
    body["layers"] = [e for e in body["layers"] if (e.get("name") or e["config"].get("name")) not in known]
    outputs = body["output_layers"]
    nested = bool(outputs) and not isinstance(outputs[0], str)
    renamed = [[known.get(t[0], t[0]), t[1], t[2]] for t in triples(outputs)]
    body["output_layers"] = renamed if nested else renamed[0]
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
