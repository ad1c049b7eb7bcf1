"""Methods with random draws: SmoothGrad's noise and Shapley value sampling.

Every draw of a sequence comes from a generator seeded by (seed, the
sequence's key) as the references are (:func:`~genolift.references.seeding.region_seed`),
with a suffix per method, so batch size, sharding and resuming never change it.

**SmoothGrad** (:func:`smoothgrad_pairs`): the noise ε (samples, L, 4) of a
sequence is drawn on the host, standard normal, and its gradient steps
(:func:`~.gradients.make_gradient_step`) run on blocks of sequences, so only a
block's noise is in memory.

**Shapley value sampling** (:func:`shapley_pairs`): features are the positions,
or windows of ``width`` bases.  For a sequence x and a reference r, a
permutation π of the features defines a chain of sequences from r to x, each
taking one more feature from x; the change of the target at each step is that
feature's marginal contribution, and the mean over ``samples`` permutations
estimates its Shapley value (Štrumbelj and Kononenko's sampling).  Features
where x and r agree change nothing and get exactly 0, so only the D features
that differ are permuted: D − 1 forward passes per permutation, t(x) and t(r)
once per pair.  Each permutation's steps telescope to t(x) − t(r), so the
values of a pair sum to it exactly (the sums are formed in float64).  A
feature's value is spread evenly over its positions that hold a base; the
scores are of the observed bases only (the hypothetical scores equal the
contributions).  The values are averaged over the K references.
"""

from __future__ import annotations

import numpy as np

from ..references.seeding import region_generators
from .batching import run_pairs
from .forward import ForwardPass, blend
from .results import ChunkResult
from .rule_names import Method

#: Suffixes of the region keys seeding each method's draws (independent of the references' draws).
NOISE_KEY, PERMUTATION_KEY = "/smoothgrad", "/shapley"
#: Rows (in device batches) of the chains gathered before a Shapley block runs, so that batches are full.
BLOCK_BATCHES = 8


def noise_draws(method: Method, keys: list[str], length: int, dtype=np.float32) -> np.ndarray:
    """Standard normal draws (n, samples, L, 4) of the sequences with region keys ``keys``."""
    out = np.empty((len(keys), method.samples, length, 4), dtype)
    for i, rng in enumerate(region_generators(method.seed, [key + NOISE_KEY for key in keys])):
        out[i] = rng.standard_normal((method.samples, length, 4), dtype=np.float32)
    return out


