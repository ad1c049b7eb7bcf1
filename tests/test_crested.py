"""Models built by CREsted 1.11's own zoo functions, and a DanQ-style model (scripts/make_crested_fixtures.py).

Keras's predictions are committed with the files: genolift's forward pass must match
them (CREsted is not needed here), the .keras and .h5 files must read alike, and
DeepLIFT must sum to delta for every (sequence, reference) pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import genolift
from genolift.engine.network import Network

from .conftest import one_hot
from .helpers import assert_result_sums_to_delta, tiered

DATA = Path(__file__).resolve().parent.parent / "test_data"
SUPPORTED = ["simple_convnet", "simple_convnet_gelu_approx", "deeptopic_cnn", "deeptopic_lstm", "dilated_cnn",
             "dilated_cnn_decoupled", "basenji", "legnet", "danq"]


def _path(name: str, suffix: str) -> Path:
    return DATA / f"{name if name == 'danq' else 'crested_' + name}{suffix}"


@pytest.fixture(scope="module")
def predictions():
    return dict(np.load(DATA / "crested_predictions.npz"))


@pytest.mark.parametrize("name", SUPPORTED)
def test_forward_matches_keras_and_both_formats_read_alike(name, predictions):
    want = predictions[name]
    graphs = [genolift.load_model(_path(name, suffix)) for suffix in (".keras", ".h5")]
    X = predictions[f"X_{graphs[0].length}"]
    got = [Network(g).forward(X)[0].numpy() for g in graphs]
    for value in got:
        np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    np.testing.assert_array_equal(got[0], got[1])
    assert [n.op for n in graphs[0].nodes] == [n.op for n in graphs[1].nodes]


@pytest.mark.parametrize("name", tiered(SUPPORTED, {"simple_convnet", "dilated_cnn", "deeptopic_cnn"}))
def test_every_pair_sums_to_delta(name):
    graph = genolift.load_model(_path(name, ".keras"))
    rng = np.random.default_rng(0)
    X = one_hot(rng, 2, graph.length)
    R = one_hot(rng, 2 * 3, graph.length).reshape(2, 3, graph.length, 4)
    res = genolift.attribute(graph, X, R, task=1, batch_size=6, compile="plain")
    assert_result_sums_to_delta(res)
    assert np.abs(res.contributions).sum() > 0


def test_a_registered_activation_is_genolifts_own_and_named_by_its_registered_name():
    from genolift.model.config import read_config, scan_config

    config = read_config(_path("simple_convnet_gelu_approx", ".keras"))
    assert scan_config(config) == []
    graph = genolift.load_model(_path("simple_convnet_gelu_approx", ".h5"))
    assert "gelu_tanh" in {n.op for n in graph.nodes}
    entry = {"class_name": "Activation", "config": {"name": "a", "activation": {
        "module": "builtins", "class_name": "function", "config": "mylab>mish", "registered_name": "function"}}}
    config = {"class_name": "Functional", "config": {"layers": [entry]}}
    assert scan_config(config) == ["'a' (Activation with activation 'mylab>mish': no genolift rule)"]
