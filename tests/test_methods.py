"""Saliency, ε-LRP, LRP-αβ, SmoothGrad, connection weights and the max-pool options of DeepLIFT, each against
an independent numpy computation on small networks, on every backend.

The two-layer ReLU network x (L, 4) → h = relu(W1·x + b1) → t = w2·h + b2 is small enough to write every
rule out by hand: relevances from explicit z_ij = a_i·w_ij terms, gradients from the chain rule, SmoothGrad
from central finite differences at the same noise draws.  Connection weights are compared with the product
of the weight matrices, and on a convolutional network with the gradient of a copy with linear activations
(and its max pool averaged) taken by TensorFlow.  ε-LRP equals Rescale with a zero reference in the limits
Ancona et al. (2018) state — no biases, activations with f(0) = 0, ε → 0 — and not outside them.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import genolift
from genolift.engine import Engine
from genolift.errors import MethodError, ReferencesError
from genolift.references import region_seed

from .conftest import one_hot

L, H = 6, 5


def _save(model, folder, name: str):
    path = folder / f"{name}.keras"
    model.save(path)
    return genolift.load_model(path)


@functools.lru_cache(maxsize=None)
def two_layer(folder: str, biases: bool = True, seed: int = 3):
    """(graph, W1 (4L, H), b1 (H,), w2 (H,), b2) of Flatten → Dense(H, relu) → Dense(1), weights float64."""
    import keras
    from pathlib import Path

    model = keras.Sequential([keras.Input((L, 4)), keras.layers.Flatten(), keras.layers.Dense(H, activation="relu"),
                              keras.layers.Dense(1)])
    rng = np.random.default_rng(seed)
    w1, b1, w2, b2 = (rng.normal(size=w.shape).astype(np.float32) for w in model.weights)
    b1 = b1 * 0.5 + 0.3 if biases else np.zeros_like(b1)
    b2 = b2 if biases else np.zeros_like(b2)
    model.set_weights([w1, b1, w2, b2])
    graph = _save(model, Path(folder), f"two_layer_{biases}_{seed}")
    return graph, w1.astype(np.float64), b1.astype(np.float64), w2[:, 0].astype(np.float64), float(b2[0])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("methods"))


def _inputs(n: int = 3, k: int = 2, seed: int = 5):
    rng = np.random.default_rng(seed)
    return one_hot(rng, n, L), one_hot(rng, n * k, L).reshape(n, k, L, 4)


def _engine(graph, xp, rule, **options):
    """A float64 engine on backend xp, compiled by its first compilation (no timing of two)."""
    return Engine(graph, rule=rule, precision="float64", backend=xp.NAME, compile=xp.COMPILATIONS[0], **options)


def _run(graph, xp, X, R, rule, **options):
    return _engine(graph, xp, rule, batch_size=8, **options).run(X, R)


def _hidden(x, w1, b1):
    z = x.reshape(-1) @ w1 + b1
    return z, np.maximum(z, 0.0)


# -- LRP --------------------------------------------------------------------------------------------
def test_lrp_epsilon_matches_the_hand_computation(folder, xp):
    graph, w1, b1, w2, b2 = two_layer(folder)
    X, R = _inputs()
    eps = 0.05
    res = _run(graph, xp, X, R, "lrp-epsilon", epsilon=eps)
    for x, hyp, contrib in zip(X, res.hypothetical, res.hypothetical * X):
        z, h = _hidden(x, w1, b1)
        relevance_h = h * w2  # the last layer is not stabilised: R_j = h_j·w2_j, Σ R_j + b2 = t
        stabilised = z + eps * np.where(z >= 0, 1.0, -1.0)
        z_ij = x.reshape(-1)[:, None] * w1
        relevance_x = (z_ij / stabilised * relevance_h).sum(axis=1).reshape(L, 4)
        np.testing.assert_allclose(contrib, relevance_x, atol=1e-12)
        per_unit = (w1 / stabilised * relevance_h).sum(axis=1).reshape(L, 4)  # relevance of a base per unit
        np.testing.assert_allclose(hyp, per_unit, atol=1e-12)  # no reference: hypothetical = multipliers


@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (2.0, 1.0)])
def test_lrp_alpha_beta_matches_the_hand_computation(folder, xp, alpha, beta):
    graph, w1, b1, w2, b2 = two_layer(folder)
    X, R = _inputs()
    res = _run(graph, xp, X, R, "lrp-alpha-beta", alpha=alpha, beta=beta)

    def redistribute(z_ij, bias, relevance):
        """R_i = Σ_j (α z_ij⁺/z_j⁺ − β z_ij⁻/z_j⁻) R_j with the bias split by sign; also the per-unit weights."""
        pos = np.maximum(z_ij, 0).sum(0) + np.maximum(bias, 0)
        neg = np.minimum(z_ij, 0).sum(0) + np.minimum(bias, 0)
        ratio_pos = np.where(pos > 0, relevance / np.where(pos > 0, pos, 1), 0.0)
        ratio_neg = np.where(neg < 0, relevance / np.where(neg < 0, neg, 1), 0.0)
        return (alpha * np.maximum(z_ij, 0) * ratio_pos - beta * np.minimum(z_ij, 0) * ratio_neg).sum(1), \
            (ratio_pos, ratio_neg)

    for x, hyp in zip(X, res.hypothetical):
        z, h = _hidden(x, w1, b1)
        t = h @ w2 + b2
        relevance_h, _ = redistribute((h * w2)[:, None], np.array([b2]), np.array([t]))
        relevance_x, (ratio_pos, ratio_neg) = redistribute(x.reshape(-1)[:, None] * w1, b1, relevance_h)
        np.testing.assert_allclose(hyp * x, relevance_x.reshape(L, 4), atol=1e-12)
        # a base's multiplier as if present (a = 1 ≥ 0): Σ_j α w⁺ A_j − β w⁻ B_j, the denominators held at x
        per_unit = (alpha * np.maximum(w1, 0) * ratio_pos - beta * np.minimum(w1, 0) * ratio_neg).sum(1)
        np.testing.assert_allclose(hyp, per_unit.reshape(L, 4), atol=1e-12)


def test_lrp_alpha_beta_conserves_the_target_without_biases(folder, xp):
    """α = 1, β = 0 without biases: Σ relevance = t(x) where the output has positive parts to give it to, else 0."""
    graph, w1, b1, w2, _ = two_layer(folder, biases=False)
    X, R = _inputs(n=8)
    res = _run(graph, xp, X, R, "lrp-alpha-beta")
    total = (res.hypothetical * X).sum(axis=(1, 2))
    positive = np.array([(np.maximum(_hidden(x, w1, b1)[1] * w2, 0)).sum() > 0 for x in X])
    assert positive.sum() >= 4 and (~positive).any()
    np.testing.assert_allclose(total[positive], res.predictions[positive], rtol=1e-10, atol=1e-12)
    assert not total[~positive].any()


def test_saliency_is_the_absolute_gradient(folder, xp):
    graph, w1, b1, w2, b2 = two_layer(folder)
    X, R = _inputs()
    res = _run(graph, xp, X, R, "saliency")
    for x, hyp in zip(X, res.hypothetical):
        z, _ = _hidden(x, w1, b1)
        gradient = (w1 * (w2 * (z > 0))).sum(axis=1).reshape(L, 4)
        np.testing.assert_allclose(hyp, np.abs(gradient), atol=1e-12)


# -- SmoothGrad ---------------------------------------------------------------------------------------
def test_smoothgrad_is_the_mean_of_finite_difference_gradients_at_the_same_draws(folder, xp):
    graph, w1, b1, w2, b2 = two_layer(folder)
    X, R = _inputs(n=2, k=3)
    samples, level, seed, keys = 6, 0.2, 4, ["chr1:0-6", "chr2:10-16"]
    options = dict(samples=samples, noise=level, seed=seed)
    engine_free = _engine(graph, xp, "smoothgrad-x-input", batch_size=4, **options)
    free = engine_free.run(X, R, keys=keys)
    projected = _run(graph, xp, X, R, "smoothgrad", **options)
    projected_keyed = _engine(graph, xp, "smoothgrad", batch_size=4, **options).run(X, R, keys=keys)

    def target(p):
        return np.maximum(p.reshape(-1) @ w1 + b1, 0) @ w2 + b2

    step = 1e-6
    for i, (x, key) in enumerate(zip(X, keys)):
        draws = region_seed(seed, key + "/smoothgrad").standard_normal((samples, L, 4), dtype=np.float32)
        sigma = level * (x.max() - x.min())
        mean_gradient = np.zeros((L, 4))
        for noise in draws.astype(np.float64):
            point = x + sigma * noise
            for l, b in np.ndindex(L, 4):
                up, down = point.copy(), point.copy()
                up[l, b] += step
                down[l, b] -= step
                mean_gradient[l, b] += (target(up) - target(down)) / (2 * step) / samples
        np.testing.assert_allclose(free.hypothetical[i], mean_gradient, atol=1e-7)
        want = (mean_gradient[None] - (R[i] * mean_gradient).sum(-1, keepdims=True)).mean(0)
        np.testing.assert_allclose(projected_keyed.hypothetical[i], want, atol=1e-7)
    assert not np.allclose(projected.hypothetical, projected_keyed.hypothetical)  # other keys, other draws
    with pytest.raises(ReferencesError):
        engine_free.run(X, R, keys=["only one"])


# -- connection weights ------------------------------------------------------------------------------
def test_connection_weights_are_the_product_of_the_weight_matrices(folder, xp):
    import keras
    from pathlib import Path

    model = keras.Sequential([keras.Input((L, 4)), keras.layers.Flatten(), keras.layers.Dense(7, activation="relu"),
                              keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(2)])
    rng = np.random.default_rng(8)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.weights])
    graph = _save(model, Path(folder), "dense_stack")
    kernels = [w.astype(np.float64) for w in model.get_weights()[::2]]
    product = (kernels[0] @ kernels[1] @ kernels[2])[:, 1].reshape(L, 4)
    X, R = _inputs()
    free = _engine(graph, xp, "connection-weights", times_input=True, task=1).run(X, R)
    np.testing.assert_allclose(free.hypothetical, np.broadcast_to(product, X.shape), atol=1e-12)
    referenced = _engine(graph, xp, "connection-weights", task=1).run(X, R)
    want = (product[None, None] - (R * product).sum(-1, keepdims=True)).mean(1)
    np.testing.assert_allclose(referenced.hypothetical, want, atol=1e-12)


def test_connection_weights_of_a_conv_net_equal_the_gradient_of_its_linear_copy(folder, xp):
    import keras
    import tensorflow as tf
    from pathlib import Path

    def build(activation, pool):
        return keras.Sequential([keras.Input((12, 4)), keras.layers.Conv1D(3, 3, activation=activation),
                                 pool(2), keras.layers.Flatten(), keras.layers.Dense(4, activation=activation),
                                 keras.layers.Dense(1)])

    model = build("relu", keras.layers.MaxPooling1D)
    rng = np.random.default_rng(9)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in model.weights]
    model.set_weights(weights)
    linear = build("linear", keras.layers.AveragePooling1D)
    linear.set_weights(weights)
    graph = _save(model, Path(folder), "conv_net")
    x = tf.constant(one_hot(rng, 1, 12))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = linear(x)
    want = tape.gradient(y, x).numpy()[0].astype(np.float64)  # float32: the engine's float64 agrees to its round-off
    X = one_hot(rng, 3, 12)
    res = _engine(graph, xp, "connection-weights", times_input=True).run(X, np.zeros((12, 4)))
    np.testing.assert_allclose(res.hypothetical, np.broadcast_to(want, X.shape), rtol=1e-5, atol=1e-5)


# -- ε-LRP and Rescale (Ancona et al.) -----------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def relu_net(folder: str, biases: bool):
    """Conv1D(relu) → MaxPool → Flatten → Dense(relu) → Dense: ReLU activations, with or without biases."""
    import keras
    from pathlib import Path

    model = keras.Sequential([keras.Input((16, 4)), keras.layers.Conv1D(4, 5, activation="relu"),
                              keras.layers.MaxPooling1D(2), keras.layers.Flatten(),
                              keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1)])
    rng = np.random.default_rng(10)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) * (1.0 if biases or w.ndim > 1 else 0.0)
                       for w in model.weights])
    return _save(model, Path(folder), f"relu_net_{biases}")


@pytest.mark.fast_backends("tensorflow")
def test_epsilon_lrp_equals_rescale_with_a_zero_reference_in_the_ancona_limits(folder, xp):
    """Without biases, ReLU activations and ε → 0, ε-LRP's x·m is Rescale's score against a zero input."""
    X = one_hot(np.random.default_rng(12), 4, 16)
    zero = np.zeros((16, 4))

    def both(graph, eps):
        lrp = _engine(graph, xp, "lrp-epsilon", epsilon=eps).run(X, zero)
        rescale = _engine(graph, xp, "rescale").run(X, zero)
        return lrp.hypothetical, rescale.hypothetical

    lrp, rescale = both(relu_net(folder, biases=False), 1e-13)
    np.testing.assert_allclose(lrp, rescale, rtol=1e-6, atol=1e-12)  # the difference is of order ε/|z|
    lrp_coarse, _ = both(relu_net(folder, biases=False), 1e-7)
    assert np.abs(lrp - rescale).max() < 1e-4 * np.abs(lrp_coarse - rescale).max()  # and vanishes with ε
    # outside the limits they part: a large ε, or biases (the zero input no longer gives zero activations)
    lrp_large, rescale_same = both(relu_net(folder, biases=False), 0.5)
    assert np.abs(lrp_large - rescale_same).max() > 1e-2 * np.abs(rescale_same).max()
    lrp_bias, rescale_bias = both(relu_net(folder, biases=True), 1e-12)
    assert np.abs(lrp_bias - rescale_bias).max() > 1e-2 * np.abs(rescale_bias).max()


# -- max pooling under DeepLIFT ------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def pool_net(folder: str):
    """Conv1D(3, kernel 1) → MaxPool(2) → Flatten → Dense(1) on (8, 4): (graph, kernel (4, 3), bias, w (4, 3))."""
    import keras
    from pathlib import Path

    model = keras.Sequential([keras.Input((8, 4)), keras.layers.Conv1D(3, 1), keras.layers.MaxPooling1D(2),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    rng = np.random.default_rng(13)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in model.weights]
    model.set_weights(weights)
    kernel, bias, dense, _ = (w.astype(np.float64) for w in weights)
    return _save(model, Path(folder), "pool_net"), kernel[0], bias, dense[:, 0].reshape(4, 3)


def _pool_multipliers(x, r, kernel, bias, w, rule):
    """Multipliers (8, 4) of the pool net by the chain rule with the max pool's ``rule``, in numpy."""
    a, a_r = x @ kernel + bias, r @ kernel + bias  # (8, 3) conv outputs
    m_conv = np.zeros((8, 3))
    for window in range(4):
        lo = 2 * window
        for c in range(3):
            g = w[window, c]
            if rule == "winner-takes-all":
                m_conv[lo + int(np.argmax(a[lo:lo + 2, c])), c] += g
                continue
            change = a[lo:lo + 2, c] - a_r[lo:lo + 2, c]
            dy = a[lo:lo + 2, c].max() - a_r[lo:lo + 2, c].max()
            if abs(change.mean()) > max(1e-3 * np.sqrt((change ** 2).mean()), 1e-6):  # spread evenly
                m_conv[lo:lo + 2, c] += g * dy / change.mean() / 2
            elif np.sqrt((change ** 2).mean()) > 1e-6:  # no mean change: in proportion to each change
                m_conv[lo:lo + 2, c] += g * dy * change / (change ** 2).sum()
            else:  # unchanged: the gradient at x
                m_conv[lo + int(np.argmax(a[lo:lo + 2, c])), c] += g
    return m_conv @ kernel.T


