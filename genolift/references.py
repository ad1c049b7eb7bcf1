"""References for DeepLIFT: dinucleotide shuffles and a uniform GC background.

One-hot arrays are float32, channels last, in the order A, C, G, T; a row of
all zeros stands for N (or any other non-ACGT base).  This module is pure
numpy and holds no state: every random draw comes from a generator seeded by
``(seed, key)`` where the key names one region, so the references of a region
never depend on batch size, sharding, resuming or the other regions.

Dinucleotide shuffle
--------------------
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
   is drawn exactly, with no rejection);
2. order each letter's other out-edges uniformly at random;
3. walk from the first letter, leaving each letter by its edges in order.

This is uniform over labeled Eulerian paths, each distinct sequence being
the image of exactly ``prod(n_vw!)`` of them, hence uniform over sequences.
deeplift and tangermeme instead keep the input's own last-exit edges and so
reach only a subset of the valid shuffles.

N positions stay in place; each maximal ACGT segment between them is shuffled
on its own.
"""

from __future__ import annotations

import hashlib
import math
from typing import NamedTuple, Sequence

import numpy as np

from .errors import ReferencesError

__all__ = [
    "region_seed",
    "one_hot_to_codes",
    "codes_to_one_hot",
    "dinucleotide_shuffle",
    "count_dinucleotide_shuffles",
    "degenerate_rows",
    "gc_background",
    "gc_fraction",
]

ALPHABET = "ACGT"
#: Walk-bases (shuffles x positions) handled at once; bounds working memory.
_CHUNK_WALK_BASES = 1 << 23
#: Longest ACGT segment whose arborescence weights are safe in int64.
_MAX_SEGMENT = 6_000_000
_EYE5 = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])


def _forest_table() -> np.ndarray:
    """All maps f: {0..3} -> {0..3} whose only cycles are fixed points.

    Returns
    -------
    ndarray, shape (125, 4), intp : row f gives the parent of each letter
    (a letter that is its own parent has none).  Every spanning
    arborescence over a subset of letters is one such row.
    """
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 4, indexing="ij"), -1).reshape(-1, 4)
    rows = np.arange(len(grid))[:, None]
    f4 = grid
    for _ in range(2):  # f^4 = (f^2)^2
        f4 = f4[rows, f4]
    acyclic = np.all(grid[rows, f4] == f4, axis=1)  # f^4 lands on fixed points
    return grid[acyclic].astype(np.intp)


_FORESTS = _forest_table()
_FORESTS.setflags(write=False)
# f^4 of each forest: where each letter ends when following parents.
_FOREST_ROOTS = _FORESTS[np.arange(len(_FORESTS))[:, None], _FORESTS]
_FOREST_ROOTS = _FOREST_ROOTS[np.arange(len(_FORESTS))[:, None], _FOREST_ROOTS]
_FOREST_ROOTS.setflags(write=False)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ReferencesError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(key, str):
        raise ReferencesError(f"region key must be a string, got {type(key).__name__}")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    words = np.frombuffer(digest, dtype="<u4").tolist()
    return np.random.default_rng([int(seed), *words])


def one_hot_to_codes(X: np.ndarray) -> np.ndarray:
    """Letter codes of one-hot sequences.

    Parameters
    ----------
    X : ndarray, shape (..., L, 4)
        One-hot, channels A, C, G, T; all-zero rows are N.

    Returns
    -------
    ndarray, shape (..., L), int8 : 0..3 for A, C, G, T and 4 for N.
    """
    X = np.asarray(X)
    if X.ndim < 1 or X.shape[-1] != 4:
        raise ReferencesError(f"one-hot sequences need 4 channels (A,C,G,T) last, got shape {X.shape}")
    codes = np.argmax(X, axis=-1).astype(np.int8)
    codes[~np.any(X > 0, axis=-1)] = 4
    return codes


