"""Seeds and argument checks of the reference builders: one random generator per region.

Every random draw of a region comes from a generator seeded by ``(seed, key)``
where the key names the region, so its references never depend on batch size,
sharding, resuming or the other regions.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from ..errors import ReferencesError


def check_seed(seed: int) -> int:
    """The global seed as an int; raises :class:`ReferencesError` unless it is an integer >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ReferencesError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def region_seed(seed: int, key: str) -> np.random.Generator:
    """A random generator seeded from a global seed and a stable region key.

    Parameters
    ----------
    seed : int
        Non-negative global seed (``--seed``).
    key : str
        Stable name of the region, e.g. ``"chr1:100-1100"``.

    Returns
    -------
    numpy.random.Generator
        Seeded with ``[seed, *words]`` where ``words`` are the eight 32-bit
        words of the SHA-256 of ``key`` (UTF-8); independent of Python's
        hash randomisation.
    """
    seed = check_seed(seed)
    if not isinstance(key, str):
        raise ReferencesError(f"region key must be a string, got {type(key).__name__}")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    words = np.frombuffer(digest, dtype="<u4").tolist()
    return np.random.default_rng([seed, *words])


def region_keys(keys: Sequence[str] | str | None, n: int) -> list[str]:
    """Region keys, one per sequence; ``str(i)`` for row i when none are given.

    Parameters
    ----------
    keys : sequence of str, str or None
        The keys given by the caller (a single string is one key).
    n : int
        Number of sequences.

    Returns
    -------
    list of str, length n
    """
    if keys is None:
        return [str(i) for i in range(n)]
    if isinstance(keys, str):
        keys = [keys]
    keys = list(keys)
    if len(keys) != n:
        raise ReferencesError(f"got {len(keys)} region keys for {n} sequences; pass one key per sequence")
    if not all(isinstance(key, str) for key in keys):
        raise ReferencesError("region keys must be strings such as 'chr1:100-1100'")
    return keys


def check_count(k: int) -> int:
    """The number of references per sequence as an int; raises unless it is an integer >= 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ReferencesError(f"the number of shuffles must be an integer >= 1, got {k!r}")
    return int(k)
