"""Occlusion: the change of the target when a window of the input is replaced, spread over the window.

Windows of ``width`` bases start at 0, ``stride``, 2·``stride``, … as long as
they fit (DeepExplain's occlusion).  Each is replaced by the same window of a
reference (the mean over K references is taken), or by zeros (``fill`` zero:
all-N, K = 1).  The score of a position is the mean, over the windows that
cover it, of t(x) − t(x with the window replaced); positions no window covers
score 0.  All forward passes run in device batches (:class:`~.forward.ForwardPass`).
"""

from __future__ import annotations

import numpy as np

from ..errors import MethodError
from .forward import ForwardPass, blend


def window_starts(length: int, width: int, stride: int) -> np.ndarray:
    """Start of every window of ``width`` bases, ``stride`` apart, inside a sequence of ``length``."""
    if width < 1 or stride < 1 or width > length:
        raise MethodError(f"--width {width} --stride {stride}: need 1 <= width <= {length} (the input length) "
                          "and stride >= 1")
    return np.arange(0, length - width + 1, stride)


def coverage(length: int, starts: np.ndarray, width: int) -> np.ndarray:
    """(W, L) bool: window w covers position l."""
    positions = np.arange(length)
    return (positions[None] >= starts[:, None]) & (positions[None] < starts[:, None] + width)


def occlusion(forward: ForwardPass, X: np.ndarray, R: np.ndarray, width: int, stride: int) -> list[tuple]:
    """Occlusion scores of X (n, L, 4) with windows filled from R (n, K, L, 4), per task.

    Returns per task (scores (n, L), predictions (n,)), in X's dtype.
    """
    n, k, length = R.shape[0], R.shape[1], X.shape[1]
    starts = window_starts(length, width, stride)
    covers = coverage(length, starts, width)  # (W, L)
    per_pair = len(starts)
    rows_of_x = n

    def build(a: int, b: int) -> np.ndarray:
        if b <= rows_of_x:
            return X[a:b]
        head = [X[a:rows_of_x]] if a < rows_of_x else []
        idx = np.arange(max(a, rows_of_x), b) - rows_of_x
        pair, window = idx // per_pair, idx % per_pair
        seq = pair // k
        return np.concatenate(head + [blend(X[seq], R[seq, pair % k], ~covers[window])])

    values = forward.stream(n + n * k * per_pair, build).astype(np.float64)  # (rows, T)
    t_x = values[:n]
    occluded = values[n:].reshape(n, k, per_pair, -1).mean(axis=1)  # (n, W, T)
    drop = t_x[:, None] - occluded
    counts = covers.sum(axis=0)  # (L,)
    scores = np.einsum("nwt,wl->tnl", drop, covers.astype(np.float64)) / np.maximum(counts, 1)
    return [(scores[t].astype(X.dtype), t_x[:, t].astype(X.dtype)) for t in range(values.shape[1])]
