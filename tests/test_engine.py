"""DeepLIFT-Rescale engine against definitions: hand-computed nets, a numpy oracle,
summation-to-delta per pair, the hypothetical formula as an explicit loop."""

from __future__ import annotations

import os

import numpy as np
import pytest

import genolift
from genolift.engine import Engine
from genolift.engine.network import Network
from genolift.engine.ops import op_entry

from . import oracle, zoo
from .conftest import one_hot, randomize
from .helpers import assert_result_sums_to_delta, assert_sums_to_delta, save_load, tiered


def test_hand_computed_relu_network(tmp_path):
    """2·relu(x1) + 2·relu(x2 − 1.5) at (1, 2) against a zero reference gives 2 and 1."""
    graph = save_load(zoo.hand_relu(), tmp_path)
    X = np.zeros((1, 4, 4), np.float32)
    X[0, 0, 0], X[0, 0, 1] = 1.0, 2.0
    res = genolift.attribute(graph, X, np.zeros((4, 4), np.float32))
    assert res.contributions[0, 0, 0] == pytest.approx(2.0, abs=1e-6)
    assert res.contributions[0, 0, 1] == pytest.approx(1.0, abs=1e-6)
    assert np.abs(res.contributions).sum() == pytest.approx(3.0, abs=1e-6)
    assert res.predictions[0] == pytest.approx(3.0, abs=1e-6)


