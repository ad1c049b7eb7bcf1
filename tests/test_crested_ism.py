"""`genolift ism` through the command on a CREsted model (recurrent): values equal Keras's own predictions."""

from __future__ import annotations

import h5py
import numpy as np
from click.testing import CliRunner

from genolift.cli.main import cli
from genolift.sequences import decode_one_hot

from .conftest import TEST_DATA

MODEL = TEST_DATA / "crested_deeptopic_lstm.keras"


def test_ism_command_on_a_crested_lstm_equals_keras(tmp_path):
    import keras

    X = np.load(TEST_DATA / "crested_predictions.npz")["X_128"]
    fasta = tmp_path / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{decode_one_hot(x)}\n" for i, x in enumerate(X)))
    out = tmp_path / "ism.h5"
    result = CliRunner().invoke(cli, ["ism", str(MODEL), str(fasta), "-o", str(out), "--task", "2",
                                      "--window", "60:68", "-q"])
    assert result.exit_code == 0, result.output
    model = keras.saving.load_model(MODEL, compile=False)

    def logit(batch):  # the topic head ends in a sigmoid: genolift explains its logit
        p = model.predict(batch, verbose=0)[:, 2].astype(np.float64)
        return np.log(p) - np.log1p(-p)

    with h5py.File(out) as f:
        ism, predictions = f["ism_scores"][()], f["predictions"][()]
    np.testing.assert_allclose(predictions, logit(X), rtol=1e-4, atol=1e-4)
    for i, x in enumerate(X):
        mutants = np.repeat(x[None], 8 * 4, axis=0)
        for j, p in enumerate(range(60, 68)):
            mutants[4 * j:4 * j + 4, p] = np.eye(4, dtype=x.dtype)
        want = (logit(mutants) - logit(x[None])[0]).reshape(8, 4)
        np.testing.assert_allclose(ism[i, 60:68], want, atol=1e-4)
        assert not ism[i, :60].any() and not ism[i, 68:].any()
    assert np.abs(ism).max() > 1e-3
