"""TensorFlow imported without the import of Keras it makes on the way.

TensorFlow's import also imports Keras's optimizers eagerly (to register them
for SavedModel loading, which genolift never does), and with them all of
Keras and whatever Keras wraps (scikit-learn, where installed): about 2 of
the 5 seconds the import takes on a 2-core machine.  TensorFlow only tries
that import (it carries on where the module cannot be imported), so
:func:`lean_tensorflow` marks the module not importable while TensorFlow
loads, and importable again after: Keras is then imported as usual where a
model file is first read (a model read before comes from the graph cache
without Keras).  Where Keras was imported already, nothing changes.
"""

from __future__ import annotations

import contextlib
import sys

#: The module TensorFlow's import loads eagerly and only tries.
EAGER_KERAS = "keras.src.optimizers"


@contextlib.contextmanager
def without(module: str):
    """Make ``import module`` fail inside the block, unless it is imported already; importable again after."""
    blocked = module not in sys.modules
    if blocked:
        sys.modules[module] = None  # the import system's "not importable" marker
    try:
        yield
    finally:
        if blocked and sys.modules.get(module, 0) is None:
            del sys.modules[module]


def lean_tensorflow():
    """The ``tensorflow`` module, imported without Keras if this is its first import."""
    if sys.modules.get("tensorflow") is None:  # not imported yet (or marked not importable: raises ImportError)
        with without(EAGER_KERAS):
            import tensorflow  # noqa: F401
    return sys.modules["tensorflow"]
