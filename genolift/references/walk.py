"""The walk of the dinucleotide shuffle: ACGT segments, out-edge blocks and the parallel walk.

All walks of a chunk (n sequences x k shuffles) run together, one position at
a time.  Each walk owns one row of ``L + 1`` slots holding, per ACGT segment
and letter, the targets of that letter's out-edges (state codes
``4 * segment + letter``); slot 0 of a non-root letter's block is its last
exit, drawn beforehand as an arborescence, and the other slots form a pool
drawn without replacement (an on-the-fly Fisher-Yates shuffle).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..sequences import ALPHABET, N_CODE

_A = len(ALPHABET)


class Segments(NamedTuple):
    """Maximal ACGT segments of a batch of code rows (S segments in all)."""

    row: np.ndarray      # (S,) intp, row of each segment
    local: np.ndarray    # (S,) intp, index of the segment within its row
    counts: np.ndarray   # (S, 4, 4) int64, dinucleotide counts n[v, w]
    root: np.ndarray     # (S,) intp, last letter of the segment
    seg_of: np.ndarray   # (n, L) intp, local segment index at each position (0 at N)
    starts: np.ndarray   # (n, L) bool, first position of a segment
    per_row: np.ndarray  # (n,) intp, number of segments per row


class StateTables(NamedTuple):
    """Per-walk pool bounds of each (segment, letter) state, as flat intp arrays.

    ``start`` and ``top`` are indexed by ``base[w] + 4 * segment + letter``;
    ``trash`` is a spare state per walk used at positions that are not drawn.
    """

    start: np.ndarray  # (n * k * nstates,) first slot of the state's block in the flat walk rows
    top: np.ndarray    # (n * k * nstates,) last slot still in the state's pool
    base: np.ndarray   # (n * k,) offset of each walk's states
    trash: np.ndarray  # (n * k,) the spare state of each walk


def find_segments(codes: np.ndarray) -> Segments:
    """Find the ACGT segments of ``codes`` (n, L) int8 and count their dinucleotides."""
    n, L = codes.shape
    valid = codes < N_CODE
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
    flat = gid[:, :-1][edge] * 16 + codes[:, :-1][edge].astype(np.intp) * _A + codes[:, 1:][edge]
    counts = np.bincount(flat, minlength=16 * S).reshape(S, _A, _A).astype(np.int64)
    local = np.arange(S) - first[row]
    root = codes[end_row, end_col].astype(np.intp)
    return Segments(row, local, counts, root, seg_of, starts, per_row)


def state_dtype(seg: Segments) -> type:
    """Smallest integer dtype holding the state codes ``4 * segment + letter``."""
    top = _A * int(seg.per_row.max(initial=1)) + _A
    return np.int8 if top <= 127 else np.int16 if top <= 32767 else np.int32


def block_layout(seg: Segments, L: int, nvalid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each (segment, letter) out-edge block lies in a walk's row.

    Within a row, segments follow one another and each holds one block per
    letter: the root's block is a dummy slot then its out-edge targets, any
    other letter's block is its targets (slot 0 becomes its last exit).
    Targets are stored as state codes ``4 * segment + letter``, ascending.

    Parameters
    ----------
    seg : Segments
        The segments of the n rows.
    L : int
        Sequence length.
    nvalid : ndarray, shape (n,), int
        Number of ACGT positions per row.

    Returns
    -------
    template : ndarray, shape (n, L + 1), integer : the targets laid out per row.
    bstart : ndarray, shape (S, 4), intp : offset of each block in its row.
    """
    S = len(seg.row)
    is_root = np.arange(_A)[None, :] == seg.root[:, None]
    size = seg.counts.sum(axis=2) + is_root
    gstart = (np.cumsum(size.ravel()) - size.ravel()).reshape(S, _A)
    row_start = np.concatenate([[0], np.cumsum(nvalid)[:-1]])
    bstart = (gstart - row_start[seg.row][:, None]).astype(np.intp)
    reps = np.concatenate([is_root[:, :, None], seg.counts], axis=2).ravel()
    values = np.array([0, 0, 1, 2, 3])[None, None, :] + _A * seg.local[:, None, None]
    values = np.broadcast_to(values, (S, _A, _A + 1)).ravel()
    template = np.zeros((len(nvalid), L + 1), dtype=state_dtype(seg))
    template[np.arange(L + 1)[None, :] < nvalid[:, None]] = np.repeat(values, reps)
    return template, bstart


