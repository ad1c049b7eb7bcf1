"""`genolift ism` itself: its datasets, and ISM values equal to Keras predictions of the mutated sequences."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genolift.cli.main import cli

from .conftest import TEST_DATA

MODEL = TEST_DATA / "example_model.h5"
SEQS = TEST_DATA / "example_seqs.fa"
N, L = 20, 200


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def keras_logits():
    """Keras's logits (pre-sigmoid) of the example model: (n, L, 4) → (n, 2)."""
    import keras

    model = keras.saving.load_model(TEST_DATA / "example_model.keras", compile=False)
    head = model.get_layer("output")
    hidden = keras.Model(model.inputs, head.input)
    kernel, bias = (w.astype(np.float64) for w in head.get_weights())

    def logits(X):
        return hidden.predict(np.asarray(X, np.float32), verbose=0, batch_size=256).astype(np.float64) @ kernel + bias

    return logits


@pytest.fixture(scope="module")
def ism_task1(tmp_path_factory):
    out = tmp_path_factory.mktemp("ism") / "ism.h5"
    result = invoke("ism", MODEL, SEQS, "-o", out, "--task", "1", "--batch-size", 128, "--chunk-size", 8)
    assert result.exit_code == 0, result.stderr
    assert "mutating 20 region(s)" in result.stderr
    return out


def _mutants(x: np.ndarray, positions: range) -> np.ndarray:
    """(len(positions) · 4, L, 4): x with position p set to base b, for every p and b."""
    mutants = np.repeat(x[None], len(positions) * 4, axis=0)
    for i, p in enumerate(positions):
        mutants[4 * i:4 * i + 4, p] = np.eye(4, dtype=x.dtype)
    return mutants


def test_ism_file_layout(ism_task1):
    with h5py.File(ism_task1) as f:
        assert sorted(f) == sorted(["input_seqs", "ism_scores", "predictions", "coords_chrom", "coords_start",
                                    "coords_end", "coords_name", "coords_strand", "region_line"])
        assert f["input_seqs"].shape == f["ism_scores"].shape == (N, L, 4)
        assert f["ism_scores"].dtype == np.float32 and f["predictions"].shape == (N,)
        attrs = dict(f.attrs)
        assert attrs["command"] == "ism" and attrs["rule"] == "ism" and attrs["task"] == 1 and attrs["complete"]
        assert attrs["shuffles"] == 0 and "ism_window" not in attrs and "genolift ism" in attrs["command_line"]
        assert [c.decode() for c in f["coords_chrom"][:3]] == ["seq_0", "seq_1", "seq_2"]
        x, ism = f["input_seqs"][()], f["ism_scores"][()]
    observed = x.astype(bool)
    assert not ism[observed].any()  # the observed base's own entry is exactly 0
    assert (~x.any(axis=-1)).any(axis=1).sum() == 1  # one record has Ns


def test_ism_equals_keras_on_the_mutated_sequences(ism_task1, keras_logits):
    with h5py.File(ism_task1) as f:
        x, ism, pred = f["input_seqs"][()], f["ism_scores"][()], f["predictions"][()]
    np.testing.assert_allclose(pred, keras_logits(x)[:, 1], rtol=1e-5, atol=1e-5)
    n_row = int(np.flatnonzero((~x.any(axis=-1)).any(axis=1))[0])
    for row in sorted({0, 7, n_row}):
        mutated = keras_logits(_mutants(x[row], range(L)))[:, 1].reshape(L, 4)
        want = mutated - keras_logits(x[row:row + 1])[0, 1]
        want[x[row].astype(bool)] = 0.0
        np.testing.assert_allclose(ism[row], want, atol=1e-5, rtol=1e-5, err_msg=f"row {row}")
        if row == n_row:  # at N every base is a substitution
            at_n = ~x[row].any(axis=-1)
            assert np.abs(ism[row][at_n]).sum(axis=-1).min() > 0


def test_ism_window_and_every_task(ism_task1, tmp_path):
    pattern = tmp_path / "w.{task}.h5"
    result = invoke("ism", MODEL, SEQS, "-o", pattern, "--task", "all", "--window", "20:30", "-q")
    assert result.exit_code == 0, result.stderr
    with h5py.File(ism_task1) as full, h5py.File(tmp_path / "w.1.h5") as part:
        assert list(part.attrs["ism_window"]) == [20, 30] and part.attrs["task"] == 1
        window = part["ism_scores"][()]
        np.testing.assert_allclose(window[:, 20:30], full["ism_scores"][:, 20:30], atol=1e-5)
        assert not window[:, :20].any() and not window[:, 30:].any()
        np.testing.assert_allclose(part["predictions"][()], full["predictions"][()], rtol=1e-6)  # auto may compile them apart
    with h5py.File(tmp_path / "w.0.h5") as task0:
        assert task0.attrs["task"] == 0 and task0["ism_scores"][:, 20:30].any()
