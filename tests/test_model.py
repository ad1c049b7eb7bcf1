"""Model files are read as data: refusals name every bad layer, and no code from the file runs."""

from __future__ import annotations

import numpy as np
import pytest

import genolift
from genolift.errors import ModelError, UnsupportedLayerError


def _lambda_model(marker):
    import keras

    body = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")  # noqa: S307
    inp = keras.Input((20, 4))
    h = keras.layers.Conv1D(3, 3, name="conv")(inp)
    h = keras.layers.Lambda(body, name="sneaky")(h)
    h = keras.layers.SimpleRNN(2, name="recurrent")(h)
    return keras.Model(inp, keras.layers.Dense(1, name="out")(h))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_is_refused_and_never_run(tmp_path, suffix):
    marker = tmp_path / "code_ran"
    model = _lambda_model(marker)
    path = tmp_path / f"lambda{suffix}"
    model.save(path)
    marker.unlink()  # building and saving the model ran the lambda; loading must not
    with pytest.raises(UnsupportedLayerError) as err:
        genolift.load_model(path)
    message = str(err.value)
    assert "'sneaky' (Lambda" in message and "'recurrent' (SimpleRNN" in message
    assert "\n" not in message
    assert not marker.exists()


def test_custom_layer_is_refused(tmp_path):
    import keras

    @keras.saving.register_keras_serializable(package="Mine")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    inp = keras.Input((10, 4))
    out = keras.layers.Dense(1)(keras.layers.Flatten()(Doubler(name="double")(inp)))
    path = tmp_path / "custom.keras"
    keras.Model(inp, out).save(path)
    with pytest.raises(UnsupportedLayerError, match=r"'double' \(Mine>Doubler: custom layer"):
        genolift.load_model(path)


def test_not_a_model_and_missing_file(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"this is not HDF5")
    with pytest.raises(ModelError, match="not a Keras model file"):
        genolift.load_model(junk)
    with pytest.raises(ModelError, match="no such model file"):
        genolift.load_model(tmp_path / "missing.h5")


def test_weights_only_h5_is_explained(tmp_path):
    import h5py

    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as handle:
        handle["layer/kernel"] = np.zeros(3)
    with pytest.raises(ModelError, match="without a model config"):
        genolift.load_model(path)


def test_input_must_be_one_hot_dna(tmp_path):
    import keras

    inp = keras.Input((10, 5))
    path = tmp_path / "five.keras"
    keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(inp))).save(path)
    with pytest.raises(ModelError, match=r"input shape \(10, 5\) is not \(L, 4\)"):
        genolift.load_model(path)


def test_info_on_the_example_model():
    from click.testing import CliRunner

    from genolift.cli.main import cli

    from .conftest import TEST_DATA

    result = CliRunner().invoke(cli, ["info", str(TEST_DATA / "example_model.h5")])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "tf.keras 2 HDF5" in out and "input: sequence (200, 4)" in out and "output: output (2,)" in out
    assert "conv2     Conv1D" in out and "cross-max" in out and "parameters: " in out
    diff = float(out.split("max |genolift - keras| = ")[1].split()[0])
    assert diff < 1e-5 and "parity: ok" in out


def test_info_lists_refused_layers_and_runs_nothing(tmp_path):
    from click.testing import CliRunner

    from genolift.cli.main import cli

    marker = tmp_path / "code_ran"
    path = tmp_path / "lambda.keras"
    _lambda_model(marker).save(path)
    marker.unlink()
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 1
    assert "refused" in result.stdout and "sneaky" in result.stdout and "recurrent" in result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and not marker.exists()


def test_info_on_a_two_input_model(tmp_path):
    import keras
    from click.testing import CliRunner

    from genolift.cli.main import cli

    seq, side = keras.Input((16, 4), name="dna"), keras.Input((2,), name="side")
    h = keras.layers.Flatten()(keras.layers.Conv1D(2, 3)(seq))
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([h, side]))
    path = tmp_path / "two.keras"
    keras.Model([seq, side], out).save(path)
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "parity: ok" in result.stdout
    scored = CliRunner().invoke(cli, ["score", str(path), str(tmp_path / "x.fa"), "-o", str(tmp_path / "o.h5")])
    assert scored.exit_code == 1 and "inputs besides the sequence" in scored.stderr
