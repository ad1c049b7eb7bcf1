"""Step compilation: plain and XLA agree to round-off and both sum to delta; ``auto`` measures on the
first batch of a shape, keeps the faster, and returns that compilation's results alone."""

from __future__ import annotations

import numpy as np
import pytest

import genolift
from genolift.engine import GRADIENT_RULES, Engine
from genolift.engine.compile import Step
from genolift.errors import DeviceError

from . import zoo
from .conftest import one_hot, randomize
from .helpers import assert_result_sums_to_delta


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compile")
    out = {}
    for name, build in (("basset", zoo.basset_tiled), ("bpnet", zoo.bpnet_like)):
        model = build()
        randomize(model, seed=3)
        model.save(folder / f"{name}.keras")
        out[name] = genolift.load_model(folder / f"{name}.keras")
    return out


def _pairs(graph, n=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    L = graph.length
    return one_hot(rng, n, L), one_hot(rng, n * k, L).reshape(n, k, L, 4)


@pytest.mark.parametrize("name", ["basset", "bpnet"])
def test_xla_and_plain_agree_and_both_sum_to_delta(graphs, name):
    graph = graphs[name]
    X, R = _pairs(graph)
    runs = {mode: genolift.attribute(graph, X, R, batch_size=9, compile=mode) for mode in ("plain", "xla")}
    for res in runs.values():
        assert_result_sums_to_delta(res)
    for field in ("hypothetical", "predictions", "reference_predictions"):
        a, b = getattr(runs["plain"], field), getattr(runs["xla"], field)
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max(), err_msg=field)


@pytest.mark.parametrize("rule", ["rescale", *GRADIENT_RULES])
def test_every_rule_compiles_under_xla(graphs, rule):
    graph = graphs["basset"]
    X, R = _pairs(graph, n=3, k=2)
    plain = Engine(graph, rule=rule, steps=3, compile="plain").run(X, R)
    xla = Engine(graph, rule=rule, steps=3, compile="xla").run(X, R)
    scale = np.abs(plain.hypothetical).max()
    np.testing.assert_allclose(xla.hypothetical, plain.hypothetical, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("rule", ["revealcancel", "genomics-default"])
def test_revealcancel_is_never_compiled_by_xla(graphs, rule):
    """XLA's RevealCancel departs from the exact rule on residual models: xla is refused, auto runs plain."""
    from genolift.errors import DeviceError

    with pytest.raises(DeviceError, match="--compile plain"):
        Engine(graphs["basset"], rule=rule, compile="xla")
    assert Engine(graphs["basset"], rule=rule, compile="auto").compile == "plain"


def test_auto_returns_the_chosen_compilation_only(graphs):
    graph = graphs["bpnet"]
    X, R = _pairs(graph, n=8, k=3, seed=1)
    auto = Engine(graph, batch_size=12, compile="auto")
    first = auto.run(X, R)
    choices = set(auto.compilations().values())
    assert len(choices) == 1 and choices <= {"plain", "xla"}
    step = next(iter(auto._steps.values()))
    assert len(step.seconds["plain"]) == len(step.seconds["xla"]) >= 1
    fixed = Engine(graph, batch_size=12, compile=choices.pop()).run(X, R)
    for field in first._fields:  # bit for bit: the measuring runs' results of the other compilation are dropped
        np.testing.assert_array_equal(getattr(first, field), getattr(fixed, field), err_msg=field)
    traces = auto.tracing_count()
    np.testing.assert_array_equal(auto.run(X, R).hypothetical, first.hypothetical)
    assert auto.tracing_count() == traces  # chosen once: the second run neither traces nor measures
    assert auto.startup_seconds > 0


def test_ism_steps_are_compiled_too(graphs):
    graph = graphs["basset"]
    X = one_hot(np.random.default_rng(2), 2, graph.length)
    plain = Engine(graph, compile="plain").mutagenesis(X, fast=False)[0]
    auto_engine = Engine(graph, compile="auto")
    auto = auto_engine.mutagenesis(X, fast=False)[0]
    np.testing.assert_allclose(auto[0], plain[0], atol=1e-5)
    assert all(choice in ("plain", "xla") for choice in auto_engine.compilations().values())


def test_step_falls_back_to_plain_where_xla_cannot_compile():
    import tensorflow as tf

    def digits(x):  # string ops have no XLA kernels
        return [tf.reduce_sum(tf.strings.length(tf.strings.as_string(x)))]

    step = Step(digits, [tf.TensorSpec((3,), tf.int32)], "auto")
    assert int(step(np.array([1, 10, 100], np.int32))[0]) == 6
    assert step.choice == "plain" and step.refusal and "xla" not in step.functions
    assert int(step(np.array([1, 2, 3], np.int32))[0]) == 3


def test_unknown_compile_mode_is_refused(graphs):
    with pytest.raises(DeviceError, match="compile 'fast'"):
        Engine(graphs["basset"], compile="fast")


def test_engines_of_one_model_file_choose_alike(graphs, tmp_path):
    graph = graphs["bpnet"]
    X, R = _pairs(graph, n=4, k=3, seed=4)
    first = Engine(graph, batch_size=6)
    a = first.run(X, R)
    again = Engine(genolift.load_model(graph.source), batch_size=6)  # the file read again: same digest
    b = again.run(X, R)
    assert again.compilations() == first.compilations()
    assert all(not step.seconds.get("xla") and not step.seconds.get("plain") for step in again._steps.values())
    np.testing.assert_array_equal(b.hypothetical, a.hypothetical)