def codes_to_one_hot(codes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`one_hot_to_codes`: (..., L) int codes -> (..., L, 4) float32."""
    return np.take(_EYE5, np.asarray(codes), axis=0)


def _decode(codes: np.ndarray) -> str:
    """(L,) codes 0..4 -> string over ACGTN."""
    return "".join((ALPHABET + "N")[c] for c in np.asarray(codes, np.intp).tolist())


def _checked_codes(X: np.ndarray) -> np.ndarray:
    """Codes (N, L) int8 of a batch X (N, L, 4) that must be one-hot (or all-zero rows)."""
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise ReferencesError(
            f"expected one-hot sequences of shape (N, L, 4) or (L, 4), got shape {X.shape}")
    if not X.size:
        return np.zeros(X.shape[:2], dtype=np.int8)
    weights = np.array([[0, 1], [1, 1], [2, 1], [3, 1]], dtype=np.float32)
    with np.errstate(invalid="ignore"):
        value, total = np.moveaxis(X.astype(np.float32, copy=False) @ weights, -1, 0)
        codes = np.where(total == 0, 4, np.clip(np.nan_to_num(value), 0, 3)).astype(np.int8)
    if not np.array_equal(np.take(_EYE5, codes, axis=0), X):
        raise ReferencesError(
            "dinucleotide shuffling needs one-hot sequences (each row one 1, or all zeros for N)")
    return codes


def _check_keys(keys: Sequence[str] | None, n: int) -> list[str]:
    """Region keys, one per sequence; ``str(i)`` when none are given."""
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


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ReferencesError(f"the number of shuffles must be an integer >= 1, got {k!r}")
    return int(k)


# --------------------------------------------------------------------------
# Dinucleotide shuffle
# --------------------------------------------------------------------------


class _Segments(NamedTuple):
    """Maximal ACGT segments of a batch of code rows (S segments in all)."""

    row: np.ndarray      # (S,) intp, row of each segment
    local: np.ndarray    # (S,) intp, index of the segment within its row
    counts: np.ndarray   # (S, 4, 4) int64, dinucleotide counts n[v, w]
    root: np.ndarray     # (S,) intp, last letter of the segment
    seg_of: np.ndarray   # (n, L) intp, local segment index at each position (0 at N)
    starts: np.ndarray   # (n, L) bool, first position of a segment
    per_row: np.ndarray  # (n,) intp, number of segments per row


def _segments(codes: np.ndarray) -> _Segments:
    """Find the ACGT segments of ``codes`` (n, L) int8 and count their dinucleotides."""
    n, L = codes.shape
    valid = codes < 4
    prev = np.zeros_like(valid)
    prev[:, 1:] = valid[:, :-1]
    nxt = np.zeros_like(valid)
    nxt[:, :-1] = valid[:, 1:]
    starts = valid & ~prev
    row, _ = np.nonzero(starts)
    end_row, end_col = np.nonzero(valid & ~nxt)
    per_row = starts.sum(axis=1)
    first = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.intp)
    gid = np.cumsum(starts.ravel()).reshape(n, L) - 1
    seg_of = np.where(valid, gid - first[:, None], 0).astype(np.intp)
    S = len(row)
    edge = valid[:, :-1] & valid[:, 1:]
    flat = gid[:, :-1][edge] * 16 + codes[:, :-1][edge].astype(np.intp) * 4 + codes[:, 1:][edge]
    counts = np.bincount(flat, minlength=16 * S).reshape(S, 4, 4).astype(np.int64)
    local = np.arange(S) - first[row]
    root = codes[end_row, end_col].astype(np.intp)
    return _Segments(row, local, counts, root, seg_of, starts, per_row)


def _arborescence_weights(counts: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Weight of every candidate last-exit arborescence of every segment.

    Parameters
    ----------
    counts : ndarray, shape (S, 4, 4), int64
        Dinucleotide counts per segment.
    root : ndarray, shape (S,), intp
        Last letter of each segment.

    Returns
    -------
    ndarray, shape (S, F), int64
        For each row f of the forest table, the number of labeled spanning
        arborescences into the root that use the parents ``f`` (product of
        edge multiplicities), 0 when ``f`` is not an arborescence of the
        segment.  Rows sum to tau, the matrix-tree count (>= 1).
    """
    d = counts.sum(axis=2)
    letters = np.arange(4)
    inner = (d > 0) & (letters[None, :] != root[:, None])           # (S, 4) need a parent
    F, ends = _FORESTS[None], _FOREST_ROOTS[None]
    own = F == letters                                               # (1, F, 4)
    ok = np.where(inner[:, None, :], ~own & (ends == root[:, None, None]), own)
    mult = counts[:, letters, _FORESTS]                              # (S, F, 4) n[v, f(v)]
    mult = np.where(inner[:, None, :], mult, 1)
    return np.where(ok.all(axis=2), mult.prod(axis=2), 0)


def _draw_parents(weights: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Exact categorical draw of arborescences.

    Parameters
    ----------
    weights : ndarray, shape (S, F), int64
    draws : ndarray, shape (S, k), int64
        Uniform integers in ``[0, weights[s].sum())``.

    Returns
    -------
    ndarray, shape (S, k, 4), intp : parent letter of each letter per shuffle.
    """
    cum = np.cumsum(weights, axis=1)
    choice = np.zeros(draws.shape, dtype=np.intp)
    for f in range(cum.shape[1]):
        choice += cum[:, f, None] <= draws
    return _FORESTS[choice]


def _state_dtype(seg: _Segments) -> type:
    """Smallest integer dtype holding the state codes ``4 * segment + letter``."""
    top = 4 * int(seg.per_row.max(initial=1)) + 4
    return np.int8 if top <= 127 else np.int16 if top <= 32767 else np.int32


def _block_layout(seg: _Segments, L: int, nvalid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each (segment, letter) out-edge block lies in a walk's row.

    Within a row, segments follow one another and each holds one block per
    letter: the root's block is a dummy slot then its out-edge targets, any
    other letter's block is its targets (slot 0 becomes its last exit).
    Targets are stored as state codes ``4 * segment + letter``, ascending.

    Returns
    -------
    template : ndarray, shape (n, L + 1), integer : the targets laid out per row.
    bstart : ndarray, shape (S, 4), intp : offset of each block in its row.
    """
    S = len(seg.row)
    is_root = np.arange(4)[None, :] == seg.root[:, None]
    size = seg.counts.sum(axis=2) + is_root
    gstart = (np.cumsum(size.ravel()) - size.ravel()).reshape(S, 4)
    row_start = np.concatenate([[0], np.cumsum(nvalid)[:-1]])
    bstart = (gstart - row_start[seg.row][:, None]).astype(np.intp)
    reps = np.concatenate([is_root[:, :, None], seg.counts], axis=2).ravel()
    values = np.array([0, 0, 1, 2, 3])[None, None, :] + 4 * seg.local[:, None, None]
    values = np.broadcast_to(values, (S, 4, 5)).ravel()
    template = np.zeros((len(nvalid), L + 1), dtype=_state_dtype(seg))
    template[np.arange(L + 1)[None, :] < nvalid[:, None]] = np.repeat(values, reps)
    return template, bstart


def _place_last_exits(Wf: np.ndarray, seg: _Segments, bstart: np.ndarray,
                      parents: np.ndarray, k: int, width: int) -> None:
    """Move each non-root letter's last-exit target to slot 0 of its block, per walk.

    ``Wf`` is the flat (n * k * width,) array of walk rows; swaps slot 0
    with the first occurrence of the parent letter, in place.
    """
    s, v = np.nonzero((seg.counts.sum(axis=2) > 0) & (np.arange(4)[None, :] != seg.root[:, None]))
    if len(s) == 0:
        return
    p = parents[s, :, v]                                              # (E, k)
    offs = np.cumsum(seg.counts, axis=2) - seg.counts                 # (S, 4, 4)
    walk = seg.row[s][:, None] * k + np.arange(k)[None, :]
    a = walk * width + bstart[s, v][:, None]
    b = a + offs[s[:, None], v[:, None], p]
    Wf[b] = Wf[a]
    Wf[a] = p + 4 * seg.local[s][:, None]


def _state_tables(seg: _Segments, bstart: np.ndarray, n: int, k: int, L: int):
    """Per-walk state tables: block start and top of pool for each (segment, letter).

    Returns ``(start, top, base, trash)``; ``start`` and ``top`` are flat
    intp arrays indexed by ``base[w] + 4 * segment + letter``; ``trash`` is a
    spare state per walk used at positions that are not drawn.
    """
    nstates = 4 * int(seg.per_row.max(initial=0)) + 1
    d = seg.counts.sum(axis=2)
    is_root = np.arange(4)[None, :] == seg.root[:, None]
    fill = np.where(is_root, d, np.maximum(d - 1, 0))
    start = np.full((n, nstates), L, dtype=np.intp)
    top = np.full((n, nstates), L, dtype=np.intp)
    cols = 4 * seg.local[:, None] + np.arange(4)[None, :]
    start[seg.row[:, None], cols] = bstart
    top[seg.row[:, None], cols] = bstart + fill
    offset = (np.arange(n * k, dtype=np.intp) * (L + 1))[:, None]
    start = (np.repeat(start, k, axis=0) + offset).ravel()
    top = (np.repeat(top, k, axis=0) + offset).ravel()
    base = np.arange(n * k, dtype=np.intp) * nstates
    return start, top, base, base + nstates - 1


def _walk(states: np.ndarray, fixed: np.ndarray, Wf: np.ndarray, tables, U: np.ndarray,
          k: int) -> np.ndarray:
    """Run all walks in parallel, one position at a time.

    At each step a walk in state (segment, letter v) takes a uniformly chosen
    target from v's remaining pool (an on-the-fly Fisher-Yates shuffle of
    v's out-edges), and its last-exit target once the pool is empty.
    Positions in ``fixed`` (segment starts, Ns) copy ``states`` instead.

    Parameters
    ----------
    states : ndarray, shape (n, L) : state code ``4 * segment + letter`` of the input.
    fixed : ndarray, shape (n, L), bool : positions that are not drawn.

    Returns
    -------
    ndarray, shape (L, n * k) : state codes of the shuffles, walk-major columns.
    """
    start, top, base, trash = tables
    n, L = states.shape
    out = np.empty((L, n * k), dtype=Wf.dtype)
    any_fixed = fixed.any(axis=0)
    if any_fixed[1:].any():
        fixed_w = np.repeat(fixed, k, axis=0).T
        state_w = np.repeat(states, k, axis=0).T
    cur = out[0] = np.repeat(states[:, 0], k)
    trash_start = start[trash]
    for t in range(1, L):
        idx = base + cur
        if any_fixed[t]:
            idx = np.where(fixed_w[t], trash, idx)
        tp = top[idx]
        pos = tp - (U[t - 1] * (tp - start[idx])).astype(np.intp)
        cur = Wf[pos]
        Wf[pos] = Wf[tp]
        top[idx] = tp - 1
        if any_fixed[t]:
            cur = np.where(fixed_w[t], state_w[t], cur)
            top[trash] = trash_start
        out[t] = cur
    return out


def _random_inputs(seg: _Segments, tau: np.ndarray, k: int, L: int, seed: int,
                   keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All random numbers of a chunk, each row's from its own generator.

    Returns
    -------
    draws : ndarray, shape (S, k), int64 : uniform in [0, tau[s]) (arborescence picks).
    U : ndarray, shape (L - 1, n * k), float64 : uniforms in [0, 1) (pool picks).
    """
    n = len(keys)
    draws = np.empty((len(seg.row), k), dtype=np.int64)
    U = np.empty((L - 1, n * k), dtype=np.float64)
    first = np.concatenate([[0], np.cumsum(seg.per_row)[:-1]])
    group = 64  # rows whose uniforms are gathered before one blocked copy into U's column layout
    for g0 in range(0, n, group):
        g1 = min(n, g0 + group)
        block = np.empty((g1 - g0, L - 1, k))
        for i in range(g0, g1):
            rng = region_seed(seed, keys[i])
            sl = slice(first[i], first[i] + seg.per_row[i])
            draws[sl] = rng.integers(0, tau[sl, None], size=(seg.per_row[i], k), dtype=np.int64)
            block[i - g0] = rng.random((L - 1, k))
        U[:, g0 * k:g1 * k] = block.transpose(1, 0, 2).reshape(L - 1, (g1 - g0) * k)
    return draws, U


def _shuffle_chunk(codes: np.ndarray, k: int, seed: int, keys: list[str]) -> np.ndarray:
    """Shuffle a chunk of code rows (n, L); returns codes (n, k, L) int8."""
    n, L = codes.shape
    seg = _segments(codes)
    if seg.counts.sum(axis=(1, 2)).max(initial=0) >= _MAX_SEGMENT:
        raise ReferencesError(
            f"an ACGT stretch is longer than {_MAX_SEGMENT:,} bases; use shorter windows to shuffle")
    weights = _arborescence_weights(seg.counts, seg.root)
    draws, U = _random_inputs(seg, weights.sum(axis=1), k, L, seed, keys)
    parents = _draw_parents(weights, draws)
    template, bstart = _block_layout(seg, L, (codes < 4).sum(axis=1))
    Wf = np.repeat(template, k, axis=0).ravel()
    _place_last_exits(Wf, seg, bstart, parents, k, L + 1)
    is_n = codes == 4
    states = (4 * seg.seg_of + codes).astype(Wf.dtype)
    out = _walk(states, seg.starts | is_n, Wf, _state_tables(seg, bstart, n, k, L), U, k)
    out = out.T.reshape(n, k, L)
    if is_n.any():
        out = np.where(is_n[:, None, :], 4, out & 3)
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
    k = _check_k(k)
    region_seed(seed, "")  # validates the seed
    n, L = codes.shape
    keys = _check_keys(keys, n)
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


# --------------------------------------------------------------------------
# Exact counts and degenerate sequences
# --------------------------------------------------------------------------


def _det(M: list[list[int]]) -> int:
    """Exact determinant of a small integer matrix (cofactor expansion)."""
    if not M:
        return 1
    if len(M) == 1:
        return M[0][0]
    total = 0
    for j, a in enumerate(M[0]):
        if a:
            minor = [row[:j] + row[j + 1:] for row in M[1:]]
            total += (-1) ** j * a * _det(minor)
    return total


def _count_segment(seg: str) -> int:
    """Number of distinct ACGT strings with ``seg``'s dinucleotide counts and ends."""
    if len(seg) <= 2:
        return 1
    idx = {c: i for i, c in enumerate(ALPHABET)}
    n = [[0] * 4 for _ in range(4)]
    for a, b in zip(seg, seg[1:]):
        n[idx[a]][idx[b]] += 1
    d = [sum(row) for row in n]
    root = idx[seg[-1]]
    others = sorted({idx[c] for c in seg} - {root})
    # Reduced out-degree Laplacian (self-loops cancel on the diagonal).
    lap = [[(d[v] - n[v][v]) if v == w else -n[v][w] for w in others] for v in others]
    tau = _det(lap)
    labeled = tau * math.factorial(d[root])
    for v in others:
        labeled *= math.factorial(d[v] - 1)
    same = math.prod(math.factorial(c) for row in n for c in row)
    count, rest = divmod(labeled, same)
    assert rest == 0, "BEST theorem count is not divisible; this is a bug"
    return count


def count_dinucleotide_shuffles(seq: str) -> int:
    """Exact number of distinct dinucleotide shuffles of a DNA string.

    Parameters
    ----------
    seq : str
        DNA; case is ignored and any letter other than A, C, G, T is an N that
        stays in place (segments between Ns are counted separately).

    Returns
    -------
    int
        Number of distinct sequences (the input included) with the same
        dinucleotide counts, first and last base of every ACGT segment, by the
        BEST / matrix-tree theorem in exact integer arithmetic; 1 for
        sequences of length <= 2.
    """
    if not isinstance(seq, str):
        raise ReferencesError(f"expected a DNA string, got {type(seq).__name__}")
    cleaned = "".join(c if c in ALPHABET else "N" for c in seq.upper())
    return math.prod(_count_segment(part) for part in cleaned.split("N") if part)


def degenerate_rows(X: np.ndarray, shuffles: np.ndarray) -> np.ndarray:
    """Which sequences have a single valid dinucleotide shuffle (themselves).

    Parameters
    ----------
    X : ndarray, shape (N, L, 4)
        One-hot sequences.
    shuffles : ndarray, shape (N, k, L, 4)
        Their shuffles, from :func:`dinucleotide_shuffle`.

    Returns
    -------
    ndarray, shape (N,), bool
        True where the sequence has exactly one valid shuffle, so every
        contribution against its shuffles is zero.  Only rows whose k
        shuffles all equal the input are counted exactly.
    """
    X = np.asarray(X)
    shuffles = np.asarray(shuffles)
    if X.ndim != 3 or shuffles.ndim != 4 or shuffles.shape[0] != X.shape[0] \
            or shuffles.shape[2:] != X.shape[1:]:
        raise ReferencesError(
            f"expected X of shape (N, L, 4) and shuffles of shape (N, k, L, 4), got {X.shape} and {shuffles.shape}")
    same = np.all(shuffles == X[:, None], axis=(1, 2, 3))
    result = np.zeros(X.shape[0], dtype=bool)
    for i in np.flatnonzero(same):
        result[i] = count_dinucleotide_shuffles(_decode(one_hot_to_codes(X[i]))) == 1
    return result


# --------------------------------------------------------------------------
# GC background
# --------------------------------------------------------------------------


def gc_fraction(X: np.ndarray) -> float:
    """Fraction of G + C among the ACGT bases of one-hot sequences.

    Parameters
    ----------
    X : ndarray, shape (N, L, 4)
        One-hot sequences; all-zero (N) rows are ignored.

    Returns
    -------
    float
    """
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[-1] != 4:
        raise ReferencesError(f"expected one-hot sequences of shape (N, L, 4), got shape {X.shape}")
    total = float(X.sum(dtype=np.float64))
    if total <= 0:
        raise ReferencesError("cannot estimate GC content: the sequences hold no A, C, G or T; pass --gc")
    return float(X[..., 1:3].sum(dtype=np.float64)) / total


def gc_background(X: np.ndarray, gc: float) -> np.ndarray:
    """Uniform GC background references.

    Parameters
    ----------
    X : ndarray, shape (N, L, 4)
        One-hot sequences; all-zero (N) rows give all-zero reference rows.
    gc : float
        GC fraction g, 0 < g < 1.

    Returns
    -------
    ndarray, shape (N, 1, L, 4), float32
        Each position is ``[(1 - g)/2, g/2, g/2, (1 - g)/2]`` (zeros at N).
    """
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise ReferencesError(f"expected one-hot sequences of shape (N, L, 4), got shape {X.shape}")
    try:
        g = float(gc)
    except (TypeError, ValueError):
        raise ReferencesError(f"GC fraction must be a number, got {gc!r}; pass e.g. --gc 0.41") from None
    if not 0.0 < g < 1.0:
        raise ReferencesError(f"GC fraction must lie strictly between 0 and 1, got {gc!r}; pass e.g. --gc 0.41")
    row = np.array([(1 - g) / 2, g / 2, g / 2, (1 - g) / 2], dtype=np.float32)
    present = np.any(X != 0, axis=-1, keepdims=True)
    return np.where(present, row, np.float32(0)).astype(np.float32)[:, None]