def test_linear_model_gives_w_times_difference(tmp_path):
    import keras

    L = 16
    model = keras.Sequential([keras.Input((L, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    randomize(model, seed=3)
    graph = save_load(model, tmp_path)
    W = model.layers[-1].get_weights()[0].reshape(L, 4).astype(np.float64)
    rng = np.random.default_rng(1)
    X, R = one_hot(rng, 3, L), one_hot(rng, 3 * 5, L).reshape(3, 5, L, 4)
    res = genolift.attribute(graph, X, R, batch_size=4)
    expected = (W * (X - R.mean(axis=1))).sum(axis=-1)  # per position
    np.testing.assert_allclose(res.contributions.sum(axis=-1), expected, atol=1e-5)
    # hypothetical: base b at l contributes W[l, b] − Σ_c r̄[l, c] W[l, c]
    hyp = W[None] - (R.mean(axis=1) * W[None]).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(res.hypothetical, hyp, atol=1e-5)


def _zoo_case(name, tmp_path, k, n=2, weight_seed=7, data_seed=11):
    """A random-weight zoo model (Keras, genolift graph) with n sequences and k references each."""
    model = zoo.ZOO[name]()
    randomize(model, seed=weight_seed, scale=0.4)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(data_seed)
    L = graph.length
    return graph, one_hot(rng, n, L), one_hot(rng, n * k, L).reshape(n, k, L, 4)


def _oracle_hyp(graph, target, X, R):
    """Mean over references of the hypothetical formula, as an explicit loop over bases."""
    n, k, L, _ = R.shape
    hyp = np.zeros((n, L, 4))
    deltas = np.zeros((n, k))
    for i in range(n):
        for j in range(k):
            m, vx, vr = oracle.rescale_multipliers(graph, target.node, target.task, X[i], R[i, j],
                                                   normalise=target.normalise)
            for l in range(L):
                for b in range(4):
                    e = np.eye(4)[b]
                    hyp[i, l, b] += np.sum(m[l] * (e - R[i, j, l])) / k
            tx, tr = vx[target.node], vr[target.node]
            if target.normalise:
                tx, tr = tx - tx.mean(), tr - tr.mean()
            deltas[i, j] = tx[target.task] - tr[target.task]
    return hyp, deltas


@pytest.mark.parametrize("name, precision, tol", zoo.cases([("float32", 1e-5), ("float64", 1e-9)],
                                                               fast_models=["basset_tiled", "mixers", "residual"]))
def test_engine_matches_numpy_oracle(name, precision, tol, tmp_path):
    graph, X, R = _zoo_case(name, tmp_path, k=3)
    engine = Engine(graph, task=1, batch_size=4, precision=precision)
    res = engine.run(X, R)
    want_hyp, want_delta = _oracle_hyp(graph, engine.target, X, R)
    np.testing.assert_allclose(res.hypothetical, want_hyp, atol=tol, rtol=10 * tol)
    np.testing.assert_allclose(res.predictions[:, None] - res.reference_predictions, want_delta, atol=tol)
    assert np.all(np.abs(res.deltas) <= tol * (1 + np.abs(want_delta)))


@pytest.mark.parametrize("name", ["basset_tiled", "overlapping_pools", "pooling_mix"])
def test_fused_pool_kernels_equal_the_separate_rules(name, tmp_path):
    """Nonlinearity + tiling max pool as one kernel gives the multipliers of Rescale then cross-max."""
    graph, X, R = _zoo_case(name, tmp_path, k=4, n=3)
    fused = Engine(graph, task=1, batch_size=8, precision="float64")
    fused_pairs = dict(fused.network.pool_after)
    assert fused_pairs, "the model should have a nonlinearity read only by a max pool"
    separate = Engine(graph, task=1, batch_size=8, precision="float64")
    separate.network.pool_after = {}
    a, b = fused.run(X, R), separate.run(X, R)
    np.testing.assert_allclose(a.hypothetical, b.hypothetical, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.deltas, b.deltas, atol=1e-12)


def _batch_norm_model(L: int = 20):
    """Conv → BN (folds), a conv read by BN and by an add (does not fold), Dense → BN (folds)."""
    import keras
    from keras import layers

    inp = keras.Input((L, 4))
    x = layers.Activation("relu")(layers.BatchNormalization()(layers.Conv1D(5, 4, padding="same")(inp)))
    shared = layers.Conv1D(5, 3, padding="same")(x)
    x = layers.Activation("tanh")(layers.Add()([layers.BatchNormalization()(shared), shared]))
    x = layers.BatchNormalization()(layers.Dense(6)(layers.Flatten()(x)))
    return keras.Model(inp, layers.Dense(2)(layers.Activation("relu")(x)))


def test_batch_norm_folds_into_the_linear_layer_before_it(tmp_path):
    """Folded where the linear node's only reader is the BN; results still equal Keras and the oracle."""
    model = _batch_norm_model()
    randomize(model, seed=3, scale=0.5)
    graph = save_load(model, tmp_path)
    engine = Engine(graph, task=1, batch_size=6, precision="float64")
    affine = [n for n in graph.nodes if n.op == "affine"]
    folded = [n.name for n in affine if engine.network.entries[n.name] == op_entry("identity")]
    assert len(affine) == 3 and len(folded) == 2, folded
    readers = graph.consumers()
    assert all(len(readers[graph.node(name).inputs[0]]) == 1 for name in folded)
    rng = np.random.default_rng(6)
    X, R = one_hot(rng, 3, 20), one_hot(rng, 6, 20).reshape(3, 2, 20, 4)
    np.testing.assert_allclose(Network(graph, dtype="float32").forward(X)[0].numpy(), model.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)
    res = engine.run(X, R)
    want_hyp, want_delta = _oracle_hyp(graph, engine.target, X, R)
    np.testing.assert_allclose(res.hypothetical, want_hyp, atol=1e-9, rtol=1e-8)
    np.testing.assert_allclose(res.predictions[:, None] - res.reference_predictions, want_delta, atol=1e-9)


@pytest.mark.parametrize("name", zoo.cases())
def test_forward_parity_with_keras(name, tmp_path):
    model = zoo.ZOO[name]()
    randomize(model, seed=5, scale=0.4)
    rng = np.random.default_rng(2)
    X = one_hot(rng, 8, model.inputs[0].shape[1])
    want = model.predict(X, verbose=0)
    for suffix in (".keras", ".h5"):
        graph = save_load(model, tmp_path, "m" + suffix)
        net = Network(graph, Engine(graph).target)
        got = net.forward(X)[0].numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        ora = np.stack([oracle.forward(graph, x)[graph.outputs[0]] for x in X[:2]])
        np.testing.assert_allclose(ora, want[:2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", zoo.cases(fast_models=["basset_like", "odds_and_ends", "pooling_mix"]))
def test_summation_to_delta_per_pair(name, tmp_path):
    model = zoo.ZOO[name](L=40)
    randomize(model, seed=1, scale=0.5)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(4)
    X, R = one_hot(rng, 7, 40), one_hot(rng, 7 * 5, 40).reshape(7, 5, 40, 4)
    res = genolift.attribute(graph, X, R, task=0, batch_size=16)
    assert_result_sums_to_delta(res)


def test_identical_reference_neurons_use_the_limit(tmp_path):
    """Where input and reference agree on neurons the near-zero fallback keeps sums exact."""
    model = zoo.basset_like()
    randomize(model, seed=2)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(0)
    X = one_hot(rng, 2, 24)
    R = np.repeat(X[:, None], 2, axis=1).copy()
    R[:, 1, :12] = one_hot(rng, 2, 12)  # second reference equals the input on half the sequence
    res = genolift.attribute(graph, X, R)
    assert np.all(np.isfinite(res.hypothetical))
    np.testing.assert_allclose(res.deltas, 0, atol=1e-5)
    want_hyp, _ = _oracle_hyp(graph, Engine(graph).target, X, R)
    np.testing.assert_allclose(res.hypothetical, want_hyp, atol=1e-5, rtol=1e-4)


def test_shared_reference_equals_paired(tmp_path):
    # no max pooling here: a constant reference ties every pooling window, and
    # float32 rounding then decides which tied position the cross-max rule picks
    model = zoo.residual()
    randomize(model, seed=9)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(3)
    X = one_hot(rng, 9, 24)
    r = np.tile(np.array([0.3, 0.2, 0.2, 0.3], np.float32), (24, 1))
    shared = genolift.attribute(graph, X, r, batch_size=4)
    paired = genolift.attribute(graph, X, np.broadcast_to(r, (9, 1, 24, 4)), batch_size=4)
    np.testing.assert_allclose(shared.hypothetical, paired.hypothetical, atol=1e-6)
    assert_sums_to_delta(shared.contributions, shared.predictions, shared.reference_predictions)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_batch_size_does_not_change_results(k, tmp_path):
    model = zoo.basset_like()
    randomize(model, seed=4)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(k)
    X, R = one_hot(rng, 5, 24), one_hot(rng, 5 * k, 24).reshape(5, k, 24, 4)
    plain = dict(compile="plain")  # one compilation throughout: plain and XLA are compared in test_compile.py
    one = genolift.attribute(graph, X, R, batch_size=1, **plain)
    many = genolift.attribute(graph, X, R, batch_size=64, **plain)
    odd = genolift.attribute(graph, X, R, batch_size=5, **plain)
    for other in (many, odd):
        np.testing.assert_allclose(one.hypothetical, other.hypothetical, atol=1e-6)
        np.testing.assert_allclose(one.reference_predictions, other.reference_predictions, atol=1e-6)
    sub = genolift.attribute(graph, X[2:4], R[2:4], batch_size=64, **plain)
    np.testing.assert_allclose(sub.hypothetical, many.hypothetical[2:4], atol=1e-6)


@pytest.mark.parametrize("kind", tiered(["profile", "profile-chrombpnet"], {"profile-chrombpnet"}))
def test_profile_targets_against_the_oracle(kind, tmp_path):
    model = zoo.bpnet_like()
    randomize(model, seed=12, scale=0.4)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(8)
    X, R = one_hot(rng, 2, 40), one_hot(rng, 2 * 3, 40).reshape(2, 3, 40, 4)
    # float64: the profile rule divides near-equal differences, and float32
    # rounding of the logits alone moves a few multipliers by ~1e-4 relative
    engine = Engine(graph, output="profile", target=kind, batch_size=4, precision="float64")
    assert engine.target.kind == kind and "profile" in engine.target.description
    res = engine.run(X, R)
    want = np.zeros_like(res.hypothetical, dtype=np.float64)
    dts = np.zeros(res.deltas.shape)
    for i in range(2):
        for k in range(3):
            m, vx, vr = oracle.rescale_multipliers(graph, engine.target.node, 0, X[i], R[i, k], kind=kind)
            want[i] += (m - (m * R[i, k]).sum(-1, keepdims=True)) / 3
            dts[i, k] = oracle.profile_seed(vx[engine.target.node], vr[engine.target.node], kind)[1]
    np.testing.assert_allclose(res.hypothetical, want, atol=1e-9, rtol=1e-7)
    np.testing.assert_allclose(res.predictions[:, None] - res.reference_predictions, dts, atol=1e-9)
    if kind == "profile":  # exact: sums to the target's difference per pair, in float32 too
        assert np.all(np.abs(res.deltas) <= 1e-9 * (1 + np.abs(dts)))
        single = Engine(graph, output="profile", target=kind, batch_size=4).run(X, R)
        assert single.hypothetical.dtype == np.float32
        assert np.all(np.abs(single.deltas) <= 1e-5 * (1 + np.abs(dts)))
    else:  # the fixed-weight convention does not sum exactly (documented)
        assert np.abs(res.deltas).max() > 1e-3


def test_counts_head_and_output_selection(tmp_path):
    model = zoo.bpnet_like()
    randomize(model, seed=3, scale=0.4)
    graph = save_load(model, tmp_path)
    assert Engine(graph).target.kind == "profile"  # auto: a (positions, strands) output is a profile
    rng = np.random.default_rng(1)
    X, R = one_hot(rng, 3, 40), one_hot(rng, 3 * 4, 40).reshape(3, 4, 40, 4)
    res = genolift.attribute(graph, X, R, output="counts", task=1)
    counts = model.predict(X, verbose=0)[1][:, 1]
    np.testing.assert_allclose(res.predictions, counts, rtol=1e-5, atol=1e-6)
    assert_sums_to_delta(None, res.predictions, res.reference_predictions, res.deltas)
    with pytest.raises(ValueError, match="profile"):
        Engine(graph, output="profile", target="task")


def _rc_symmetric_model(L=30):
    """Filters come in reverse-complement twins with tied output weights: f(x) = f(rc(x))."""
    import keras

    model = keras.Sequential([keras.Input((L, 4)), keras.layers.Conv1D(6, 5, activation="relu"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(4)
    w = rng.normal(size=(5, 4, 3)).astype("float32")
    kernel = np.concatenate([w, w[::-1, ::-1]], axis=-1)
    bias = np.tile(rng.normal(size=3).astype("float32") * 0.1, 2)
    model.layers[0].set_weights([kernel, bias])
    dense = np.tile(rng.normal(size=(3, 1)).astype("float32"), (2, 1))
    model.layers[2].set_weights([dense, np.zeros(1, "float32")])
    return model


def test_revcomp_on_a_symmetric_model_changes_nothing(tmp_path):
    model = _rc_symmetric_model()
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(5)
    X = one_hot(rng, 4, 30)
    np.testing.assert_allclose(model.predict(X, verbose=0), model.predict(X[:, ::-1, ::-1], verbose=0), rtol=1e-5)
    R = genolift.dinucleotide_shuffle(X, 3, seed=1)
    plain = genolift.attribute(graph, X, R)
    both = genolift.attribute(graph, X, R, revcomp=True)
    np.testing.assert_allclose(both.hypothetical, plain.hypothetical, atol=1e-6)
    np.testing.assert_allclose(both.predictions, plain.predictions, atol=1e-6)


def test_revcomp_keeps_summation_on_an_asymmetric_model(tmp_path):
    model = zoo.basset_like()
    randomize(model, seed=6)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(2)
    X = one_hot(rng, 3, 24)
    R = genolift.dinucleotide_shuffle(X, 3, seed=1)
    plain, both = genolift.attribute(graph, X, R), genolift.attribute(graph, X, R, revcomp=True)
    assert np.abs(both.hypothetical - plain.hypothetical).max() > 1e-3
    assert_sums_to_delta(both.contributions, both.predictions, both.reference_predictions)


def test_second_input_is_held_at_its_value(tmp_path):
    """References replace the sequence input only; the other input is the same in both branches."""
    import keras

    seq = keras.Input((20, 4), name="dna")
    bias = keras.Input((3,), name="bias_track")
    h = keras.layers.GlobalAveragePooling1D()(keras.layers.Conv1D(3, 5, activation="relu")(seq))
    h = keras.layers.Multiply()([h, keras.layers.Dense(3, activation="sigmoid")(bias)])
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([h, bias]))
    model = keras.Model([bias, seq], out)  # the sequence is not the first input
    randomize(model, seed=2)
    graph = save_load(model, tmp_path)
    assert graph.inputs[0] == "dna" and graph.extra_inputs == [("bias_track", (3,))]
    rng = np.random.default_rng(0)
    X, R = one_hot(rng, 4, 20), one_hot(rng, 4 * 3, 20).reshape(4, 3, 20, 4)
    extra = rng.normal(size=(4, 3)).astype("float32")
    res = genolift.attribute(graph, X, R, extras=[extra], batch_size=5)
    np.testing.assert_allclose(res.predictions, model.predict([extra, X], verbose=0)[:, 0], rtol=1e-5, atol=1e-6)
    refs = model.predict([np.repeat(extra, 3, axis=0), R.reshape(12, 20, 4)], verbose=0)[:, 0].reshape(4, 3)
    np.testing.assert_allclose(res.reference_predictions, refs, rtol=1e-5, atol=1e-6)
    assert_sums_to_delta(None, res.predictions, res.reference_predictions, res.deltas)
    with pytest.raises(ValueError, match="bias_track"):
        genolift.attribute(graph, X, R)


def test_gradient_rules_on_a_linear_model_agree_with_theory(tmp_path):
    """For t = Σ W·x + b every method's multipliers are W: gradient and IG give w·(x − r̄),
    grad×input gives w·x, and DeepLIFT equals IG exactly."""
    import keras

    model = keras.Sequential([keras.Input((12, 4)), keras.layers.Flatten(), keras.layers.Dense(1)])
    randomize(model, seed=1)
    graph = save_load(model, tmp_path)
    W = model.layers[-1].get_weights()[0].reshape(12, 4).astype(np.float64)
    rng = np.random.default_rng(3)
    X, R = one_hot(rng, 3, 12), one_hot(rng, 3 * 4, 12).reshape(3, 4, 12, 4)
    per_pos = {rule: genolift.attribute(graph, X, R, rule=rule, steps=3).contributions.sum(-1)
               for rule in ("rescale", "gradient", "integrated-gradients", "grad-x-input", "guided-backprop")}
    want = (W * (X - R.mean(axis=1))).sum(-1)
    for rule in ("rescale", "gradient", "integrated-gradients", "guided-backprop"):
        np.testing.assert_allclose(per_pos[rule], want, atol=1e-5, err_msg=rule)
    np.testing.assert_allclose(per_pos["grad-x-input"], (W * X).sum(-1), atol=1e-5)


def test_integrated_gradients_completeness_improves_with_steps(tmp_path):
    model = zoo.pooling_mix()
    randomize(model, seed=5, scale=0.6)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(9)
    X, R = one_hot(rng, 3, 24), one_hot(rng, 3 * 2, 24).reshape(3, 2, 24, 4)
    errors = [np.abs(genolift.attribute(graph, X, R, rule="integrated-gradients", steps=s).deltas).max()
              for s in (1, 4, 32)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.2 * errors[0]
    rescale = genolift.attribute(graph, X, R)
    assert np.abs(rescale.deltas).max() < 1e-5 < errors[2]


def test_guided_backprop_differs_from_the_gradient_only_through_relus(tmp_path):
    model = zoo.basset_like()
    randomize(model, seed=8)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(4)
    X, R = one_hot(rng, 2, 24), one_hot(rng, 2, 24).reshape(2, 1, 24, 4)
    plain = genolift.attribute(graph, X, R, rule="gradient")
    guided = genolift.attribute(graph, X, R, rule="guided-backprop")
    assert np.abs(plain.hypothetical - guided.hypothetical).max() > 1e-4
    np.testing.assert_allclose(plain.predictions, guided.predictions)


@pytest.mark.parametrize("name, rule", zoo.cases(["gradient", "guided-backprop", "grad-x-input",
                                                  "integrated-gradients"],
                                              fast_models=["basset_like", "overlapping_pools", "mixers", "residual"]))
def test_gradient_rules_match_the_oracle(name, rule, tmp_path):
    graph, X, R = _zoo_case(name, tmp_path, k=2)
    engine = Engine(graph, task=1, rule=rule, precision="float64", steps=3)
    res = engine.run(X, R)
    grad = lambda point: oracle.gradient_multipliers(  # noqa: E731
        graph, engine.target.node, 1, point, guided=rule == "guided-backprop", normalise=engine.target.normalise)
    for i in range(2):
        if rule == "grad-x-input":
            want = grad(X[i])
        elif rule == "integrated-gradients":
            ms = [np.mean([grad(R[i, k] + (s + 0.5) / 3 * (X[i] - R[i, k])) for s in range(3)], axis=0)
                  for k in range(2)]
            want = np.mean([m - (m * R[i, k]).sum(-1, keepdims=True) for k, m in enumerate(ms)], axis=0)
        else:
            m = grad(X[i])
            want = np.mean([m - (m * R[i, k]).sum(-1, keepdims=True) for k in range(2)], axis=0)
        np.testing.assert_allclose(res.hypothetical[i], want, atol=1e-7, rtol=1e-5)


def _min_network(tmp_path):
    """y = i1 − relu(i1 − i2), i1 = X[0, 0] and i2 = X[1, 0]: y = min(i1, i2) (paper §3.5.3)."""
    import keras

    inp = keras.Input((2, 4))
    flat = keras.layers.Flatten()(inp)
    h = keras.layers.Dense(1, activation="relu", name="h")(flat)
    model = keras.Model(inp, keras.layers.Dense(1, name="y")(keras.layers.Concatenate()([flat, h])))
    w = np.zeros((8, 1), "float32")
    w[0, 0], w[4, 0] = 1, -1
    model.get_layer("h").set_weights([w, np.zeros(1, "float32")])
    w2 = np.zeros((9, 1), "float32")
    w2[0, 0], w2[8, 0] = 1, -1
    model.get_layer("y").set_weights([w2, np.zeros(1, "float32")])
    return save_load(model, tmp_path)


@pytest.mark.parametrize("i1, i2", [(2.0, 1.0), (1.0, 3.0), (0.5, 0.5)])
def test_min_example_of_the_paper(i1, i2, tmp_path):
    graph = _min_network(tmp_path)
    X = np.zeros((1, 2, 4), np.float32)
    X[0, 0, 0], X[0, 1, 0] = i1, i2
    zero = np.zeros((2, 4), np.float32)

    def credit(rule):
        c = genolift.attribute(graph, X, zero, rule=rule).contributions[0]
        return c[0, 0], c[1, 0]

    low = min(i1, i2)
    assert credit("revealcancel") == pytest.approx((0.5 * low, 0.5 * low), abs=1e-6)
    # Rescale and gradient×input give all the credit to the smaller input and none to the other
    smaller_first = (low, 0.0) if i1 < i2 else (0.0, low)
    if i1 != i2:
        assert credit("rescale") == pytest.approx(smaller_first, abs=1e-6)
        assert credit("grad-x-input") == pytest.approx(smaller_first, abs=1e-6)


@pytest.mark.parametrize("name, rule", zoo.cases(["revealcancel", "genomics-default"],
                                              fast_models=["overlapping_pools", "mixers"]))
def test_revealcancel_rules_match_the_oracle_and_sum(name, rule, tmp_path):
    graph, X, R = _zoo_case(name, tmp_path, k=2)
    L = graph.length
    engine = Engine(graph, task=1, rule=rule, precision="float64", batch_size=4)
    res = engine.run(X, R)
    for i in range(2):
        want = np.zeros((L, 4))
        for k in range(2):
            m = oracle.deeplift_multipliers(graph, engine.target.node, 1, X[i], R[i, k], rule=rule,
                                            normalise=engine.target.normalise)
            want += (m - (m * R[i, k]).sum(-1, keepdims=True)) / 2
        np.testing.assert_allclose(res.hypothetical[i], want, atol=1e-8, rtol=1e-6)
    dt = res.predictions[:, None] - res.reference_predictions
    assert np.all(np.abs(res.deltas) <= 1e-9 * (1 + np.abs(dt)))
    single = Engine(graph, task=1, rule=rule).run(X, R)
    assert np.all(np.abs(single.deltas) <= 1e-5 * (1 + np.abs(dt)))


def test_genomics_default_is_revealcancel_after_dense_and_rescale_after_conv(tmp_path):
    """A conv → relu → dense → relu model: genomics-default equals RevealCancel at the dense
    nonlinearity and Rescale at the conv one, observably different from both pure rules."""
    import keras

    model = keras.Sequential([keras.Input((16, 4)), keras.layers.Conv1D(4, 5, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dense(1)])
    randomize(model, seed=21, scale=0.6)
    graph = save_load(model, tmp_path)
    rng = np.random.default_rng(2)
    X, R = one_hot(rng, 3, 16), one_hot(rng, 3 * 2, 16).reshape(3, 2, 16, 4)
    hyp = {rule: Engine(graph, rule=rule, precision="float64").run(X, R).hypothetical
           for rule in ("rescale", "revealcancel", "genomics-default")}
    assert np.abs(hyp["genomics-default"] - hyp["rescale"]).max() > 1e-4
    assert np.abs(hyp["genomics-default"] - hyp["revealcancel"]).max() > 1e-4
    conv = next(n.name for n in graph.nodes if n.op == "relu" and "conv" in n.name)
    dense = next(n.name for n in graph.nodes if n.op == "relu" and "dense" in n.name)
    assert set(Engine(graph, rule="genomics-default").network.reveal) == {dense}
    assert set(Engine(graph, rule="revealcancel").network.reveal) == {conv, dense}


@pytest.mark.parametrize("precision, bound", [("bfloat16", 0.05), ("float16", 0.01)])
def test_low_precision_reports_its_deltas(precision, bound):
    """Where the CPU runs the precision, the deltas stay within their bound; where it cannot
    (no native half-precision kernels), the engine refuses up front, naming the device."""
    from genolift.errors import DeviceError

    from .conftest import TEST_DATA

    graph = genolift.load_model(TEST_DATA / "example_model.h5")
    X = np.load(TEST_DATA / "example_model_predictions.npz")["X"][:6]
    R = genolift.dinucleotide_shuffle(X, 4, seed=0)
    exact = Engine(graph).run(X, R)
    try:
        engine = Engine(graph, precision=precision)
    except DeviceError as exc:
        assert f"--precision {precision} cannot run on /device:CPU:0" in str(exc)
        assert str(exc).endswith("float32")
        return
    low = engine.run(X, R)
    assert low.hypothetical.dtype == np.float32
    scale = np.abs(exact.predictions[:, None] - exact.reference_predictions).max()
    assert np.abs(exact.deltas).max() < np.abs(low.deltas).max() < bound * scale
    np.testing.assert_allclose(low.predictions, exact.predictions, atol=bound * scale)


def test_half_precision_without_native_kernels_is_a_clear_refusal(tmp_path):
    """With oneDNN off, TensorFlow falls back to its Eigen CPU kernels, which (as on CPUs without
    AVX-512, where oneDNN declines half precision) lack the float16 gradient of these convolutions:
    ``score --precision float16`` exits 1 with one line naming the device, never an internal error."""
    import subprocess
    import sys

    from .conftest import TEST_DATA

    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "f16.h5"
    proc = subprocess.run(
        [sys.executable, "-m", "genolift", "score", str(TEST_DATA / "example_model.h5"),
         str(TEST_DATA / "example_peaks.narrowPeak"), "-g", str(TEST_DATA / "example_genome.fa"),
         "--precision", "float16", "-k", "2", "-q", "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("genolift:")]
    if proc.returncode == 0:  # this platform's fallback has the kernels: the run is complete
        assert out.exists()
        return
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr
    assert lines == [lines[0]] and "--precision float16 cannot run on /device:CPU:0" in lines[0], proc.stderr
    assert "use --precision" in lines[0] and not out.exists()
