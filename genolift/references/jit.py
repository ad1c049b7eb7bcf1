"""The numba decorator of the reference kernels (imported only when shuffling, with numba)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import numba
from numba.core import config

from .._cache import cache_root


def kernel(fn: Callable) -> Callable:
    """``numba.njit(cache=True, nogil=True)``: compiled once, cached on disk, run without the GIL.

    The compiled code is kept in genolift's cache folder (``numba/`` under
    :func:`genolift._cache.cache_root`) rather than next to the installed
    sources, numba's default: files there are not the package's, so pip would
    leave them behind on uninstall and the left-over folder would shadow a
    later editable install.
    ``NUMBA_CACHE_DIR``, where the user set it, chooses the folder instead.
    Where that folder cannot be made, numba falls back to its own choices (next
    to the sources, then the user's cache); where none is writable the kernel
    is compiled in every process instead of failing.
    """
    with _cache_folder(str(cache_root() / "numba")):
        try:
            return numba.njit(cache=True, nogil=True)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(nogil=True)(fn)


@contextmanager
def _cache_folder(default: str) -> Iterator[None]:
    """numba's ``CACHE_DIR`` is ``default`` while kernels are made, unless the user set one.

    numba picks a function's cache folder when the function is decorated, so
    the setting is restored afterwards and other numba users are unaffected.
    """
    previous = config.CACHE_DIR
    config.CACHE_DIR = previous or default
    try:
        yield
    finally:
        config.CACHE_DIR = previous
