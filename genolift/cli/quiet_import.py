"""Import the engine's backend without its start-up chatter on stderr (:mod:`genolift.quiet`).

The command line imports the backend and lists its devices with fd 2 captured,
and replays that text only if something failed or ``--debug`` was given, so a
pipeline's log holds genolift's lines alone.

TensorFlow is imported without Keras (:mod:`genolift.tf_import`); Keras, read
later, runs on the same backend (:func:`genolift.model.keras_reader.use_keras_backend`).
"""

from __future__ import annotations

import os
import sys

from ..quiet import quiet_stderr


def import_backend(name: str | None = None, replay: bool = False):
    """The backend module ``name`` (default ``KERAS_BACKEND``, else TensorFlow), imported with fd 2 captured.

    Keras, where a model file is read later, is set to the same backend.
    """
    from ..engine.backends import load, resolve
    from ..model.keras_reader import use_keras_backend

    name = resolve(name)
    use_keras_backend(name)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_stderr(replay):
        xp = load(name)
        xp.devices()
    return xp


def import_tensorflow(replay: bool = False):
    """Import TensorFlow (and list its devices) with fd 2 captured."""
    if sys.modules.get("tensorflow") is not None:
        return sys.modules["tensorflow"]
    import_backend("tensorflow", replay)
    return sys.modules["tensorflow"]
