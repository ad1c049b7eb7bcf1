"""Dinucleotide shuffle, drawn uniformly over all valid shuffles.

A sequence is an Eulerian path through the multigraph whose vertices are the
letters and which has one edge ``s[i] -> s[i+1]`` per adjacent pair.  A
shuffle is another Eulerian path from the same first to the same last letter,
so it keeps every dinucleotide count.  Following Altschul and Erickson with
Kandel et al.'s correction (as uShuffle), a shuffle is drawn *uniformly* over
all distinct such sequences:

1. draw the last-exit edges of the letters other than the last one as a
   spanning arborescence into the last letter, with probability proportional
   to the product of the multiplicities of its edges (with at most four
   letters there are at most 16 arborescences, so all are enumerated and one
   is drawn exactly, with no rejection; :mod:`.arborescences`);
2. order each letter's other out-edges uniformly at random;
3. walk from the first letter, leaving each letter by its edges in order
   (:mod:`.walk`, numba kernels that release the GIL).

This is uniform over labeled Eulerian paths, each distinct sequence being
the image of exactly ``prod(n_vw!)`` of them, hence uniform over sequences.
deeplift and tangermeme instead keep the input's own last-exit edges and so
reach only a subset of the valid shuffles.

N positions stay in place; each maximal ACGT segment between them is shuffled
on its own.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ReferencesError
from ..sequences import N_CODE, codes_to_one_hot
from .seeding import check_count, check_seed, region_generators, region_keys

#: Walk-bases (shuffles x positions) handled at once; bounds working memory.
_CHUNK_WALK_BASES = 1 << 23
#: Longest ACGT segment whose arborescence weights are safe in int64.
_MAX_SEGMENT = 6_000_000
#: Most rows whose uniforms are drawn before the walks run over them.
_UNIFORM_GROUP = 64
#: Bytes of uniforms drawn before the walks run over them (kept in cache).
_UNIFORM_BYTES = 1 << 20


def _checked_codes(X: np.ndarray) -> np.ndarray:
    """Letter codes (N, L) int8 of a batch X (N, L, 4) that must be one-hot (or all-zero rows)."""
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise ReferencesError(
            f"expected one-hot sequences of shape (N, L, 4) or (L, 4), got shape {X.shape}")
    codes = np.empty(X.shape[:2], dtype=np.int8)
    if not X.size:
        return codes
    if X.dtype.kind not in "biuf":
        raise ReferencesError(f"dinucleotide shuffling needs a real-valued one-hot array, got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    from .codes import one_hot_codes

    if not one_hot_codes(np.ascontiguousarray(X).reshape(-1, 4), codes.reshape(-1)):
        raise ReferencesError(
            "dinucleotide shuffling needs one-hot sequences (each row one 1, or all zeros for N)")
    return codes


def _checked_code_rows(codes: np.ndarray) -> np.ndarray:
    """Code rows (N, L) as C-contiguous int8; raises unless they are integers 0..4."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.dtype.kind not in "iu":
        raise ReferencesError(
            f"expected letter codes of shape (N, L) and an integer dtype, got shape {codes.shape} "
            f"and dtype {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() > N_CODE):
        raise ReferencesError(f"letter codes must lie in 0..{N_CODE} (A, C, G, T, N)")
    return np.ascontiguousarray(codes, dtype=np.int8)


def _shuffle_chunk(codes: np.ndarray, k: int, seed: int, keys: list[str], out: np.ndarray) -> None:
    """Shuffle a chunk of code rows (n, L) int8 into ``out`` (n, k, L) int8.

    Row i's random numbers come from its own generator, in this order: the
    arborescence draws of its segments (``integers``, shape (segments, k)),
    then the pool uniforms (``random``, shape (L - 1, k)).  Uniforms are
    drawn for a group of rows at a time and walked over while in cache.
    """
    from .arborescences import segment_taus
    from .walk import find_segments, walk_rows

    n, L = codes.shape
    if L >= 1 << 31:  # the walks pack slot offsets in 32 bits
        raise ReferencesError(f"cannot shuffle windows of {L:,} bases; use windows shorter than 2**31")
    first, counts, root = find_segments(codes)
    if len(counts) and counts.reshape(-1, 16).sum(axis=1).max() >= _MAX_SEGMENT:
        raise ReferencesError(
            f"an ACGT stretch is longer than {_MAX_SEGMENT:,} bases; use shorter windows to shuffle")
    tau = segment_taus(counts, root)
    draws = np.empty((len(counts), k), dtype=np.int64)
    group = max(1, min(_UNIFORM_GROUP, _UNIFORM_BYTES // ((L - 1) * k * 8)))
    U = np.empty((min(group, n), L - 1, k), dtype=np.float64)
    rngs = region_generators(seed, keys)
    for g0 in range(0, n, group):
        g1 = min(n, g0 + group)
        for i in range(g0, g1):
            rng = next(rngs)
            s0, s1 = first[i], first[i + 1]
            if s1 - s0 == 1:  # the same draws as the array bound below, at half the cost
                draws[s0] = rng.integers(0, tau[s0], size=k, dtype=np.int64)
            else:
                draws[s0:s1] = rng.integers(0, tau[s0:s1, None], size=(s1 - s0, k), dtype=np.int64)
            rng.random(out=U[i - g0])
        walk_rows(codes[g0:g1], first[g0:g1 + 1], counts, root, draws, U, out[g0:g1])


def shuffle_codes(codes: np.ndarray, k: int, seed: int = 0,
                  keys: Sequence[str] | None = None) -> np.ndarray:
    """Uniformly random dinucleotide-preserving shuffles of letter-code rows.

    The code-level form of :func:`dinucleotide_shuffle` (the same shuffles,
    byte for byte), for callers that hold codes and expand to one-hot later
    (:func:`genolift.sequences.codes_to_one_hot`).

    Parameters
    ----------
    codes : ndarray, shape (N, L), integer
        Letter codes, 0..3 for A, C, G, T and 4 (:data:`~genolift.sequences.N_CODE`) for N.
    k : int
        Number of shuffles per sequence (>= 1).
    seed : int, default 0
        Non-negative global seed.
    keys : sequence of str, optional
        One stable key per sequence; ``str(i)`` for row i when omitted.

    Returns
    -------
    ndarray, shape (N, k, L), int8 : letter codes of the shuffles (4 at N).
    """
    codes = _checked_code_rows(codes)
    k = check_count(k)
    seed = check_seed(seed)
    n, L = codes.shape
    keys = region_keys(keys, n)
    if L <= 2 or n == 0:
        return np.repeat(codes[:, None], k, axis=1)
    out = np.empty((n, k, L), dtype=np.int8)
    step = max(1, _CHUNK_WALK_BASES // (k * L))
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        _shuffle_chunk(codes[lo:hi], k, seed, keys[lo:hi], out[lo:hi])
    return out


def dinucleotide_shuffle(X: np.ndarray, k: int, seed: int = 0,
                         keys: Sequence[str] | None = None) -> np.ndarray:
    """Uniformly random dinucleotide-preserving shuffles of one-hot sequences.

    Parameters
    ----------
    X : ndarray, shape (N, L, 4) or (L, 4)
        One-hot sequences (A, C, G, T; all-zero rows are N).
    k : int
        Number of shuffles per sequence (>= 1).
    seed : int, default 0
        Non-negative global seed.
    keys : sequence of str, optional
        One stable key per sequence (e.g. ``"chr1:100-1100"``); ``str(i)``
        for row i when omitted.  The shuffles of row i depend only on
        ``(seed, keys[i], k)`` and row i.

    Returns
    -------
    ndarray, shape (N, k, L, 4) (or (k, L, 4) for 2-D input), float32
        Each shuffle has the input's dinucleotide counts, first and last
        base, and N positions; it is uniform over all such sequences (each
        ACGT segment between Ns being shuffled on its own).
    """
    X = np.asarray(X)
    single = X.ndim == 2
    codes = _checked_codes(X[None] if single else X)
    result = codes_to_one_hot(shuffle_codes(codes, k, seed, keys))
    return result[0] if single else result
