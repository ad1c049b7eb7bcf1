"""Seeds and argument checks of the reference builders: one random generator per region.

Every random draw of a region comes from a generator seeded by ``(seed, key)``
where the key names the region, so its references never depend on batch size,
sharding, resuming or the other regions.
"""

from __future__ import annotations

import hashlib
from typing import Iterator, Sequence

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
        hash randomisation.  The shuffles draw the same streams through
        :func:`region_generators`.
    """
    seed = check_seed(seed)
    if not isinstance(key, str):
        raise ReferencesError(f"region key must be a string, got {type(key).__name__}")
    words = np.frombuffer(hashlib.sha256(key.encode("utf-8")).digest(), dtype="<u4").tolist()
    return np.random.default_rng([seed, *words])


def region_generators(seed: int, keys: Sequence[str]) -> Iterator[np.random.Generator]:
    """Generators with the streams of :func:`region_seed` for each key in turn, without re-checking the arguments.

    One generator object is re-seeded in place for each key from the state
    :func:`region_states` computes (setting a state costs an eighth of
    building a generator), so each yielded value is valid only until the
    next one is requested.

    Parameters
    ----------
    seed : int
        A checked global seed (:func:`check_seed`).
    keys : sequence of str, length n
        Region keys.

    Yields
    ------
    numpy.random.Generator, the same object n times, seeded for each key in turn.
    """
    rng = np.random.Generator(np.random.PCG64(0))
    for state in region_states(seed, keys):
        rng.bit_generator.state = state
        yield rng


def seed_words(seed: int) -> np.ndarray:
    """The 32-bit words, least significant first, that numpy's SeedSequence reads from an int.

    Returns
    -------
    ndarray, shape (W,), uint32 : ``[0]`` for 0, else ``ceil(bits / 32)`` words.
    """
    words = [0] if seed == 0 else []
    while seed:
        words.append(seed & 0xFFFFFFFF)
        seed >>= 32
    return np.array(words, dtype=np.uint32)


# numpy.random.SeedSequence's hash constants; tests/test_shuffle.py checks these streams against numpy's own.
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
#: PCG64's 128-bit LCG multiplier.
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341
_MASK128 = (1 << 128) - 1


def _pools(entropy: np.ndarray) -> np.ndarray:
    """The pools of ``SeedSequence(entropy[i])`` for every row at once (mix_entropy).

    Parameters
    ----------
    entropy : ndarray, shape (n, m), uint32, m >= 4

    Returns
    -------
    ndarray, shape (n, 4), uint32
    """
    hc = [np.uint32(_INIT_A)]

    def hashmix(value):
        value = value ^ hc[0]
        hc[0] = hc[0] * np.uint32(_MULT_A)
        value = value * hc[0]
        return value ^ (value >> np.uint32(16))

    def mix(x, y):
        r = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
        return r ^ (r >> np.uint32(16))

    with np.errstate(over="ignore"):
        pool = [hashmix(entropy[:, i]) for i in range(_POOL)]
        for i_src in range(_POOL):
            for i_dst in range(_POOL):
                if i_src != i_dst:
                    pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src]))
        for i_src in range(_POOL, entropy.shape[1]):
            for i_dst in range(_POOL):
                pool[i_dst] = mix(pool[i_dst], hashmix(entropy[:, i_src]))
    return np.stack(pool, axis=1)


def _pcg64_words(pools: np.ndarray) -> np.ndarray:
    """``SeedSequence.generate_state(4, np.uint64)`` for every pool (n, 4) uint32.

    Returns
    -------
    ndarray, shape (n, 4), uint64 : the high and low words of PCG64's seed, then of its increment.
    """
    hc = np.uint32(_INIT_B)
    words = np.empty((len(pools), 8), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(8):
            value = pools[:, i % _POOL] ^ hc
            hc = hc * np.uint32(_MULT_B)
            value = value * hc
            words[:, i] = value ^ (value >> np.uint32(16))
    return words[:, 0::2] | (words[:, 1::2] << np.uint64(32))


def region_states(seed: int, keys: Sequence[str]) -> list[dict]:
    """PCG64 states of the generators of :func:`region_seed`, for many keys at once.

    Reproduces ``PCG64(SeedSequence([seed, *words]))``: the SeedSequence pool
    and state words vectorised over the keys, then PCG64's seeding step.

    Parameters
    ----------
    seed : int
        A checked global seed.
    keys : sequence of str, length n

    Returns
    -------
    list of dict, length n : values for ``PCG64().state``.
    """
    head = seed_words(seed)
    entropy = np.empty((len(keys), len(head) + 8), dtype=np.uint32)
    entropy[:, :len(head)] = head
    for i, key in enumerate(keys):
        entropy[i, len(head):] = np.frombuffer(hashlib.sha256(key.encode("utf-8")).digest(), dtype="<u4")
    states = []
    for w in _pcg64_words(_pools(entropy)).tolist():
        inc = ((((w[2] << 64) | w[3]) << 1) | 1) & _MASK128
        # PCG64's srandom: state 0, one step (state = inc), add the seed, one more step
        state = ((inc + ((w[0] << 64) | w[1])) * _PCG_MULT + inc) & _MASK128
        states.append({"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                       "has_uint32": 0, "uinteger": 0})
    return states


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