@pytest.mark.parametrize("rule", ["winner-takes-all", "average"])
def test_maxpool_rules_match_the_chain_rule_in_numpy(folder, xp, rule):
    graph, kernel, bias, w = pool_net(folder)
    rng = np.random.default_rng(14)
    X, R = one_hot(rng, 3, 8), one_hot(rng, 6, 8).reshape(3, 2, 8, 4)
    X[0, :2] = R[0, 0, :2]  # a window equal in the pair: the average rule takes the gradient there
    X[1, 2:4] = R[1, 0, 2:4][::-1]  # a window permuted: no mean change, Δy spread in proportion to the changes
    res = _run(graph, xp, X, R, "rescale", maxpool=rule)  # references taped
    background = np.full((8, 4), 0.25)
    shared = _run(graph, xp, X, background, "rescale", maxpool=rule)  # one shared reference: sequences taped
    for i, x in enumerate(X):
        ms = [_pool_multipliers(x, r, kernel, bias, w, rule) for r in R[i]]
        want = np.mean([m - (r * m).sum(-1, keepdims=True) for m, r in zip(ms, R[i])], axis=0)
        np.testing.assert_allclose(res.hypothetical[i], want, atol=1e-10)
        m = _pool_multipliers(x, background, kernel, bias, w, rule)
        np.testing.assert_allclose(shared.hypothetical[i], m - (background * m).sum(-1, keepdims=True), atol=1e-10)
    if rule == "average":  # the change of every window is spread in full: the sums close
        assert np.abs(res.deltas).max() < 1e-9
    else:  # the input's maximum takes all: the sums do not close where the maxima move
        assert np.abs(res.deltas).max() > 1e-3


def test_rule_options_are_checked_in_one_line(folder):
    graph, *_ = two_layer(folder)
    for options, words in [({"rule": "lrp-alpha-beta", "alpha": 3.0}, "α − β = 1"),
                           ({"rule": "lrp-epsilon", "epsilon": 0.0}, "--epsilon"),
                           ({"rule": "gradient", "times_input": True}, "--times-input"),
                           ({"rule": "rescale", "maxpool": "max"}, "--maxpool"),
                           ({"rule": "smoothgrad", "samples": 0}, "--samples")]:
        with pytest.raises(MethodError, match=words):
            genolift.attribute(graph, np.zeros((1, L, 4), np.float32), np.zeros((L, 4)), **options)


def test_api_passes_each_option_by_name(folder):
    graph, *_ = two_layer(folder)
    X, R = _inputs()
    small = genolift.attribute(graph, X, R, rule="lrp-epsilon", epsilon=1e-6)
    large = genolift.attribute(graph, X, R, rule="lrp-epsilon", epsilon=10.0)
    assert np.abs(large.hypothetical).max() < np.abs(small.hypothetical).max()
