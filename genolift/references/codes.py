"""Letter codes of one-hot input, read and checked in one pass (numba kernels).

numba is imported with this module (through :mod:`.jit`), which
:mod:`.shuffle` imports only when it shuffles.
"""

from __future__ import annotations

import sys

import numpy as np

from .jit import kernel

# The 16 bytes of a float32 one-hot row read as two little-endian uint64 words: 1.0f is 0x3F800000.
_ONE_LO = np.uint64(0x3F800000)
_ONE_HI = np.uint64(0x3F800000 << 32)
_ZERO = np.uint64(0)


@kernel
def _float32_codes(words: np.ndarray, codes: np.ndarray) -> bool:
    """Codes of float32 one-hot rows compared bit for bit (no branches, so no mispredictions).

    Parameters
    ----------
    words : ndarray, shape (m, 2), uint64
        The rows' bytes: channels A, C in word 0 and G, T in word 1.
    codes : ndarray, shape (m,), int8
        Filled with 0..3 for A, C, G, T and 4 for N (meaningless where a row is neither).

    Returns
    -------
    bool : True when every row is exactly +1.0 once and +0.0 elsewhere, or all +0.0.
    """
    ok = True
    for i in range(words.shape[0]):
        lo, hi = words[i, 0], words[i, 1]
        lz, hz = lo == _ZERO, hi == _ZERO
        a, c = (lo == _ONE_LO) & hz, (lo == _ONE_HI) & hz
        g, t, n = lz & (hi == _ONE_LO), lz & (hi == _ONE_HI), lz & hz
        ok &= a | c | g | t | n
        codes[i] = np.int8(c) + np.int8(2) * np.int8(g) + np.int8(3) * np.int8(t) + np.int8(4) * np.int8(n)
    return ok


@kernel
def _exact_codes(X: np.ndarray, codes: np.ndarray) -> bool:
    """Codes of one-hot rows compared by value (so -0.0 counts as 0).

    Parameters
    ----------
    X : ndarray, shape (m, 4), float32 or float64
    codes : ndarray, shape (m,), int8
        Filled with 0..3 for A, C, G, T and 4 for N, up to the first row that is neither.

    Returns
    -------
    bool : True when every row holds one 1 and three 0s, or four 0s.
    """
    for i in range(X.shape[0]):
        c = 4
        for a in range(4):
            x = X[i, a]
            if x == 1 and c == 4:
                c = a
            elif x != 0:
                return False
        codes[i] = c
    return True


def one_hot_codes(X: np.ndarray, codes: np.ndarray) -> bool:
    """Letter codes of one-hot rows, if every row is one-hot.

    Parameters
    ----------
    X : ndarray, shape (m, 4), float32 or float64, C-contiguous
        Rows that must each hold exactly one 1 and three 0s (A, C, G, T),
        or four 0s (N).
    codes : ndarray, shape (m,), int8
        Filled with 0..3 for A, C, G, T and 4 for N.

    Returns
    -------
    bool : True when every row is one-hot or all zeros.
    """
    if X.dtype == np.float32 and sys.byteorder == "little" and _float32_codes(X.view(np.uint64), codes):
        return True
    return _exact_codes(X, codes)