def place_last_exits(Wf: np.ndarray, seg: Segments, bstart: np.ndarray,
                     parents: np.ndarray, k: int, width: int) -> None:
    """Move each non-root letter's last-exit target to slot 0 of its block, per walk.

    Parameters
    ----------
    Wf : ndarray, shape (n * k * width,), integer
        The flat walk rows, changed in place: slot 0 of a block is swapped
        with the first occurrence of the parent letter.
    seg : Segments
    bstart : ndarray, shape (S, 4), intp
        Block offsets from :func:`block_layout`.
    parents : ndarray, shape (S, k, 4), intp
        Parent letter of each letter per shuffle (the drawn arborescences).
    k : int
        Shuffles per sequence.
    width : int
        Slots per walk row (``L + 1``).
    """
    s, v = np.nonzero((seg.counts.sum(axis=2) > 0) & (np.arange(_A)[None, :] != seg.root[:, None]))
    if len(s) == 0:
        return
    p = parents[s, :, v]                                              # (E, k)
    offs = np.cumsum(seg.counts, axis=2) - seg.counts                 # (S, 4, 4)
    walk = seg.row[s][:, None] * k + np.arange(k)[None, :]
    a = walk * width + bstart[s, v][:, None]
    b = a + offs[s[:, None], v[:, None], p]
    Wf[b] = Wf[a]
    Wf[a] = p + _A * seg.local[s][:, None]


def state_tables(seg: Segments, bstart: np.ndarray, n: int, k: int, L: int) -> StateTables:
    """Per-walk block start and top of pool for each (segment, letter) state.

    Parameters
    ----------
    seg : Segments
    bstart : ndarray, shape (S, 4), intp
        Block offsets from :func:`block_layout`.
    n, k, L : int
        Sequences, shuffles per sequence and length.
    """
    nstates = _A * int(seg.per_row.max(initial=0)) + 1
    d = seg.counts.sum(axis=2)
    is_root = np.arange(_A)[None, :] == seg.root[:, None]
    fill = np.where(is_root, d, np.maximum(d - 1, 0))
    start = np.full((n, nstates), L, dtype=np.intp)
    top = np.full((n, nstates), L, dtype=np.intp)
    cols = _A * seg.local[:, None] + np.arange(_A)[None, :]
    start[seg.row[:, None], cols] = bstart
    top[seg.row[:, None], cols] = bstart + fill
    offset = (np.arange(n * k, dtype=np.intp) * (L + 1))[:, None]
    start = (np.repeat(start, k, axis=0) + offset).ravel()
    top = (np.repeat(top, k, axis=0) + offset).ravel()
    base = np.arange(n * k, dtype=np.intp) * nstates
    return StateTables(start, top, base, base + nstates - 1)


def walk(states: np.ndarray, fixed: np.ndarray, Wf: np.ndarray, tables: StateTables, U: np.ndarray,
         k: int) -> np.ndarray:
    """Run all walks in parallel, one position at a time.

    At each step a walk in state (segment, letter v) takes a uniformly chosen
    target from v's remaining pool (an on-the-fly Fisher-Yates shuffle of
    v's out-edges), and its last-exit target once the pool is empty.
    Positions in ``fixed`` (segment starts, Ns) copy ``states`` instead.

    Parameters
    ----------
    states : ndarray, shape (n, L), integer
        State code ``4 * segment + letter`` of the input.
    fixed : ndarray, shape (n, L), bool
        Positions that are not drawn.
    Wf : ndarray, shape (n * k * (L + 1),), integer
        Flat walk rows with the last exits in place; consumed.
    tables : StateTables
        From :func:`state_tables`; ``top`` is consumed.
    U : ndarray, shape (L - 1, n * k), float64
        Uniforms in [0, 1), one per drawn step of each walk.
    k : int
        Shuffles per sequence.

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
