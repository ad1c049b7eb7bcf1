"""Import TensorFlow without its start-up chatter on stderr.

TensorFlow's C++ runtime prints start-up notes (oneDNN, CUDA probing) straight
to file descriptor 2, which no environment variable silences any more.  The
command line imports TensorFlow and initialises its devices with fd 2 pointed
at a temporary file, and replays that text only if something failed or
``--debug`` was given, so a pipeline's log holds genolift's lines alone.

TensorFlow's import also imports Keras's optimizers eagerly (to register them
for SavedModel loading, which genolift never does), and with them all of
Keras and whatever Keras wraps (scikit-learn, where installed): about 2 of
the 5 seconds the import takes on a 2-core machine.  The command line keeps
that one import out while TensorFlow loads; Keras is imported as usual where
a model file is first read (a model read before is taken from the graph
cache without Keras).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


def import_tensorflow(replay: bool = False):
    """Import TensorFlow (and list its devices) with fd 2 captured."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            with _without(EAGER_KERAS):
                import tensorflow as tf

            tf.config.list_logical_devices()
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed or replay:
                capture.seek(0)
                sys.stderr.write(capture.read().decode(errors="replace"))
    return tf


#: The module TensorFlow's import loads eagerly and only tries (it carries on where it cannot be imported).
EAGER_KERAS = "keras.src.optimizers"


@contextlib.contextmanager
def _without(module: str):
    """Make ``import module`` fail inside the block, unless it is already imported; importable again after."""
    blocked = module not in sys.modules
    if blocked:
        sys.modules[module] = None  # the import system's "not importable" marker
    try:
        yield
    finally:
        if blocked and sys.modules.get(module, 0) is None:
            del sys.modules[module]
