"""Import the engine's backend without its start-up chatter on stderr.

TensorFlow's C++ runtime prints start-up notes (oneDNN, CUDA probing) straight
to file descriptor 2, which no environment variable silences any more; JAX and
PyTorch print their own (no GPU found, CUDA versions).  The command line
imports the backend and lists its devices with fd 2 pointed at a temporary
file, and replays that text only if something failed or ``--debug`` was given,
so a pipeline's log holds genolift's lines alone.

TensorFlow is imported without Keras (:mod:`genolift.tf_import`); Keras, read
later, runs on the same backend (:func:`genolift.model.keras_reader.use_keras_backend`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet_stderr(replay: bool = False):
    """File descriptor 2 captured inside the block; replayed if the block fails or ``replay``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed or replay:
                capture.seek(0)
                sys.stderr.write(capture.read().decode(errors="replace"))


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
