"""Keras 3 operation nodes (``keras.ops.*`` between layers): one support-table row each, exact DeepLIFT."""

from __future__ import annotations

import numpy as np
import pytest

import genolift
from genolift.engine.network import Network
from genolift.errors import UnsupportedLayerError
from genolift.model.support import OPERATIONS

from . import oracle
from .conftest import one_hot, randomize
from .helpers import assert_result_sums_to_delta

L = 12


def _ops_model():
    """Every supported operation at least once: reductions, arithmetic with constants and tensors,
    elementwise functions, concatenation, reshapes, transposes, softmax."""
    import keras
    from keras import layers, ops

    inp = keras.Input((L, 4), name="dna")
    h = layers.Conv1D(3, 3, padding="same", name="conv")(inp)
    d = ops.exp(h) * 0.5 + h / 3.0 - 1.0
    d = ops.subtract(2.0, ops.negative(d)) / ops.add(ops.square(h), 1.5)
    s = ops.log(ops.sqrt(ops.square(h) + 1.0) + 0.5) + ops.sigmoid(h) * ops.tanh(h)
    e = ops.softmax(ops.concatenate([d, s], axis=-1), axis=-1)
    t = layers.Flatten()(ops.transpose(e, (0, 2, 1)))
    top = ops.expand_dims(ops.squeeze(ops.max(h, axis=1, keepdims=True), axis=1), 1)
    mean = ops.mean(h, axis=1)
    parts = [mean, ops.min(h, axis=1), ops.sum(h, axis=-1), ops.sum(s, axis=1), t, layers.Flatten()(top), ops.reshape(ops.multiply(h, d), (-1, 3 * L)),
             ops.divide(3.0, ops.add(ops.square(mean), 1.0)), ops.reciprocal(ops.add(ops.square(mean), 2.0))]
    out = layers.Dense(2, name="head")(layers.Concatenate()(parts))
    model = keras.Model(inp, out)
    randomize(model, seed=5, scale=0.6)
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = _ops_model()
    folder = tmp_path_factory.mktemp("ops")
    for suffix in (".keras", ".h5"):
        model.save(folder / f"m{suffix}")
    return model, folder


def test_every_operation_row_is_exercised(saved):
    import json
    import zipfile

    model, folder = saved
    config = json.loads(zipfile.ZipFile(folder / "m.keras").read("config.json"))
    used = {e["class_name"] for e in config["config"]["layers"] if e.get("module", "").startswith("keras.src.ops")}
    assert used >= set(OPERATIONS) - {"Relu", "Softplus", "Silu", "TrueDivide"}, set(OPERATIONS) - used


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_forward_parity_and_summation(saved, suffix):
    model, folder = saved
    graph = genolift.load_model(folder / f"m{suffix}")
    rng = np.random.default_rng(1)
    X = one_hot(rng, 3, L)
    np.testing.assert_allclose(Network(graph).forward(X)[0].numpy(), model.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)
    R = one_hot(rng, 3 * 3, L).reshape(3, 3, L, 4)
    res = genolift.attribute(graph, X, R, task=1, batch_size=9, compile="plain")
    assert_result_sums_to_delta(res)


def test_multipliers_match_the_float64_oracle(saved):
    model, folder = saved
    graph = genolift.load_model(folder / "m.keras")
    rng = np.random.default_rng(3)
    X, R = one_hot(rng, 2, L), one_hot(rng, 2, L)
    res = genolift.attribute(graph, X, R[:, None], task=0, batch_size=2, precision="float64", compile="plain")
    for i in range(2):
        m, _, _ = oracle.rescale_multipliers(graph, graph.outputs[0], 0, X[i], R[i])
        hyp = np.stack([(m * (np.eye(4)[b] - R[i])).sum(-1) for b in range(4)], axis=-1)
        np.testing.assert_allclose(res.hypothetical[i], hyp, rtol=1e-8, atol=1e-9)


def test_an_operation_without_a_rule_is_named_and_gets_no_lambda_advice(tmp_path):
    import keras
    from keras import layers, ops

    inp = keras.Input((L, 4))
    h = ops.cumsum(layers.Conv1D(2, 3)(inp), axis=1)
    keras.Model(inp, layers.Dense(1)(layers.Flatten()(h))).save(tmp_path / "c.keras")
    with pytest.raises(UnsupportedLayerError) as caught:
        genolift.load_model(tmp_path / "c.keras")
    assert "keras.ops Cumsum: operation without a genolift rule" in str(caught.value)
    assert "Lambda" not in str(caught.value)
