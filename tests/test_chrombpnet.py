"""ChromBPNet as users have it: files from chrombpnet's own code, nested models, the counts Lambda."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import genolift
from genolift.cli.main import cli
from genolift.engine.network import Network
from genolift.errors import UnsupportedLayerError

from .conftest import TEST_DATA, one_hot, randomize
from .helpers import assert_result_sums_to_delta

FULL, NOBIAS, BIAS = (TEST_DATA / f for f in ("chrombpnet.h5", "chrombpnet_nobias.h5", "chrombpnet_bias.h5"))


@pytest.fixture(scope="module")
def committed():
    return np.load(TEST_DATA / "chrombpnet_predictions.npz")


def test_full_model_parity_with_the_substituted_combiner(committed):
    graph = genolift.load_model(FULL)
    assert graph.substituted == {"logcount_predictions": genolift.model.config.KNOWN_LAMBDAS["logcount_predictions"]}
    profile, counts = (o.numpy() for o in Network(graph).forward(committed["X"]))
    np.testing.assert_allclose(profile, committed["profile"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(counts, committed["counts"], rtol=1e-5, atol=1e-6)
    nobias = genolift.load_model(NOBIAS)
    got = [o.numpy() for o in Network(nobias).forward(committed["X"])]
    np.testing.assert_allclose(got[0], committed["nobias_profile"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], committed["nobias_counts"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("path", [FULL, NOBIAS])
@pytest.mark.parametrize("head", [0, 1])
def test_summation_to_delta_on_both_heads(path, head, committed):
    graph = genolift.load_model(path)
    X = committed["X"][:3]
    refs = genolift.dinucleotide_shuffle(X, 4, seed=5)
    res = genolift.attribute(graph, X, refs, output=head, batch_size=8)
    dt = res.predictions[:, None] - res.reference_predictions
    assert np.abs(dt).max() > 1e-4
    assert_result_sums_to_delta(res)


def test_no_known_lambdas_refuses(tmp_path):
    with pytest.raises(UnsupportedLayerError, match="logcount_predictions"):
        genolift.load_model(FULL, known_lambdas=False)
    fasta = tmp_path / "s.fa"
    fasta.write_text("".join(f">s{i}\n{'ACGT' * 100}\n" for i in range(2)))
    result = CliRunner().invoke(cli, ["score", str(FULL), str(fasta), "-o", str(tmp_path / "o.h5"), "--shuffles", "2"])
    assert result.exit_code == 0, result.stderr
    assert "recognised as the logsumexp" in result.stderr
    with h5py.File(tmp_path / "o.h5") as f:
        assert "logcount_predictions" in f.attrs["substituted_lambdas"]
    refused = CliRunner().invoke(cli, ["score", str(FULL), str(fasta), "-o", str(tmp_path / "r.h5"),
                                       "--no-known-lambdas"])
    assert refused.exit_code == 1 and "Lambda" in refused.stderr


def _lambda_body(marker):
    return eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x[:, :1])[1]")  # noqa: S307


@pytest.mark.parametrize("where", ["after-dense", "not-an-output", "arbitrary-name"])
def test_lookalike_lambdas_are_refused_and_never_run(where, tmp_path):
    import keras

    marker = tmp_path / "code_ran"
    inp = keras.Input((20, 4), name="sequence")
    h = keras.layers.GlobalAveragePooling1D()(keras.layers.Conv1D(3, 3)(inp))
    a, b = keras.layers.Dense(1)(h), keras.layers.Dense(1)(h)
    if where == "after-dense":
        lam = keras.layers.Lambda(_lambda_body(marker), name="logcount_predictions")(keras.layers.Dense(2)(h))
        outputs = [lam]
    elif where == "not-an-output":
        lam = keras.layers.Lambda(_lambda_body(marker), name="logcount_predictions")(
            keras.layers.Concatenate()([a, b]))
        outputs = [keras.layers.Dense(1)(lam)]
    else:
        outputs = [keras.layers.Lambda(_lambda_body(marker), name="combine")(keras.layers.Concatenate()([a, b]))]
    path = tmp_path / "m.h5"
    keras.Model(inp, outputs).save(path)
    marker.unlink()
    with pytest.raises(UnsupportedLayerError, match="Lambda"):
        genolift.load_model(path)
    assert not marker.exists()


def _nested_models():
    import keras
    from keras import layers

    tower = keras.Sequential([keras.Input((30, 4)), layers.Conv1D(4, 5, activation="relu"), layers.MaxPooling1D(2)],
                             name="tower")
    inner_in = keras.Input((30, 4))
    x = layers.Conv1D(3, 3, padding="same", activation="elu")(inner_in)
    branch = keras.Model(inner_in, [layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)], name="branch")
    inp = keras.Input((30, 4), name="sequence")
    t = layers.Flatten()(tower(inp))
    p1, q1 = branch(inp)
    p2, _ = branch(layers.Cropping1D((0, 0))(inp))  # the same nested model called twice
    merged = layers.Concatenate()([t, p1, q1, p2])
    return keras.Model(inp, layers.Dense(2, activation="sigmoid")(layers.Dense(5, activation="relu")(merged)))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_nested_models_parity_and_summation(suffix, tmp_path):
    model = _nested_models()
    randomize(model, seed=3)
    path = tmp_path / f"nested{suffix}"
    model.save(path)
    graph = genolift.load_model(path)
    assert any(n.name.startswith("branch#1/") or n.name.startswith("branch/") for n in graph.nodes)
    rng = np.random.default_rng(0)
    X = one_hot(rng, 5, 30)
    np.testing.assert_allclose(Network(graph).forward(X)[0].numpy(), model.predict(X, verbose=0), rtol=1e-5,
                               atol=1e-6)
    R = genolift.dinucleotide_shuffle(X, 3, seed=1)
    res = genolift.attribute(graph, X, R, task=1)
    assert_result_sums_to_delta(res)
