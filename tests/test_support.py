"""The support table decides alike for the model scan, the engine and ``genolift info``."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import genolift
from genolift.cli.main import cli
from genolift.engine.network import Network
from genolift.engine.ops import ELEMENTWISE, FORWARD, op_entry
from genolift.errors import UnsupportedLayerError
from genolift.model.config import scan_config
from genolift.model.support import (
    ACTIVATIONS, INNER_SOFTMAX_OPS, LAYERS, LOGSUMEXP, OPERATIONS, OPS, RESCALE, layer_problem, rule_words,
)

from . import oracle, zoo
from .conftest import one_hot, randomize
from .helpers import assert_result_sums_to_delta

L = 20


def _hard_sigmoid_model():
    import keras
    from keras import layers

    inp = keras.Input((L, 4), name="dna")
    h = layers.Conv1D(4, 5, padding="same", activation="hard_sigmoid", name="gate")(inp)
    h = layers.Activation("hard_sigmoid", name="squash")(layers.Conv1D(3, 3, name="mix")(h))
    model = keras.Model(inp, layers.Dense(2, name="out")(layers.Flatten()(h)))
    randomize(model, seed=3, scale=0.8)
    return model


def _fasta(path, X):
    bases = np.array(list("ACGT"))
    path.write_text("".join(f">s{i}\n{''.join(bases[x.argmax(-1)])}\n" for i, x in enumerate(X)))
    return path


def test_hard_sigmoid_is_supported_alike_by_info_and_score(tmp_path):
    model = _hard_sigmoid_model()
    path = tmp_path / "hard.keras"
    model.save(path)
    info = CliRunner().invoke(cli, ["info", str(path)])
    assert info.exit_code == 0, info.stderr
    assert "parity: ok" in info.stdout
    assert "linear + rescale (hard_sigmoid)" in info.stdout and "rescale (hard_sigmoid)" in info.stdout

    graph = genolift.load_model(path)
    rng = np.random.default_rng(1)
    X = one_hot(rng, 6, L)
    want = model.predict(X, verbose=0)
    np.testing.assert_allclose(Network(graph).forward(X)[0].numpy(), want, rtol=1e-5, atol=1e-6)
    z = np.linspace(-4, 4, 17)[:, None]
    np.testing.assert_allclose(oracle.ELEMENTWISE["hard_sigmoid"](z, {}),
                               np.asarray(__import__("keras").activations.hard_sigmoid(z)), atol=1e-7)
    res = genolift.attribute(graph, X, one_hot(rng, 6 * 4, L).reshape(6, 4, L, 4), task=1, batch_size=8)
    assert_result_sums_to_delta(res)
    assert np.abs(res.contributions).sum() > 0

    scored = CliRunner().invoke(cli, ["score", str(path), str(_fasta(tmp_path / "s.fa", X)), "--shuffles", "2",
                                      "-o", str(tmp_path / "s.h5")])
    assert scored.exit_code == 0, scored.stderr
    with h5py.File(tmp_path / "s.h5") as f:
        assert f["contrib_scores"].shape == (6, L, 4)


def test_hard_sigmoid_from_tf_keras2_is_refused_alike_by_info_and_score(tmp_path):
    """tf.keras 2 meant clip(0.2 x + 0.5, 0, 1) by the name; Keras 3 would read another function."""
    path = tmp_path / "hard.h5"
    _hard_sigmoid_model().save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "2.15.0"
    with pytest.raises(UnsupportedLayerError, match=r"'gate' \(Conv1D with activation 'hard_sigmoid' in a tf.keras 2"):
        genolift.load_model(path)
    info = CliRunner().invoke(cli, ["info", str(path)])
    assert info.exit_code == 1
    assert "refused: Conv1D with activation 'hard_sigmoid' in a tf.keras 2 file" in info.stdout
    assert "squash" in info.stderr and "gate" in info.stderr
    fasta = _fasta(tmp_path / "s.fa", one_hot(np.random.default_rng(0), 2, L))
    scored = CliRunner().invoke(cli, ["score", str(path), str(fasta), "-o", str(tmp_path / "s.h5")])
    assert scored.exit_code == 1 and "tf.keras 2" in scored.stderr


def test_every_operation_has_one_implementation_and_one_rule():
    assert set(FORWARD) == set(OPS)
    assert set(ELEMENTWISE) == {op for op, rule in OPS.items() if rule == RESCALE}
    for op, rule in OPS.items():
        assert op_entry(op)[1] == rule
    with pytest.raises(UnsupportedLayerError):
        op_entry("convlstm")


def test_every_row_names_operations_the_engine_runs_and_every_operation_has_a_row():
    produced = set(INNER_SOFTMAX_OPS) | set(LOGSUMEXP.ops)
    for name, act in ACTIVATIONS.items():
        assert act.op in OPS, name
        produced.add(act.op)
    for cls, row in LAYERS.items():
        assert row.ops and set(row.ops) <= set(OPS), cls
        assert (row.convert is None) == (cls == "InputLayer"), cls
        produced |= set(row.ops)
    for cls, row in OPERATIONS.items():
        assert row.ops and set(row.ops) <= set(OPS), cls
        produced |= set(row.ops)
    assert produced == set(OPS)


@pytest.mark.parametrize("activation", [name for name in ACTIVATIONS if name is not None])
def test_the_scan_accepts_exactly_the_table(activation):
    for cls in ("Conv1D", "Dense", "Activation"):
        entry = {"class_name": cls, "config": {"name": "x", "activation": activation}}
        assert layer_problem(entry) is None
        assert rule_words(entry)
    assert "no genolift rule" in layer_problem({"class_name": "Dense", "config": {"activation": "mish"}})
    assert "without a genolift rule" in layer_problem({"class_name": "ConvLSTM1D", "config": {}})
    for cls in LAYERS:
        assert layer_problem({"class_name": cls, "config": {}}) is None
        assert rule_words({"class_name": cls, "config": {}})
    config = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "name": "d",
                                                                  "config": {"activation": "hard_sigmoid"}}]}}
    assert scan_config(config) == [] and len(scan_config(config, tf_keras2=True)) == 1


def _zoo_rows():
    """{zoo model: [(Keras class, config), ...]}."""
    out = {}
    for name, build in zoo.ZOO.items():
        model = build()
        out[name] = (model, [(type(layer).__name__, layer.get_config()) for layer in model.layers])
    return out


def test_the_zoo_exercises_every_row():
    """The engine tests run the zoo against Keras and the oracle: every row of the table must be in it."""
    classes, activations = {"InputLayer"}, {None}
    for _, layers in _zoo_rows().values():
        classes |= {cls for cls, _ in layers} | {cfg["layer"]["class_name"] for _, cfg in layers if "layer" in cfg}
        activations |= {cfg["activation"] for _, cfg in layers if "activation" in cfg}
    registered_by_crested = {cls for cls in LAYERS if cls.startswith("crested>")}  # tests/test_attention.py
    assert set(LAYERS) - registered_by_crested <= classes, set(LAYERS) - classes
    written_by_tf_keras2_only = {"swish"}  # Keras 3 saves it as silu; see the test below
    # registered by CREsted: Keras writes them only with CREsted imported (tests/test_crested.py's fixtures)
    written_by_crested = {name for name in ACTIVATIONS if isinstance(name, str) and name.startswith("crested>")}
    written_by_tf_keras2_only |= written_by_crested
    assert set(ACTIVATIONS) - written_by_tf_keras2_only <= activations, set(ACTIVATIONS) - activations
    oracle_ops = set(oracle.LINEAR) | set(oracle.ELEMENTWISE) | set(oracle.EXTREMES) | {
        "multiply", "einsum", "maxpool1d", "global_maxpool1d", "softmax",
        "lstm", "gru"}  # the oracle unrolls loops into its own steps (tests/oracle_recurrent.py)
    assert set(OPS) <= oracle_ops, set(OPS) - oracle_ops


def test_swish_as_tf_keras2_writes_it(tmp_path):
    import json

    import keras

    model = _hard_sigmoid_model()
    path = tmp_path / "swish.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["model_config"] = json.dumps(json.loads(f.attrs["model_config"])).replace('"hard_sigmoid"', '"swish"')
    graph = genolift.load_model(path)
    assert [n.op for n in graph.nodes if n.layer in ("gate", "squash")] == ["conv1d", "silu", "silu"]
    X = one_hot(np.random.default_rng(2), 4, L)
    want = keras.saving.load_model(path, compile=False).predict(X, verbose=0)
    np.testing.assert_allclose(Network(graph).forward(X)[0].numpy(), want, rtol=1e-5, atol=1e-6)


def test_converters_produce_the_operations_their_rows_declare(tmp_path):
    for name, (model, layers) in _zoo_rows().items():
        path = tmp_path / f"{name}.keras"
        model.save(path)
        graph = genolift.load_model(path)
        by_name = {layer.name: entry for layer, entry in zip(model.layers, layers)}
        for node in graph.nodes:
            if node.op == "input":
                continue
            cls, cfg = by_name[node.layer]
            allowed = set(LAYERS[cls].ops)
            if "layer" in cfg:  # a wrapper: its layer's operations and activations too
                inner = cfg["layer"]
                allowed |= set(LAYERS[inner["class_name"]].ops)
                cfg = inner["config"]
                if LAYERS[inner["class_name"]].activation:
                    allowed.add(ACTIVATIONS[cfg.get("activation")].op)
            for key in ("recurrent_activation",) if "recurrent_activation" in cfg else ():
                allowed.add(ACTIVATIONS[cfg[key]].op)
            if LAYERS[cls].activation:
                allowed.add(ACTIVATIONS[cfg.get("activation")].op)
            if "softmax" in allowed:
                allowed |= set(INNER_SOFTMAX_OPS)
            assert node.op in allowed, (name, node.layer, cls, node.op)
