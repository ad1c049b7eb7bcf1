"""Attention: Keras's MultiHeadAttention, CREsted's registered attention layers, the bilinear Shapley split.

CREsted's fixtures (scripts/make_crested_fixtures.py) were built with CREsted's own code; genolift reads
them with its own implementation and must match CREsted's committed predictions.  The zoo's ``enformer``
(too large to commit) is built here when CREsted is installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import genolift
from genolift.engine import rules
from genolift.engine.backends import load
from genolift.engine.network import Network
from genolift.errors import UnsupportedLayerError
from genolift.inspect import parity
from genolift.model.config import read_config, scan_config
from genolift.model.keras_reader import to_graph

from . import oracle
from .conftest import one_hot, randomize
from .helpers import assert_result_sums_to_delta, tiered

DATA = Path(__file__).resolve().parent.parent / "test_data"
L = 16


def _keras_mha_model(cross: bool):
    import keras
    from keras import layers

    inp = keras.Input((L, 4), name="dna")
    h = layers.Conv1D(6, 3, padding="same", activation="relu")(inp)
    if cross:
        side = layers.Conv1D(5, 1)(inp)
        key = layers.Conv1D(3, 1)(h)
        a = layers.MultiHeadAttention(2, 3, value_dim=4, output_shape=4, name="mha")(h, side, key=key)
    else:
        a = layers.MultiHeadAttention(3, 2, name="mha")(h, h)
    model = keras.Model(inp, layers.Dense(2, name="head")(layers.Flatten()(a)))
    randomize(model, seed=2, scale=0.6)
    return model


@pytest.mark.parametrize("cross", [False, True], ids=["self", "query_value_key"])
def test_keras_multi_head_attention_parity_and_summation(cross, tmp_path):
    model = _keras_mha_model(cross)
    rng = np.random.default_rng(0)
    X = one_hot(rng, 3, L)
    want = model.predict(X, verbose=0)
    graphs = []
    for suffix in (".keras", ".h5"):
        model.save(tmp_path / f"m{suffix}")
        graphs.append(genolift.load_model(tmp_path / f"m{suffix}"))
        np.testing.assert_allclose(Network(graphs[-1]).forward(X)[0].numpy(), want, rtol=1e-5, atol=1e-6)
    assert [n.op for n in graphs[0].nodes] == [n.op for n in graphs[1].nodes]
    assert "einsum" in {n.op for n in graphs[0].nodes}
    res = genolift.attribute(graphs[0], X, one_hot(rng, 3 * 2, L).reshape(3, 2, L, 4), task=1, batch_size=6,
                             compile="plain")
    assert_result_sums_to_delta(res)
    assert np.abs(res.contributions).sum() > 0


@pytest.mark.parametrize("kwargs, words", [({"use_causal_mask": True}, "a causal mask"),
                                           ({"return_attention_scores": True}, "attention scores returned")])
def test_masked_attention_is_refused_alike_in_both_formats(kwargs, words, tmp_path):
    import keras
    from keras import layers

    inp = keras.Input((L, 4))
    h = layers.Conv1D(4, 3, padding="same")(inp)
    a = layers.MultiHeadAttention(2, 2, name="mha")(h, h, **kwargs)
    a = a[0] if isinstance(a, tuple) else a
    keras.Model(inp, layers.Dense(1)(layers.Flatten()(a))).save(tmp_path / "m.keras")
    keras.Model(inp, layers.Dense(1)(layers.Flatten()(a))).save(tmp_path / "m.h5")
    verdicts = [scan_config(read_config(tmp_path / f"m{s}")) for s in (".keras", ".h5")]
    assert verdicts[0] == verdicts[1] == [f"'mha' (MultiHeadAttention with {words} (genolift refuses masked or "
                                          "score-returning attention))"]
    with pytest.raises(UnsupportedLayerError, match=words) as info:
        genolift.load_model(tmp_path / "m.keras")
    assert "would run code" not in str(info.value)


def test_bilinear_split_sums_exactly_to_the_change():
    """Σ m_a·Δa + Σ m_b·Δb = B(a, b) − B(a⁰, b⁰) for einsum B, J = 2 taped rows per other-branch row."""
    rng = np.random.default_rng(3)
    eq = "bihd,bjhd->bhij"
    a, b = (tf.constant(rng.normal(size=(4, 5, 2, 3))) for _ in range(2))
    a0, b0 = (tf.constant(rng.normal(size=(2, 5, 2, 3))) for _ in range(2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        y = rules.bilinear(load("tensorflow"), eq, a, b, a0, b0, 2)
        total = tf.reduce_sum(y, axis=[1, 2, 3])
    ma, mb = tape.gradient(total, [a, b])
    da, db = a - tf.repeat(a0, 2, axis=0), b - tf.repeat(b0, 2, axis=0)
    want = total - tf.reduce_sum(tf.einsum(eq, tf.repeat(a0, 2, axis=0), tf.repeat(b0, 2, axis=0)), axis=[1, 2, 3])
    got = tf.reduce_sum(ma * da, axis=[1, 2, 3]) + tf.reduce_sum(mb * db, axis=[1, 2, 3])
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    assert rules.check_bilinear(eq) is None and rules.check_bilinear("ij,jk->i")


def _standin_model(functions: str, absolute: bool, symmetric: bool):
    """A tiny model of genolift's stand-ins for CREsted's layers (converted in memory, no file)."""
    import keras
    from keras import layers

    from genolift.model.crested_layers import standins

    mha, pool = standins()["crested>MultiheadAttention"], standins()["crested>AttentionPool1D"]
    inp = keras.Input((12, 4))
    h = pool(pool_size=2, name="pool")(layers.Conv1D(4, 3, padding="same")(inp))
    h = pool(pool_size=2, per_channel=False, name="pool_shared")(h)
    h = mha(value_size=2, key_size=2, heads=2, relative_position_functions=functions,
            relative_position_absolute=absolute, relative_position_symmetric=symmetric,
            num_position_features=12 if functions == "enformer" else 4, name="mha")(h)
    model = keras.Model(inp, layers.Dense(2)(layers.Flatten()(h)))
    randomize(model, seed=4, scale=0.7)
    return model


@pytest.mark.parametrize("functions, absolute, symmetric", [("enformer", True, False), ("borzoi", True, False),
                                                            ("borzoi", False, True)])
def test_crested_attention_multipliers_match_the_float64_oracle(functions, absolute, symmetric):
    model = _standin_model(functions, absolute, symmetric)
    graph = to_graph(model)
    assert {"einsum", "einsum_const", "relative_shift"} <= {n.op for n in graph.nodes}
    rng = np.random.default_rng(5)
    X, R = one_hot(rng, 2, 12), one_hot(rng, 2, 12)
    want = model.predict(X, verbose=0)
    np.testing.assert_allclose(Network(graph).forward(X)[0].numpy(), want, rtol=1e-5, atol=1e-6)
    res = genolift.attribute(graph, X, R[:, None], task=0, batch_size=2, precision="float64", compile="plain")
    for i in range(2):
        np.testing.assert_allclose(oracle.forward(graph, X[i])[graph.outputs[0]], want[i], rtol=1e-5, atol=1e-6)
        m, _, _ = oracle.rescale_multipliers(graph, graph.outputs[0], 0, X[i], R[i])
        hyp = np.stack([(m * (np.eye(4)[b] - R[i])).sum(-1) for b in range(4)], axis=-1)
        np.testing.assert_allclose(res.hypothetical[i], hyp, rtol=1e-8, atol=1e-9)
    assert np.all(np.abs(res.deltas) <= 1e-9 * (1 + np.abs(res.predictions[:, None] - res.reference_predictions)))


CRESTED = ["enformer_blocks", "borzoi", "enformer"]


@pytest.fixture(scope="module")
def predictions():
    return dict(np.load(DATA / "crested_predictions.npz"))


@pytest.mark.parametrize("name", tiered(CRESTED, {"enformer_blocks"}))
def test_crested_fixtures_match_crested_and_sum_to_delta(name, predictions):
    paths = [DATA / f"crested_{name}{suffix}" for suffix in (".keras", ".h5")]
    assert scan_config(read_config(paths[0])) == [] and scan_config(read_config(paths[1])) == []
    graphs = [genolift.load_model(p) for p in paths]
    want = predictions[name]
    X = predictions[f"X_{graphs[0].length}"]
    got = [Network(g).forward(X)[0].numpy() for g in graphs]
    for value in got:
        np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    np.testing.assert_array_equal(got[0], got[1])
    assert parity(paths[1], n=2).diffs[0] <= 1e-4 * np.abs(want).max()  # genolift's stand-ins in Keras
    rng = np.random.default_rng(0)
    n, k, length = 2, 3, graphs[0].length
    res = genolift.attribute(graphs[0], one_hot(rng, n, length), one_hot(rng, n * k, length).reshape(n, k, length, 4),
                             task=1, batch_size=6, compile="plain")
    assert_result_sums_to_delta(res)
    assert np.abs(res.contributions).sum() > 0


def test_reading_crested_layers_never_imports_crested():
    code = ("import sys, genolift; genolift.load_model(sys.argv[1]); genolift.load_model(sys.argv[2]); "
            "assert 'crested' not in sys.modules, 'crested imported'")
    paths = [str(DATA / f"crested_enformer_blocks{s}") for s in (".keras", ".h5")]
    done = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_crested_zoo_enformer_at_its_smallest_widths(tmp_path):
    """CREsted's own enformer() (384 filters, 1,536 bp, one transformer block), built when CREsted is installed."""
    pytest.importorskip("crested")
    scripts = Path(__file__).resolve().parent.parent / "scripts"
    sys.path.insert(0, str(scripts))
    try:
        import make_crested_fixtures as make
    finally:
        sys.path.remove(str(scripts))
    build, length = make.architectures()["enformer"]
    model = build(length)
    make._randomise(model, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    X = one_hot(rng, 2, length)
    want = model.predict(X, verbose=0)
    model.save(tmp_path / "enformer.keras")
    graph = genolift.load_model(tmp_path / "enformer.keras")
    np.testing.assert_allclose(Network(graph).forward(X)[0].numpy(), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    res = genolift.attribute(graph, X, one_hot(rng, 2 * 2, length).reshape(2, 2, length, 4), task=1, batch_size=4,
                             compile="plain")
    assert_result_sums_to_delta(res)
