"""Shapley value sampling and occlusion, each against direct forward passes of the Keras model.

Exact Shapley values are enumerated over every subset of ≤ 8 features (the target of each blend of input
and reference taken from Keras's ``predict``); the sampled estimates converge to them and sum exactly to
t(x) − t(r) for any number of permutations.  Occlusion scores are rebuilt from Keras's predictions of
each occluded sequence.  Both run on every backend.
"""

from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

import genolift
from genolift.engine import Engine
from genolift.errors import MethodError

from .conftest import one_hot

L = 12


@functools.lru_cache(maxsize=None)
def small_model(folder: str):
    """A conv net on (12, 4) with two outputs, as (keras model, graph)."""
    import keras

    model = keras.Sequential([keras.Input((L, 4)), keras.layers.Conv1D(4, 3, activation="relu"),
                              keras.layers.MaxPooling1D(2), keras.layers.Flatten(),
                              keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(2)])
    rng = np.random.default_rng(21)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.weights])
    path = Path(folder) / "small.keras"
    model.save(path)
    return model, genolift.load_model(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("sampling"))


def predict(model, X, task: int = 0) -> np.ndarray:
    return model.predict(np.asarray(X, np.float32), verbose=0, batch_size=4096)[:, task].astype(np.float64)


def exact_shapley(model, x, r, width: int, task: int = 0) -> np.ndarray:
    """Shapley values (F,) of the features (windows of ``width``) of x against r, by enumerating all subsets."""
    n_features = math.ceil(L / width)
    feature = np.arange(L) // width
    subsets = list(itertools.product([False, True], repeat=n_features))
    blends = np.stack([np.where(np.array(s)[feature][:, None], x, r) for s in subsets])
    value = dict(zip(subsets, predict(model, blends, task)))
    phi = np.zeros(n_features)
    for s in subsets:
        size = sum(s)
        for f in range(n_features):
            if not s[f]:
                with_f = tuple(True if i == f else v for i, v in enumerate(s))
                weight = math.factorial(size) * math.factorial(n_features - size - 1) / math.factorial(n_features)
                phi[f] += weight * (value[with_f] - value[s])
    return phi


