"""A model file read once is kept as a graph on disk: later reads of the same bytes skip Keras."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import genolift
from genolift.model import graph_cache, keras_reader

from . import zoo
from .conftest import ROOT, TEST_DATA, one_hot, randomize

#: Models of every family the reader converts: Sequential, functional, recurrent, attention, a substituted Lambda.
MODELS = ["example_model.h5", "bpnet_like.keras", "danq.keras", "crested_enformer.keras", "crested_borzoi.h5",
          "chrombpnet.h5", "crested_dilated_cnn_decoupled.keras"]


def _same_graph(a, b) -> None:
    assert len(a.nodes) == len(b.nodes)
    for x, y in zip(a.nodes, b.nodes):
        assert (x.name, x.op, x.inputs, x.layer) == (y.name, y.op, y.inputs, y.layer)
        assert repr(x.params) == repr(y.params)  # types too: tuples stay tuples, numpy scalars keep their dtype
        assert len(x.weights) == len(y.weights)
        for u, v in zip(x.weights, y.weights):
            assert u.dtype == v.dtype and u.shape == v.shape and np.array_equal(u, v)
    for name in ("inputs", "outputs", "output_names", "input_shape", "output_shapes", "substituted", "sha256"):
        assert getattr(a, name) == getattr(b, name)
        assert type(getattr(a, name)) is type(getattr(b, name))


def _unreadable(*args, **kwargs):
    raise AssertionError("Keras was asked to read the file")


@pytest.mark.parametrize("name", MODELS)
def test_the_kept_graph_is_the_graph_read(name, monkeypatch):
    path = TEST_DATA / name
    fresh = keras_reader.load_model(path, cache=False)
    keras_reader.load_model(path)  # reads (or finds) and keeps it
    monkeypatch.setattr(keras_reader, "load_keras", _unreadable)
    kept = keras_reader.load_model(path)
    _same_graph(kept, fresh)
    assert kept.source == str(path)


def test_scores_from_a_kept_graph_are_the_same_bits(tmp_path, monkeypatch):
    model = zoo.basset_like()
    randomize(model, seed=11)
    model.save(tmp_path / "m.keras")
    X = one_hot(np.random.default_rng(3), 4, model.input_shape[1])
    first = genolift.attribute(genolift.load_model(tmp_path / "m.keras"), X, shuffles=3, compile="plain")
    monkeypatch.setattr(keras_reader, "load_keras", _unreadable)
    again = genolift.attribute(genolift.load_model(tmp_path / "m.keras"), X, shuffles=3, compile="plain")
    assert np.array_equal(first.hypothetical, again.hypothetical)
    assert np.array_equal(first.contributions, again.contributions)


def test_new_bytes_at_the_same_path_are_read_again(tmp_path):
    path = tmp_path / "m.keras"
    model = zoo.basset_like()
    randomize(model, seed=1)
    model.save(path)
    before = genolift.load_model(path)
    randomize(model, seed=2)
    model.save(path)
    after = genolift.load_model(path)
    assert after.sha256 != before.sha256
    _same_graph(after, keras_reader.load_model(path, cache=False))


def test_the_options_name_the_record(monkeypatch):
    path = TEST_DATA / "chrombpnet.h5"
    substituted = genolift.load_model(path)
    with pytest.raises(genolift.errors.UnsupportedLayerError, match="Lambda"):
        genolift.load_model(path, known_lambdas=False)  # refused, not the graph kept with the substitution
    assert substituted.substituted


def test_a_corrupt_record_is_read_past_and_replaced(tmp_path):
    path = TEST_DATA / "example_model.h5"
    fresh = keras_reader.load_model(path, cache=False)
    key = graph_cache.graph_key(fresh.sha256, {"known_lambdas": True})
    record = graph_cache._path(key)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_bytes(b"not a graph")
    _same_graph(keras_reader.load_model(path), fresh)
    assert graph_cache.recall(key, str(path), fresh.sha256) is not None


def test_an_unwritable_cache_only_means_reading_again(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder would be")
    monkeypatch.setenv("GENOLIFT_CACHE_DIR", str(blocked))
    graph = keras_reader.load_model(TEST_DATA / "example_model.h5")
    _same_graph(graph, keras_reader.load_model(TEST_DATA / "example_model.h5", cache=False))


@pytest.mark.slow
def test_a_later_process_never_parses_the_file_with_keras(tmp_path):
    """The second process loads the kept graph and scores without Keras's loader (checked by refusing it)."""
    script = (
        "import sys, numpy as np, genolift\n"
        "from genolift.model import keras_reader\n"
        "if sys.argv[1] == 'later':\n"
        "    keras_reader.load_keras = None  # calling it would fail\n"
        "g = genolift.load_model(sys.argv[2])\n"
        "X = np.eye(4, dtype=np.float32)[np.zeros((2, g.length), int)]\n"
        "print(genolift.attribute(g, X, shuffles=2).hypothetical.shape)\n"
    )
    env = dict(os.environ, GENOLIFT_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    for stage in ("first", "later"):
        done = subprocess.run([sys.executable, "-c", script, stage, str(TEST_DATA / "example_model.h5")],
                              capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "(2, 200, 4)" in done.stdout
    assert len(list((tmp_path / "cache" / "graphs").glob("*.npz"))) == 1
