"""In-silico mutagenesis against brute-force forward differences, the linear-model identity with the
attribution rules, and receptive-field recomputation against plain batched ISM."""

from __future__ import annotations

import numpy as np
import pytest

import genolift
from genolift.engine import Engine
from genolift.engine.ism import local_prefix

from . import zoo
from .conftest import one_hot, randomize
from .helpers import save_load


def test_ism_equals_brute_force_forward_differences(tmp_path):
    model = zoo.basset_like()
    randomize(model, seed=3)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(0)
    X = one_hot(rng, 2, 24)
    X[1, 5] = 0  # an N: all four bases are substitutions
    engine = Engine(graph, task=2, batch_size=7)
    (ism, pred), = engine.mutagenesis(X)
    logits = lambda batch: Engine(graph, task=2).predict(batch)  # noqa: E731
    base = logits(X)
    np.testing.assert_allclose(pred, base, atol=1e-6)
    for i in range(2):
        for pos in range(24):
            for b in range(4):
                if X[i, pos, b] == 1:
                    assert ism[i, pos, b] == 0
                    continue
                mutant = X[i].copy()
                mutant[pos] = np.eye(4)[b]
                assert ism[i, pos, b] == pytest.approx(logits(mutant[None])[0] - base[i], abs=1e-5)
    (window_only, _), = engine.mutagenesis(X, (10, 20))
    assert not window_only[:, :10].any() and not window_only[:, 20:].any()
    np.testing.assert_allclose(window_only[:, 10:20], ism[:, 10:20], atol=1e-6)


def test_ism_gradient_and_deeplift_agree_on_a_linear_model(tmp_path):
    """t = Σ W·x: ISM[l, b] = W[l, b] − W[l, x_l] = hyp[l, b] − hyp[l, x_l] for DeepLIFT and gradients."""
    import keras

    model = keras.Sequential([keras.Input((10, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    randomize(model, seed=4)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(1)
    X = one_hot(rng, 3, 10)
    R = genolift.dinucleotide_shuffle(X, 2, seed=0)
    (ism, _), = Engine(graph).mutagenesis(X)
    for rule in ("rescale", "gradient", "integrated-gradients"):
        hyp = genolift.attribute(graph, X, R, rule=rule, steps=2).hypothetical
        observed = (hyp * X).sum(-1, keepdims=True)
        np.testing.assert_allclose(hyp - observed, ism, atol=1e-5, err_msg=rule)


@pytest.mark.parametrize("name", ["basset_like", "pooling_mix", "residual", "bpnet_like"])
def test_receptive_field_ism_equals_plain_ism(name, tmp_path):
    """Windowed recomputation through the local prefix (same/valid/causal padding, strides, dilation,
    overlapping pools, crops) gives the plain batched ISM, windows and N positions included."""
    model = zoo.bpnet_like() if name == "bpnet_like" else zoo.ZOO[name]()
    randomize(model, seed=3)
    graph = save_load(model, tmp_path)
    engine = Engine(graph, batch_size=50)
    assert local_prefix(engine.network)
    rng = np.random.default_rng(0)
    X = one_hot(rng, 3, graph.length)
    X[1, 5] = 0
    for window in (None, (3, 17)):
        (plain, p1), = engine.mutagenesis(X, window, fast=False)
        (fast, p2), = engine.mutagenesis(X, window, fast=True)
        np.testing.assert_allclose(fast, plain, atol=2e-6)
        np.testing.assert_allclose(p2, p1)
