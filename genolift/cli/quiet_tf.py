"""Import TensorFlow without its start-up chatter on stderr.

TensorFlow's C++ runtime prints start-up notes (oneDNN, CUDA probing) straight
to file descriptor 2, which no environment variable silences any more.  The
command line imports TensorFlow and initialises its devices with fd 2 pointed
at a temporary file, and replays that text only if something failed or
``--debug`` was given, so a pipeline's log holds genolift's lines alone.

TensorFlow is imported without Keras (:mod:`genolift.tf_import`).
"""

from __future__ import annotations

import os
import sys
import tempfile

from ..tf_import import lean_tensorflow


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
            tf = lean_tensorflow()
            tf.config.list_logical_devices()
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed or replay:
                capture.seek(0)
                sys.stderr.write(capture.read().decode(errors="replace"))
    return tf
