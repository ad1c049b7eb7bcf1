"""The walk of the dinucleotide shuffle: ACGT segments, out-edge blocks and the walks, as numba kernels.

The k walks of a sequence run together, one position at a time (k
independent chains in flight, so the processor overlaps their memory
accesses).  Each walk owns one row of ``L + 1`` slots holding, per ACGT
segment and letter, the letters its out-edges lead to; slot 0 of a non-root
letter's block is its last exit, drawn beforehand as an arborescence, and the
other slots form a pool drawn without replacement (an on-the-fly
Fisher-Yates shuffle).  A walk's state is ``4 * segment + letter``, the
segment being that of the position.

numba is imported with this module (through :mod:`.jit`), which
:mod:`.shuffle` imports only when it shuffles.  The kernels release the GIL.
"""

from __future__ import annotations

import numpy as np

from .arborescences import FORESTS, pick_forest, segment_weights
from .jit import kernel

_A = 4      # letters
_N = 4      # letter code of N (genolift.sequences.N_CODE)


@kernel
def find_segments(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The maximal ACGT segments of code rows and their dinucleotide counts.

    Parameters
    ----------
    codes : ndarray, shape (n, L), int8
        Letter codes 0..3, and 4 for N.

    Returns
    -------
    first : ndarray, shape (n + 1,), int64 : row i's segments are ``first[i]:first[i + 1]``.
    counts : ndarray, shape (S, 4, 4), int64 : dinucleotide counts ``n[v, w]`` per segment.
    root : ndarray, shape (S,), int64 : last letter of each segment.
    """
    n, L = codes.shape
    first = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        m = 0
        for t in range(L):
            if codes[r, t] != _N and (t == 0 or codes[r, t - 1] == _N):
                m += 1
        first[r + 1] = first[r] + m
    counts = np.zeros((first[n], _A, _A), dtype=np.int64)
    root = np.zeros(first[n], dtype=np.int64)
    for r in range(n):
        s = first[r] - 1
        for t in range(L):
            c = codes[r, t]
            if c == _N:
                continue
            if t == 0 or codes[r, t - 1] == _N:
                s += 1
            else:
                counts[s, codes[r, t - 1], c] += 1
            root[s] = c
    return first, counts, root


@kernel
def _layout(counts: np.ndarray, root: np.ndarray, s0: int, s1: int,
            template: np.ndarray, start: np.ndarray, pools: np.ndarray) -> None:
    """Lay out the out-edge blocks of one row's segments ``s0:s1``.

    Within a row, segments follow one another and each holds one block per
    letter: the root's block is a dummy slot then its out-edge targets, any
    other letter's block is its targets (slot 0 becomes its last exit).
    Targets are letters, ascending.

    Parameters
    ----------
    counts, root : the segments' counts (S, 4, 4) and last letters (S,).
    s0, s1 : int
        The row's segments.
    template : ndarray, shape (L + 1,), int8
        Filled with the targets (slots past the row's ACGT bases are left as they are).
    start : ndarray, shape (>= 4 * (s1 - s0),), int64
        Filled with the first slot of each state's block (state ``4 * (s - s0) + v``).
    pools : ndarray, shape (>= 4 * (s1 - s0),), int64
        Filled with each state's pool, ``start << 32 | top`` where ``top`` is
        the last slot of the pool.
    """
    pos = 0
    for s in range(s0, s1):
        for v in range(_A):
            state = _A * (s - s0) + v
            d = counts[s, v, 0] + counts[s, v, 1] + counts[s, v, 2] + counts[s, v, 3]
            start[state] = pos
            if v == root[s]:
                template[pos] = 0
                pos += 1
                top = start[state] + d
            else:
                top = start[state] + max(d - 1, 0)
            pools[state] = (start[state] << 32) | top
            for w in range(_A):
                for _ in range(counts[s, v, w]):
                    template[pos] = w
                    pos += 1


@kernel
def _place_last_exits(counts: np.ndarray, root: np.ndarray, draws: np.ndarray, s0: int, s1: int,
                      start: np.ndarray, slots: np.ndarray, weights: np.ndarray) -> None:
    """Draw each walk's arborescences and move every last-exit target to slot 0 of its block.

    Parameters
    ----------
    counts, root : the segments' counts (S, 4, 4) and last letters (S,).
    draws : ndarray, shape (S, k), int64
        Uniform integers in ``[0, tau[s])``, one per segment and walk.
    s0, s1 : int
        The row's segments.
    start : ndarray, int64
        Block starts from :func:`_layout`.
    slots : ndarray, shape (k, L + 1), int8
        The walks' rows, each a copy of the template; changed in place: slot
        0 of a block is swapped with the first occurrence of the parent letter.
    weights : ndarray, shape (F,), int64
        Scratch.
    """
    for s in range(s0, s1):
        segment_weights(counts[s], root[s], weights)
        for j in range(slots.shape[0]):
            f = pick_forest(weights, draws[s, j])
            for v in range(_A):
                if v == root[s] or counts[s, v, 0] + counts[s, v, 1] + counts[s, v, 2] + counts[s, v, 3] == 0:
                    continue
                p = FORESTS[f, v]
                a = start[_A * (s - s0) + v]
                b = a
                for w in range(p):
                    b += counts[s, v, w]
                slots[j, b] = slots[j, a]
                slots[j, a] = p


@kernel
def _walk_row(code: np.ndarray, pools: np.ndarray, slots: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
    """Run the k walks of one row together, one position at a time.

    At each step a walk in state (segment, letter v) takes a uniformly chosen
    target from v's remaining pool, slot ``top - int(u * (top - start))``
    (an on-the-fly Fisher-Yates shuffle of v's out-edges), and its last-exit
    target once the pool is empty.  Segment starts and Ns copy the input.

    Parameters
    ----------
    code : ndarray, shape (L,), int8
        The row's letter codes.
    pools : ndarray, shape (k, S), int64
        ``start << 32 | top`` per walk and state (from :func:`_layout`); consumed.
    slots : ndarray, shape (k, L + 1), int8
        The walks' rows with the last exits in place; consumed.
    u : ndarray, shape (L - 1, k), float64
        Uniforms in [0, 1): ``u[t - 1, j]`` for position t of walk j.
    out : ndarray, shape (k, L), int8, C-contiguous
        Filled with the shuffles' letter codes (4 at N); ``out[j, t - 1]``
        is walk j's current letter.
    """
    k, L = out.shape
    S = pools.shape[1]
    # Flat views and unsigned indices: no negative-index wrapping in the inner loop.
    pf, sf, of, uf = pools.ravel(), slots.ravel(), out.ravel(), u.ravel()
    q = 0 if code[0] != _N else -1
    for j in range(k):
        of[j * L] = code[0]
    for t in range(1, L):
        c = code[t]
        if c == _N or code[t - 1] == _N:
            if c != _N:
                q += 1
            for j in range(k):
                of[j * L + t] = c
            continue
        base = _A * q
        for j in range(k):
            at = np.uintp(j * S + base + of[np.uintp(j * L + t - 1)])
            pool = pf[at]
            tp = pool & 0xFFFFFFFF
            pos = tp - np.int64(uf[np.uintp((t - 1) * k + j)] * (tp - (pool >> 32)))
            row = j * (L + 1)
            of[np.uintp(j * L + t)] = sf[np.uintp(row + pos)]
            sf[np.uintp(row + pos)] = sf[np.uintp(row + tp)]
            pf[at] = pool - 1


@kernel
def walk_rows(codes: np.ndarray, first: np.ndarray, counts: np.ndarray, root: np.ndarray,
              draws: np.ndarray, U: np.ndarray, out: np.ndarray) -> None:
    """Shuffle code rows from their random draws.

    Parameters
    ----------
    codes : ndarray, shape (g, L), int8
        Letter codes of the rows (L >= 2).
    first : ndarray, shape (g + 1,), int64
        Row i's segments are ``first[i]:first[i + 1]`` in ``counts``,
        ``root`` and ``draws`` (from :func:`find_segments`, possibly a slice).
    counts, root : ndarray, shapes (S, 4, 4) and (S,), int64
        Dinucleotide counts and last letter per segment.
    draws : ndarray, shape (S, k), int64
        Arborescence draws, uniform in ``[0, tau[s])``.
    U : ndarray, shape (>= g, L - 1, k), float64
        Uniforms in [0, 1) per row, position and walk.
    out : ndarray, shape (g, k, L), int8
        Filled with the shuffles' letter codes (4 at N).
    """
    g, L = codes.shape
    k = out.shape[1]
    most = 1
    for r in range(g):
        most = max(most, first[r + 1] - first[r])
    template = np.zeros(L + 1, dtype=np.int8)
    slots = np.empty((k, L + 1), dtype=np.int8)
    start = np.empty(_A * most, dtype=np.int64)
    pools0 = np.empty(_A * most, dtype=np.int64)
    pools = np.empty((k, _A * most), dtype=np.int64)
    weights = np.empty(FORESTS.shape[0], dtype=np.int64)
    for r in range(g):
        s0, s1 = first[r], first[r + 1]
        _layout(counts, root, s0, s1, template, start, pools0)
        for j in range(k):
            for i in range(L + 1):
                slots[j, i] = template[i]
            for i in range(_A * (s1 - s0)):
                pools[j, i] = pools0[i]
        _place_last_exits(counts, root, draws, s0, s1, start, slots, weights)
        _walk_row(codes[r], pools, slots, U[r], out[r])