def smoothgrad_pairs(dispatcher, step_for, X: np.ndarray, R: np.ndarray, extras: list, keys: list[str],
                     method: Method, batch_size: int, tasks: int) -> list[ChunkResult]:
    """SmoothGrad of X (n, L, 4) against references R (n, K, L, 4), per task (hypothetical summed over the K).

    ``step_for(s, j)`` is the gradient step of s sequences × j references taking the noise as its last
    argument.  A step holds s = ⌊batch_size / samples⌋ sequences (at least 1) with all their references.
    """
    n, k = R.shape[:2]
    s = max(1, batch_size // method.samples)
    block = s * len(dispatcher.devices or [None])
    parts = []
    for i0 in range(0, n, block):
        i1 = min(i0 + block, n)
        noise = noise_draws(method, keys[i0:i1], X.shape[1], X.dtype)
        parts.append(run_pairs(dispatcher, step_for, X[i0:i1], R[i0:i1], [e[i0:i1] for e in extras] + [noise],
                               s * k, tasks))
    return [ChunkResult(*(np.concatenate([p[t][f] for p in parts]) for f in range(4))) for t in range(tasks)]


def feature_of(length: int, width: int) -> np.ndarray:
    """(L,) int: the feature of each position (window l // width)."""
    return np.arange(length) // width


class _Pair:
    """The permutation chains of one (sequence, reference) pair.

    ``order`` (P, D) lists the differing features in each permutation's order; ``ranks`` (P, L) gives each
    position's feature rank there (−1 for features where x and r agree).  Chain row (p, m), m = 1..D−1, takes
    the features of ranks < m from x and the rest from r.
    """

    def __init__(self, x: np.ndarray, r: np.ndarray, feature: np.ndarray, samples: int, rng: np.random.Generator):
        self.x, self.r = x, r
        n_features = int(feature[-1]) + 1
        differ = np.zeros(n_features, bool)
        np.logical_or.at(differ, feature, (x != r).any(axis=-1))
        ids = np.flatnonzero(differ)
        self.d = len(ids)
        self.order = rng.permuted(np.tile(ids, (samples, 1)), axis=1)
        rank = np.full((samples, n_features), -1, np.int64)
        np.put_along_axis(rank, self.order, np.arange(self.d)[None], axis=1)
        self.ranks = rank[:, feature]
        self.rows = samples * max(self.d - 1, 0)

    def build(self, a: int, b: int) -> np.ndarray:
        """Chain rows [a, b) of this pair, (b − a, L, 4)."""
        idx = np.arange(a, b)
        p, m = idx // (self.d - 1), idx % (self.d - 1) + 1
        return blend(self.x, self.r, self.ranks[p] < m[:, None])

    def values(self, chain: np.ndarray, t_x: float, t_r: float, n_features: int) -> np.ndarray:
        """(F,) float64 Shapley estimates from the chain's targets (rows,) and the ends t(x), t(r)."""
        phi = np.zeros(n_features)
        if self.d == 0:
            return phi
        samples = self.order.shape[0]
        steps = np.concatenate([np.full((samples, 1), t_r, np.float64),
                                chain.reshape(samples, self.d - 1).astype(np.float64),
                                np.full((samples, 1), t_x, np.float64)], axis=1)
        np.add.at(phi, self.order, np.diff(steps, axis=1))
        return phi / samples


def _stream_rows(sources: list) -> tuple[int, callable, list[int]]:
    """Concatenated rows of ``sources`` (each (count, build)): their total, a builder of [a, b), their offsets."""
    offsets = np.cumsum([0] + [count for count, _ in sources])

    def build(a: int, b: int) -> np.ndarray:
        parts = []
        first = int(np.searchsorted(offsets, a, side="right")) - 1
        for i in range(first, len(sources)):
            lo, hi = max(a, offsets[i]), min(b, offsets[i + 1])
            if lo >= b:
                break
            if hi > lo:
                parts.append(sources[i][1](lo - offsets[i], hi - offsets[i]))
        return np.concatenate(parts)

    return int(offsets[-1]), build, offsets.tolist()


def _spread(phi: np.ndarray, x: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Per-base scores (L, 4): each feature's value (F,) spread evenly over its positions holding a base in x."""
    present = x.any(axis=-1)
    counts = np.bincount(feature, weights=present, minlength=len(phi))
    per_position = np.where(present, phi[feature] / np.maximum(counts[feature], 1), 0.0)
    return x * per_position[:, None]


def shapley_pairs(forward: ForwardPass, X: np.ndarray, R: np.ndarray, keys: list[str],
                  method: Method) -> list[ChunkResult]:
    """Shapley value estimates of X (n, L, 4) against references R (n, K, L, 4), per task.

    Returns per task: hypothetical (= contributions) (n, L, 4), the mean over the K references; t(x) (n,);
    t(r) (n, K); deltas (n, K) = t(x) − t(r_k) − Σ values (0 up to float64 round-off).
    """
    n, k, length = R.shape[0], R.shape[1], X.shape[1]
    feature = feature_of(length, method.width)
    n_features = int(feature[-1]) + 1
    tasks = forward.tasks
    hyp = np.zeros((tasks, n, length, 4))
    t_x, t_r, deltas = np.zeros((tasks, n)), np.zeros((tasks, n, k)), np.zeros((tasks, n, k))
    rngs = region_generators(method.seed, [key + PERMUTATION_KEY for key in keys])
    i = 0
    while i < n:
        block, pairs = [], []
        while i < n and (not block or sum(p.rows for p in pairs) < BLOCK_BATCHES * forward.batch):
            rng = next(rngs)
            block.append(i)
            pairs.extend(_Pair(X[i], R[i, kk], feature, method.samples, rng) for kk in range(k))
            i += 1
        ends = np.concatenate([X[block], R[block].reshape(-1, length, 4)])
        total, build, offsets = _stream_rows([(len(ends), lambda a, b: ends[a:b])]
                                             + [(p.rows, p.build) for p in pairs])
        values = forward.stream(total, build).astype(np.float64)  # (rows, T)
        for b_i, row in enumerate(block):
            tx = values[b_i]
            t_x[:, row] = tx
            for kk in range(k):
                pair = pairs[b_i * k + kk]
                tr = values[len(block) + b_i * k + kk]
                chain = values[offsets[1 + b_i * k + kk]:offsets[2 + b_i * k + kk]]
                t_r[:, row, kk] = tr
                for t in range(tasks):
                    phi = pair.values(chain[:, t], tx[t], tr[t], n_features)
                    hyp[t, row] += _spread(phi, X[row], feature) / k
                    deltas[t, row, kk] = tx[t] - tr[t] - phi.sum()
    dt = X.dtype
    return [ChunkResult(hyp[t].astype(dt), t_x[t].astype(dt), t_r[t].astype(dt), deltas[t].astype(dt))
            for t in range(tasks)]
