"""The folder genolift keeps its caches in (compile choices, read model graphs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_root() -> Path:
    """``$GENOLIFT_CACHE_DIR``, else ``$XDG_CACHE_HOME/genolift``, else ``~/.cache/genolift``.

    Read from the environment on every call; without a home folder, a folder in
    the system's temporary folder named by the user id.
    """
    root = os.environ.get("GENOLIFT_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        base = base or Path.home() / ".cache"
    except RuntimeError:  # no home folder
        base = Path(tempfile.gettempdir()) / f"genolift-{os.getuid() if hasattr(os, 'getuid') else 0}"
    return Path(base) / "genolift"


def keras_version() -> str:
    """The installed Keras's version, read from its package metadata (without importing Keras: seconds)."""
    from importlib import metadata

    try:
        return metadata.version("keras")
    except metadata.PackageNotFoundError:
        return "unknown"
