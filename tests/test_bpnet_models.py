"""BPNet- and ChromBPNet-like fixtures in three file formats: parity and exact profile/counts targets."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import genolift
from genolift.cli.main import cli
from genolift.engine import Engine
from genolift.engine.network import Network

from .conftest import TEST_DATA
from .helpers import assert_result_sums_to_delta

MODELS = {"bpnet_like": ("profile", "counts"), "chrombpnet_like": ("logits_profile_predictions", "logcount_predictions")}
FILES = [(name, suffix) for name in MODELS for suffix in (".h5", "_keras3.h5", ".keras")]


@pytest.mark.parametrize("name, suffix", FILES)
def test_forward_parity(name, suffix):
    graph = genolift.load_model(TEST_DATA / f"{name}{suffix}")
    assert graph.output_names == list(MODELS[name])
    committed = np.load(TEST_DATA / f"{name}_predictions.npz")
    profile, counts = (o.numpy() for o in Network(graph).forward(committed["X"]))
    for got, want in ((profile, committed["profile"]), (counts, committed["counts"])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("head", ["profile", "counts"])
def test_summation_to_delta_per_pair(name, head):
    graph = genolift.load_model(TEST_DATA / f"{name}.h5")
    X = np.load(TEST_DATA / f"{name}_predictions.npz")["X"][:3]
    refs = genolift.dinucleotide_shuffle(X, 4, seed=2)
    output = MODELS[name][0 if head == "profile" else 1]
    res = genolift.attribute(graph, X, refs, output=output, batch_size=8)
    dt = res.predictions[:, None] - res.reference_predictions
    assert np.abs(dt).max() > 0
    assert_result_sums_to_delta(res)


def test_chrombpnet_compatible_profile_mode_is_documented_as_inexact():
    graph = genolift.load_model(TEST_DATA / "chrombpnet_like.h5")
    X = np.load(TEST_DATA / "chrombpnet_like_predictions.npz")["X"][:3]
    refs = genolift.dinucleotide_shuffle(X, 4, seed=2)
    exact = Engine(graph, target="profile").run(X, refs)
    compat = Engine(graph, target="profile-chrombpnet").run(X, refs)
    assert "ChromBPNet-compatible" in Engine(graph, target="profile-chrombpnet").target.description
    np.testing.assert_allclose(exact.predictions, compat.predictions, rtol=1e-6)  # same target value
    assert np.abs(compat.deltas).max() > 100 * max(np.abs(exact.deltas).max(), 1e-7)


def test_info_on_the_fixtures():
    for name in MODELS:
        result = CliRunner().invoke(cli, ["info", str(TEST_DATA / f"{name}.h5")])
        assert result.exit_code == 0, result.stderr
        assert "Cropping1D" in result.stdout and "Add" in result.stdout and "parity: ok" in result.stdout
