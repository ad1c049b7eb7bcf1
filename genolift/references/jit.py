"""The numba decorator of the reference kernels (imported only when shuffling, with numba).

A kernel is compiled once and kept on disk in numba's own cache files, an
index and a data file per kernel, both pickles (reading a pickle can run code,
so the folder must be writable by its user only).  They live in
``numba/genolift-<version>-numba-<version>/`` of genolift's cache folder
(:func:`genolift._cache.cache_root`), a folder made writable by its owner only;
``NUMBA_CACHE_DIR``, where the user set it, chooses the folder instead.

The files are read defensively: an index or data file that cannot be read
(truncated, not a pickle) or does not hold what it is named for (another
signature) is ignored with one warning line naming it, the kernel compiled
again and the file replaced.  numba writes each file to a temporary name and
renames it, so a killed process never leaves half a file.  Where the folder
cannot be made, or other users can write to it, the kernels are compiled in
the process, never cached elsewhere (next to the installed sources, numba's
own fallback).
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numba
from numba.core import config, sigutils
from numba.core.caching import CompileResultCacheImpl, FunctionCache, IndexDataCacheFile, UserProvidedCacheLocator

from .. import __version__
from .._cache import cache_root, discard, ignore_entry, reason

log = logging.getLogger("genolift")

#: Folders already reported as unusable for the kernels' cache, each reported once.
_UNUSABLE: set = set()


def kernel(fn: Callable) -> Callable:
    """``numba.njit(nogil=True)`` with a checked disk cache: compiled once, run without the GIL."""
    dispatcher = numba.njit(nogil=True)(fn)
    folder = _folder()
    if folder is not None:
        with _cache_folder(folder):
            try:
                dispatcher._cache = _CheckedCache(dispatcher.py_func)
            except RuntimeError:  # "cannot cache function ...: no locator available"
                pass
    return dispatcher


def kernel_folder() -> Path:
    """genolift's folder of compiled kernels for this genolift and numba version."""
    return cache_root() / "numba" / f"genolift-{__version__}-numba-{numba.__version__}"


def _folder() -> str | None:
    """The folder of the kernels' cache files: ``NUMBA_CACHE_DIR`` where set, else :func:`kernel_folder`
    (made, writable by its owner only); None where that cannot be made or others can write to it."""
    if config.CACHE_DIR:
        return config.CACHE_DIR
    folder = kernel_folder()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as exc:
        _unusable(folder, f"cannot be made ({exc.strerror or reason(exc)})", logging.INFO)
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        _unusable(folder, "can be written by other users, and its files are pickles that run code when read "
                  "(make it writable by you only: chmod go-w)", logging.WARNING)
        return None
    return str(folder)


def _unusable(folder: Path, why: str, level: int) -> None:
    """Say once per folder that the kernels are compiled in this process only, and why."""
    if str(folder) not in _UNUSABLE:
        _UNUSABLE.add(str(folder))
        log.log(level, "shuffle kernels compiled in this process only: %s %s", folder, why)


@contextmanager
def _cache_folder(folder: str) -> Iterator[None]:
    """numba's ``CACHE_DIR`` is ``folder`` while a kernel's cache is made.

    numba picks a function's cache folder when the cache is made, so the
    setting is restored afterwards and other numba users are unaffected.
    """
    previous = config.CACHE_DIR
    config.CACHE_DIR = folder
    try:
        yield
    finally:
        config.CACHE_DIR = previous


class _InFolderOnly(CompileResultCacheImpl):
    """numba's cache of compile results, in ``CACHE_DIR`` only (no fallback beside the sources)."""

    _locator_classes = [UserProvidedCacheLocator]


class _CheckedCache(FunctionCache):
    """numba's per-kernel disk cache, whose files are checked when read and replaced when unusable."""

    _impl_class = _InFolderOnly

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = _CheckedFiles(self._cache_path, self._impl.filename_base,
                                         self._impl.locator.get_source_stamp())

    def load_overload(self, sig, target_context):
        """The cached compile result for ``sig``, or None (then numba compiles it and saves it here)."""
        index = self._cache_file.index_path
        try:
            result = super().load_overload(sig, target_context)
        except Exception as exc:  # a file numba could not rebuild a kernel from never fails a run
            ignore_entry(index, reason(exc), "compiling the kernel again and replacing it")
            return None
        if result is not None and not self._holds(result, sig):
            ignore_entry(index, "it holds another kernel", "compiling the kernel again and replacing it")
            return None
        return result

    def _holds(self, result, sig) -> bool:
        """Whether a compile result read from disk is this kernel's (its name, module and signature)."""
        name = (result.fndesc.qualname, result.fndesc.modname, tuple(result.signature.args))
        return name == (self._py_func.__qualname__, self._py_func.__module__,
                        tuple(sigutils.normalize_signature(sig)[0]))

    def save_overload(self, sig, data):
        """Save a compile result; a folder that cannot be written only means compiling again next time."""
        try:
            super().save_overload(sig, data)
        except Exception as exc:
            log.debug("shuffle kernels: %s not saved (%s)", self._cache_file.index_path, reason(exc))


class _CheckedFiles(IndexDataCacheFile):
    """numba's index and data files of one kernel, an unreadable one ignored, reported and removed."""

    @property
    def index_path(self) -> str:
        return self._index_path

    def _load_index(self):
        try:
            overloads = super()._load_index()
            if not isinstance(overloads, dict):
                raise TypeError(f"an index holds a dict, not {type(overloads).__name__}")
            return overloads
        except Exception as exc:
            self._drop(self._index_path, exc)
            return {}

    def _load_data(self, name):
        path = self._data_path(name)
        try:
            return super()._load_data(name)
        except OSError:
            raise  # a missing data file: numba compiles again
        except Exception as exc:
            self._drop(path, exc)
            raise OSError(f"{path}: unusable") from exc  # numba takes it for a missing file

    @staticmethod
    def _drop(path: str, exc: Exception) -> None:
        ignore_entry(path, reason(exc), "compiling the kernel again and replacing it")
        discard(Path(path))
