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
   (:mod:`.walk`).

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
from .arborescences import arborescence_weights, draw_parents
from .seeding import check_count, check_seed, region_keys, region_seed
from .walk import Segments, block_layout, find_segments, place_last_exits, state_tables, walk

#: Walk-bases (shuffles x positions) handled at once; bounds working memory.
_CHUNK_WALK_BASES = 1 << 23
#: Longest ACGT segment whose arborescence weights are safe in int64.
_MAX_SEGMENT = 6_000_000
#: Rows whose uniforms are gathered before one blocked copy into the walk's column layout.
_UNIFORM_GROUP = 64


def _checked_codes(X: np.ndarray) -> np.ndarray:
    """Letter codes (N, L) int8 of a batch X (N, L, 4) that must be one-hot (or all-zero rows)."""
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise ReferencesError(
            f"expected one-hot sequences of shape (N, L, 4) or (L, 4), got shape {X.shape}")
    if not X.size:
        return np.zeros(X.shape[:2], dtype=np.int8)
    weights = np.array([[0, 1], [1, 1], [2, 1], [3, 1]], dtype=np.float32)
    with np.errstate(invalid="ignore"):
        value, total = np.moveaxis(X.astype(np.float32, copy=False) @ weights, -1, 0)
        codes = np.where(total == 0, N_CODE, np.clip(np.nan_to_num(value), 0, 3)).astype(np.int8)
    if not np.array_equal(codes_to_one_hot(codes), X):
        raise ReferencesError(
            "dinucleotide shuffling needs one-hot sequences (each row one 1, or all zeros for N)")
    return codes


def _random_inputs(seg: Segments, tau: np.ndarray, k: int, L: int, seed: int,
                   keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All random numbers of a chunk, each row's from its own generator.

    Parameters
    ----------
    seg : Segments
        The segments of the chunk's n rows.
    tau : ndarray, shape (S,), int64
        Number of labeled arborescences of each segment.
    k, L, seed : int
        Shuffles per sequence, length and global seed.
    keys : list of str, length n
        Region keys of the rows.

    Returns
    -------
    draws : ndarray, shape (S, k), int64 : uniform in [0, tau[s]) (arborescence picks).
    U : ndarray, shape (L - 1, n * k), float64 : uniforms in [0, 1) (pool picks).
    """
    n = len(keys)
    draws = np.empty((len(seg.row), k), dtype=np.int64)
    U = np.empty((L - 1, n * k), dtype=np.float64)
    first = np.concatenate([[0], np.cumsum(seg.per_row)[:-1]])
    for g0 in range(0, n, _UNIFORM_GROUP):
        g1 = min(n, g0 + _UNIFORM_GROUP)
        block = np.empty((g1 - g0, L - 1, k))
        for i in range(g0, g1):
            rng = region_seed(seed, keys[i])
            sl = slice(first[i], first[i] + seg.per_row[i])
            draws[sl] = rng.integers(0, tau[sl, None], size=(seg.per_row[i], k), dtype=np.int64)
            block[i - g0] = rng.random((L - 1, k))
        U[:, g0 * k:g1 * k] = block.transpose(1, 0, 2).reshape(L - 1, (g1 - g0) * k)
    return draws, U


def _shuffle_chunk(codes: np.ndarray, k: int, seed: int, keys: list[str]) -> np.ndarray:
    """Shuffle a chunk of code rows (n, L) int8; returns codes (n, k, L) int8."""
    n, L = codes.shape
    seg = find_segments(codes)
    if seg.counts.sum(axis=(1, 2)).max(initial=0) >= _MAX_SEGMENT:
        raise ReferencesError(
            f"an ACGT stretch is longer than {_MAX_SEGMENT:,} bases; use shorter windows to shuffle")
    weights = arborescence_weights(seg.counts, seg.root)
    draws, U = _random_inputs(seg, weights.sum(axis=1), k, L, seed, keys)
    parents = draw_parents(weights, draws)
    template, bstart = block_layout(seg, L, (codes < N_CODE).sum(axis=1))
    Wf = np.repeat(template, k, axis=0).ravel()
    place_last_exits(Wf, seg, bstart, parents, k, L + 1)
    is_n = codes == N_CODE
    states = (4 * seg.seg_of + codes).astype(Wf.dtype)
    out = walk(states, seg.starts | is_n, Wf, state_tables(seg, bstart, n, k, L), U, k)
    out = out.T.reshape(n, k, L)
    if is_n.any():
        out = np.where(is_n[:, None, :], N_CODE, out & 3)
    return out.astype(np.int8, copy=False)


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
    k = check_count(k)
    seed = check_seed(seed)
    n, L = codes.shape
    keys = region_keys(keys, n)
    if L <= 2 or n == 0:
        out = np.repeat(codes[:, None], k, axis=1)
    else:
        out = np.empty((n, k, L), dtype=np.int8)
        step = max(1, _CHUNK_WALK_BASES // (k * L))
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            out[lo:hi] = _shuffle_chunk(codes[lo:hi], k, seed, keys[lo:hi])
    result = codes_to_one_hot(out)
    return result[0] if single else result
