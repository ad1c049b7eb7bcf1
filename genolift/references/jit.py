"""The numba decorator of the reference kernels (imported only when shuffling, with numba)."""

from __future__ import annotations

from typing import Callable

import numba


def kernel(fn: Callable) -> Callable:
    """``numba.njit(cache=True, nogil=True)``: compiled once, cached on disk, run without the GIL.

    Where numba finds no writable cache directory (neither next to the
    sources nor the user's cache; ``NUMBA_CACHE_DIR`` chooses one), the
    kernel is compiled in every process instead of failing.
    """
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)
