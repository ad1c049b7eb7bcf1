"""Batch layout, row padding, aligned chunks and device resolution: one place for every runner.

A device batch holds S sequences × J references (pairs); a short last batch
uses a smaller traced shape; chunks of regions hold whole device batches.
"""

from __future__ import annotations

import numpy as np

from ..errors import DeviceError


def resolve_devices(spec) -> list[str] | None:
    """Device names from None, "all", "0,1", ["/GPU:0", "/CPU:0"]...; checked against TensorFlow's devices."""
    if spec is None:
        return None
    import tensorflow as tf

    logical = [d.name for d in tf.config.list_logical_devices()]
    if spec == "all":
        gpus = [name for name in logical if "GPU" in name]
        return gpus or [name for name in logical if "CPU" in name][:1]
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [f"/device:GPU:{item.strip()}" if str(item).strip().isdigit() else str(item).strip() for item in items]
    short = {name.replace("/device:", "/").upper(): name for name in logical}
    resolved = []
    for name in names:
        key = name.replace("/device:", "/").upper()
        if key not in short:
            raise DeviceError(f"--devices {spec!r}: device {name!r} is not available; TensorFlow sees "
                              f"{', '.join(logical)} (give GPU indices like 0,1, device names, or all)")
        resolved.append(short[key])
    return resolved


def batch_layout(batch_size: int, k: int) -> tuple[int, int]:
    """(S sequences, J references each) per device batch for K references per sequence."""
    j = min(k, batch_size)
    return max(1, batch_size // j), j


#: Fewest rows of a short batch (when the full batch has more): tiny batches cost little to pad.
MIN_BATCH_ROWS = 16


def batch_rows(m: int, full: int) -> int:
    """Rows of the batch that holds the last m < full rows.

    The smallest of full, ⌈full/4⌉, ⌈full/16⌉, … that holds m rows, and at
    least min(full, :data:`MIN_BATCH_ROWS`).  A short last batch (the end of
    a run, the few sequences with N under a GC background) then pads at most
    about three quarters of itself or a handful of rows, and each engine
    traces and compiles (about a second each on a CPU) few batch shapes.
    """
    rows = full
    while rows > MIN_BATCH_ROWS and -(-rows // 4) >= max(m, MIN_BATCH_ROWS):
        rows = -(-rows // 4)
    return rows


def aligned_chunk(chunk: int, batch_size: int, k: int) -> int:
    """Sequences per chunk rounded down to whole device batches (unchanged when below one batch).

    A chunk of n sequences fills ⌈n / S⌉ batches of S sequences (S from
    :func:`batch_layout`; S = batch size with one shared reference, k = 1), the
    last one padded: a chunk that is a multiple of S pads none.
    """
    s, _ = batch_layout(batch_size, k)
    return chunk if chunk < s else chunk // s * s


def pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] == rows:
        return a
    out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out

