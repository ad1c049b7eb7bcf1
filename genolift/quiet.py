"""Start-up chatter of the array libraries kept off stderr.

TensorFlow's C++ runtime prints start-up notes (oneDNN, CUDA probing, a
"cuInit" error on machines without a GPU) straight to file descriptor 2, which
no environment variable silences any more; JAX and PyTorch print their own.
:func:`quiet_stderr` points fd 2 at a temporary file while a library imports
and lists its devices, and replays that text only if the block failed or
``replay`` was asked for (``genolift --debug``), so a pipeline's log and a
notebook's output hold genolift's own lines alone.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet_stderr(replay: bool = False, on_error: bool = True):
    """File descriptor 2 captured inside the block; replayed if ``replay``, or if the block fails and ``on_error``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's later info lines too
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if replay or (failed and on_error):
                capture.seek(0)
                sys.stderr.write(capture.read().decode(errors="replace"))
