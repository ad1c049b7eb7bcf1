"""LSTM, GRU, Bidirectional and TimeDistributed unrolled over time: Keras parity and exact DeepLIFT."""

from __future__ import annotations

import numpy as np
import pytest

import genolift
from genolift.engine.network import Network
from genolift.errors import UnsupportedLayerError

from . import oracle
from .conftest import one_hot, randomize
from .helpers import assert_result_sums_to_delta, tiered

L = 12


def _model(rnn):
    import keras
    from keras import layers

    inp = keras.Input((L, 4), name="dna")
    h = layers.Conv1D(3, 3, activation="relu")(inp)
    h = layers.MaxPooling1D(2)(h)
    h = layers.Flatten()(rnn(h))
    model = keras.Model(inp, layers.Dense(2, name="head")(h))
    randomize(model, seed=4, scale=0.8)
    return model


def _cases():
    from keras import layers

    return {
        "lstm_sequences": lambda: layers.LSTM(3, return_sequences=True),
        "lstm_backwards_last": lambda: layers.LSTM(3, go_backwards=True),
        "gru_reset_after": lambda: layers.GRU(3, return_sequences=True),
        "gru_reset_before": lambda: layers.GRU(3, reset_after=False),
        "bidirectional_concat": lambda: layers.Bidirectional(layers.LSTM(2, return_sequences=True)),
        "bidirectional_sum": lambda: layers.Bidirectional(layers.GRU(2), merge_mode="sum"),
        "bidirectional_ave": lambda: layers.Bidirectional(layers.LSTM(2), merge_mode="ave"),
        "bidirectional_mul": lambda: layers.Bidirectional(layers.LSTM(2, return_sequences=True), merge_mode="mul"),
        "time_distributed_dense": lambda: layers.TimeDistributed(layers.Dense(3, activation="tanh")),
    }


@pytest.mark.parametrize("case", tiered(sorted(_cases()), {"time_distributed_dense", "gru_reset_after",
                                                            "lstm_backwards_last"}))
def test_forward_parity_and_summation(case, tmp_path):
    model = _model(_cases()[case]())
    rng = np.random.default_rng(1)
    X = one_hot(rng, 3, L)
    want = model.predict(X, verbose=0)
    graphs = []
    for suffix in (".keras", ".h5"):
        model.save(tmp_path / f"m{suffix}")
        graphs.append(genolift.load_model(tmp_path / f"m{suffix}"))
        np.testing.assert_allclose(Network(graphs[-1]).forward(X)[0].numpy(), want, rtol=1e-5, atol=1e-6)
    R = one_hot(rng, 3 * 2, L).reshape(3, 2, L, 4)
    res = genolift.attribute(graphs[0], X, R, task=1, batch_size=6, compile="plain")
    assert_result_sums_to_delta(res)
    assert np.abs(res.contributions).sum() > 0


@pytest.mark.parametrize("case", tiered(["lstm_sequences", "gru_reset_after", "gru_reset_before", "bidirectional_mul"],
                                        {"lstm_sequences", "gru_reset_before"}))
def test_multipliers_match_the_float64_oracle(case, tmp_path):
    """Hypothetical scores (one reference per sequence) against the numpy oracle's explicit rules."""
    model = _model(_cases()[case]())
    model.save(tmp_path / "m.keras")
    graph = genolift.load_model(tmp_path / "m.keras")
    rng = np.random.default_rng(2)
    X, R = one_hot(rng, 2, L), one_hot(rng, 2, L)
    res = genolift.attribute(graph, X, R[:, None], task=0, batch_size=2, precision="float64", compile="plain")
    for i in range(2):
        np.testing.assert_allclose(oracle.forward(graph, X[i])[graph.outputs[0]],
                                   model.predict(X[i:i + 1], verbose=0)[0], rtol=1e-5, atol=1e-6)
        m, _, _ = oracle.rescale_multipliers(graph, graph.outputs[0], 0, X[i], R[i])
        hyp = np.stack([(m * (np.eye(4)[b] - R[i])).sum(-1) for b in range(4)], axis=-1)
        np.testing.assert_allclose(res.hypothetical[i], hyp, rtol=1e-8, atol=1e-9)


def test_masking_is_refused_with_its_reason(tmp_path):
    import keras
    from keras import layers

    inp = keras.Input((L, 4))
    h = layers.LSTM(2)(layers.Masking()(inp))
    keras.Model(inp, layers.Dense(1)(h)).save(tmp_path / "masked.keras")
    with pytest.raises(UnsupportedLayerError, match="Masking: masks change which time steps"):
        genolift.load_model(tmp_path / "masked.keras")
