"""Engines are kept with the loaded model: a repeated API call with the same settings traces nothing new."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import genolift
from genolift.engine.cache import cached_engine

from . import zoo
from .conftest import one_hot, randomize


@pytest.fixture()
def graph(tmp_path):
    model = zoo.basset_like()
    randomize(model, seed=5)
    model.save(tmp_path / "m.keras")
    return genolift.load_model(tmp_path / "m.keras")


def _engines(graph) -> dict:
    return vars(graph).get("_engines", {})


def test_a_second_attribute_call_traces_nothing(graph):
    X = one_hot(np.random.default_rng(0), 4, graph.length)
    first = genolift.attribute(graph, X, shuffles=3, batch_size=12)
    (engine,) = _engines(graph).values()
    traces = engine.tracing_count()
    assert traces >= 1
    again = genolift.attribute(graph, X, shuffles=3, batch_size=12)
    assert engine.tracing_count() == traces and list(_engines(graph).values()) == [engine]
    np.testing.assert_array_equal(again.hypothetical, first.hypothetical)
    other = one_hot(np.random.default_rng(1), 4, graph.length)  # new sequences, same shapes
    genolift.attribute(graph, other, shuffles=3, batch_size=12)
    assert engine.tracing_count() == traces


def test_ism_calls_reuse_their_engine(graph):
    X = one_hot(np.random.default_rng(2), 2, graph.length)
    first = genolift.ism(graph, X, batch_size=32)
    (engine,) = _engines(graph).values()
    traces = engine.tracing_count()
    np.testing.assert_array_equal(genolift.ism(graph, X, batch_size=32).scores, first.scores)
    assert engine.tracing_count() == traces


def test_settings_key_the_engines(graph):
    a = cached_engine(graph, task=0, batch_size=12)
    assert cached_engine(graph, batch_size=12, task=0) is a
    assert cached_engine(graph, task=1, batch_size=12) is not a
    assert cached_engine(graph, task=0, batch_size=12, devices=["/CPU:0"]) is not a
    assert cached_engine(graph, task=0, batch_size=12, devices=["/CPU:0"]) is \
        cached_engine(graph, task=0, batch_size=12, devices=["/CPU:0"])


def test_engines_go_with_their_graph(tmp_path):
    model = zoo.basset_like()
    model.save(tmp_path / "m.keras")
    graph = genolift.load_model(tmp_path / "m.keras")
    genolift.attribute(graph, one_hot(np.random.default_rng(3), 2, graph.length), shuffles=2)
    engine = weakref.ref(next(iter(_engines(graph).values())))
    del graph
    gc.collect()
    assert engine() is None
