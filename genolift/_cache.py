"""The folder genolift keeps its caches in (compile choices, read model graphs, compiled kernels).

Every entry is written whole or not at all (:func:`write_atomically`) and read
defensively: one that cannot be read, or is not what its name says, is
ignored with one warning line (:func:`ignore_entry`), computed again and
replaced; a cache entry never fails a run.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


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


#: Cache entries already reported as ignored in this process (each is reported once).
_IGNORED: set = set()


def reason(exc: BaseException) -> str:
    """``Type: first line of the message`` of an exception, for one log line."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    first = first if len(first) <= 100 else first[:99] + "…"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def ignore_entry(path, why: str, instead: str) -> None:
    """Say once per process, in one warning line, that cache entry ``path`` is not used, why, and what happens instead.

    An entry that cannot be read, or that is not what its name says, never
    fails a run: it is ignored, the value computed again and the entry replaced.
    """
    if str(path) in _IGNORED:
        return
    _IGNORED.add(str(path))
    logging.getLogger("genolift").warning("cache entry %s ignored (%s); %s", path, why, instead)


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a cache entry whole or not at all: ``write`` fills a temporary file in the same folder,
    which is flushed to disk and renamed to ``path`` (a reader sees the old entry or the new one).

    Raises OSError where the folder cannot be written (the temporary file is then removed).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def discard(path: Path, read: os.stat_result | None = None) -> None:
    """Remove the unusable entry ``path`` (when ``read`` is given, only if it is still that file, not a
    replacement another process has written since); quietly nothing where it cannot be removed."""
    try:
        if read is not None:
            now = os.stat(path)
            if (now.st_ino, now.st_dev) != (read.st_ino, read.st_dev):
                return
        os.unlink(path)
    except OSError:
        pass