def per_base(phi, x, width):
    """The values (F,) spread evenly over each window's positions, on the observed bases (L, 4)."""
    return x * (phi[np.arange(L) // width] / width)[:, None]


def _engine(graph, xp, **options):
    return Engine(graph, backend=xp.NAME, compile=xp.COMPILATIONS[0], **options)


@pytest.mark.parametrize("width", [2, 3])
def test_shapley_sampling_converges_to_the_exact_values(folder, xp, width):
    model, graph = small_model(folder)
    rng = np.random.default_rng(22)
    X, R = one_hot(rng, 2, L), one_hot(rng, 4, L).reshape(2, 2, L, 4)
    want = np.stack([np.mean([per_base(exact_shapley(model, x, r, width, task=1), x, width) for r in refs], axis=0)
                     for x, refs in zip(X, R)])
    errors = {}
    for samples in (4, 1000):
        res = _engine(graph, xp, rule="shapley-sampling", samples=samples, width=width, task=1,
                      batch_size=512).run(X, R)
        errors[samples] = np.abs(res.hypothetical - want).max()
    scale = np.abs(want).max()
    assert errors[1000] < 0.03 * scale  # the Monte Carlo error shrinks as 1/√samples
    assert errors[1000] < errors[4] / 3


def test_shapley_sampling_sums_exactly_for_any_number_of_permutations(folder, xp):
    model, graph = small_model(folder)
    rng = np.random.default_rng(23)
    X, R = one_hot(rng, 3, L), one_hot(rng, 9, L).reshape(3, 3, L, 4)
    X[0, :4] = R[0, 0, :4]  # positions equal to a reference: null features, exactly 0 against it
    for samples in (1, 2):
        res = _engine(graph, xp, rule="shapley-sampling", samples=samples, batch_size=16).run(X, R)
        np.testing.assert_allclose(res.predictions, predict(model, X), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(res.reference_predictions, predict(model, R.reshape(-1, L, 4)).reshape(3, 3),
                                   rtol=1e-5, atol=1e-5)
        total = res.hypothetical.astype(np.float64).sum(axis=(1, 2))
        diff = res.predictions.astype(np.float64) - res.reference_predictions.mean(axis=1)
        np.testing.assert_allclose(total, diff, rtol=0, atol=1e-6 * (1 + np.abs(diff).max()))
        assert np.abs(res.deltas).max() < 1e-12
        np.testing.assert_array_equal(res.hypothetical, res.hypothetical * X)  # scores of the observed bases
    single = _engine(graph, xp, rule="shapley-sampling", samples=3).run(X[:1], R[:1, :1])
    assert not single.hypothetical[0, :4].any()


def test_shapley_draws_follow_the_keys_not_the_batches(folder, xp):
    _, graph = small_model(folder)
    rng = np.random.default_rng(24)
    X, R = one_hot(rng, 3, L), one_hot(rng, 6, L).reshape(3, 2, L, 4)
    keys = ["chr1:0-12", "chr1:20-32", "chr2:5-17"]
    a = _engine(graph, xp, rule="shapley-sampling", samples=2, batch_size=7, seed=5).run(X, R, keys=keys)
    b = _engine(graph, xp, rule="shapley-sampling", samples=2, batch_size=64, seed=5).run(X[1:], R[1:], keys=keys[1:])
    np.testing.assert_allclose(a.hypothetical[1:], b.hypothetical, rtol=1e-5, atol=1e-6)
    c = _engine(graph, xp, rule="shapley-sampling", samples=2, seed=6).run(X, R, keys=keys)
    assert not np.allclose(a.hypothetical, c.hypothetical)  # another seed, other permutations


def occluded_by_hand(model, x, fills, width, stride, task):
    """Scores (L,) from Keras predictions: mean over covering windows of t(x) − mean over fills of t(occluded)."""
    starts = range(0, L - width + 1, stride)
    blends = []
    for s in starts:
        for fill in fills:
            z = x.copy()
            z[s:s + width] = fill[s:s + width]
            blends.append(z)
    values = predict(model, np.stack([x, *blends]), task)
    drops = values[0] - values[1:].reshape(len(starts), len(fills)).mean(axis=1)
    total, count = np.zeros(L), np.zeros(L)
    for s, drop in zip(starts, drops):
        total[s:s + width] += drop
        count[s:s + width] += 1
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


@pytest.mark.parametrize("width, stride", [(3, 2), (4, 4), (1, 1)])
def test_occlusion_equals_keras_on_the_occluded_sequences(folder, xp, width, stride):
    model, graph = small_model(folder)
    rng = np.random.default_rng(25)
    X, R = one_hot(rng, 2, L), one_hot(rng, 4, L).reshape(2, 2, L, 4)
    X[1, 5] = 0  # an N
    engine = _engine(graph, xp, task=1, batch_size=8)
    zero = engine.occlusion(X, None, width, stride)[0]
    referenced = engine.occlusion(X, R, width, stride)[0]
    np.testing.assert_allclose(zero[1], predict(model, X, 1), rtol=1e-5, atol=1e-5)
    for i, x in enumerate(X):
        want_zero = occluded_by_hand(model, x, [np.zeros((L, 4))], width, stride, 1)
        np.testing.assert_allclose(zero[0][i], want_zero, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(referenced[0][i], occluded_by_hand(model, x, R[i], width, stride, 1),
                                   rtol=1e-4, atol=1e-5)
    if (L - width) % stride:
        assert not zero[0][:, -((L - width) % stride):].any()  # positions no window covers


def test_occlusion_with_a_shared_background_zeroes_it_at_n(folder):
    model, graph = small_model(folder)
    X = one_hot(np.random.default_rng(26), 2, L)
    X[0, 3] = 0
    background = np.full((L, 4), 0.25)
    scores, _ = genolift.occlusion(graph, X, background, width=2, stride=1)
    own = np.stack([background * x.any(-1, keepdims=True) for x in X])
    for i, x in enumerate(X):
        np.testing.assert_allclose(scores[i], occluded_by_hand(model, x, own[i:i + 1], 2, 1, 0), rtol=1e-4, atol=1e-5)
    with pytest.raises(MethodError, match="--width 13"):
        genolift.occlusion(graph, X, None, width=13)


def test_occlusion_with_revcomp_averages_the_two_strands(folder):
    model, graph = small_model(folder)
    X = one_hot(np.random.default_rng(27), 2, L)
    scores, predictions = genolift.occlusion(graph, X, None, width=3, stride=3, revcomp=True)
    zero = [np.zeros((L, 4))]
    for i, x in enumerate(X):
        reverse = x[::-1, ::-1]  # the reverse complement (channels A, C, G, T)
        want = (occluded_by_hand(model, x, zero, 3, 3, 0) + occluded_by_hand(model, reverse, zero, 3, 3, 0)[::-1]) / 2
        np.testing.assert_allclose(scores[i], want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(predictions, (predict(model, X) + predict(model, X[:, ::-1, ::-1])) / 2, rtol=1e-5,
                               atol=1e-5)
