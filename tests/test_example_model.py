"""The example model in its three file formats: forward parity and summation-to-delta."""

from __future__ import annotations

import numpy as np
import pytest

import genolift
from genolift.engine import Engine
from genolift.engine.network import Network
from genolift.references import gc_background

from .conftest import TEST_DATA
from .helpers import assert_result_sums_to_delta

FILES = ["example_model.h5", "example_model_keras3.h5", "example_model.keras"]


@pytest.fixture(scope="module")
def committed():
    return np.load(TEST_DATA / "example_model_predictions.npz")


def test_tf_keras2_file_is_a_keras2_file():
    import h5py

    with h5py.File(TEST_DATA / "example_model.h5", "r") as f:
        assert str(f.attrs["keras_version"]).startswith("2.")


@pytest.mark.parametrize("name", FILES)
def test_forward_parity_in_every_format(name, committed):
    import keras

    graph = genolift.load_model(TEST_DATA / name)
    X = committed["X"]
    got = Network(graph, Engine(graph).target).forward(X)[0].numpy()
    np.testing.assert_allclose(got, committed["y"], rtol=1e-5, atol=1e-6)
    want = keras.saving.load_model(TEST_DATA / name, compile=False).predict(X, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for task in (0, 1):
        logits = Engine(graph, task=task).predict(X)
        np.testing.assert_allclose(logits, committed["logits"][:, task], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reference", ["shuffle", "gc"])
def test_summation_to_delta_on_the_example_model(reference, committed):
    graph = genolift.load_model(TEST_DATA / "example_model.h5")
    X = committed["X"]
    refs = genolift.dinucleotide_shuffle(X, 6, seed=3) if reference == "shuffle" else gc_background(X, 0.4)
    res = genolift.attribute(graph, X, refs, task=1, batch_size=16)
    assert_result_sums_to_delta(res)
    np.testing.assert_allclose(res.predictions, committed["logits"][:, 1], rtol=1e-5, atol=1e-5)
