"""Step compilation: plain and XLA agree to round-off and both sum to delta; ``auto`` measures on the
first batch of a shape, keeps the faster, and returns that compilation's results alone."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import genolift
from genolift.engine import GRADIENT_RULES, Engine
from genolift.engine.compile import Step
from genolift.errors import DeviceError

from . import zoo
from .conftest import one_hot, randomize
from .helpers import assert_result_sums_to_delta

pytestmark = pytest.mark.usefixtures("measured_compilation")  # these tests are about --compile auto


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


@pytest.mark.parametrize("name", zoo.cases(fast_models=["basset_like"]))
def test_xla_revealcancel_is_exact(name, tmp_path):
    """XLA may fuse the two branches' layers differently, leaving round-off where Δa = 0; RevealCancel
    treats Δa = 0 on its own, so that noise must not pick a route: XLA in float32 against the float64 rule."""
    from .test_engine import _zoo_case

    graph, X, R = _zoo_case(name, tmp_path, k=2)
    exact = Engine(graph, task=1, rule="revealcancel", batch_size=4, precision="float64").run(X, R)
    xla = Engine(graph, task=1, rule="revealcancel", batch_size=4, compile="xla").run(X, R)
    scale = np.abs(exact.hypothetical).max()
    np.testing.assert_allclose(xla.hypothetical, exact.hypothetical, rtol=0, atol=5e-4 * scale)
    dt = exact.predictions[:, None] - exact.reference_predictions
    assert np.all(np.abs(xla.deltas) <= 1e-5 * (1 + np.abs(dt)))


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

    from genolift.engine.backends import Spec

    def digits(weights, x):  # string ops have no XLA kernels
        return [tf.reduce_sum(tf.strings.length(tf.strings.as_string(x)))]

    step = Step(digits, [Spec((3,), "int32")], "auto")
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


# -- the choice kept on disk (genolift.engine.choices) ------------------------------------------------
_CHILD = """
import json, sys
import numpy as np
import genolift
from genolift.engine import Engine

graph = genolift.load_model(sys.argv[1])
rng = np.random.default_rng(5)
L = graph.length
X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (4, L))]
R = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (12, L))].reshape(4, 3, L, 4)
engine = Engine(graph, batch_size=6, compile="auto")
np.savez(sys.argv[2], **engine.run(X, R)._asdict())
print(json.dumps([{"choice": s.choice, "origin": s.origin, "measured": any(s.seconds.values()),
                   "record": str(s.record)} for s in engine._steps.values()]))
"""


@pytest.fixture()
def fresh_choices(tmp_path, monkeypatch):
    """An empty cache folder and no choices made yet in this process."""
    from genolift.engine import compile as compile_module

    folder = tmp_path / "cache"
    monkeypatch.setenv("GENOLIFT_CACHE_DIR", str(folder))
    monkeypatch.setattr(compile_module, "_CHOICES", {})
    return folder


def _child(model, out, cache) -> list:
    import json
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    env = dict(os.environ, GENOLIFT_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", _CHILD, str(model), str(out)], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_identical(a, b):
    for field in a._fields:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@pytest.mark.slow
def test_two_processes_record_and_reuse_one_choice(graphs, tmp_path):
    model, cache = graphs["bpnet"].source, tmp_path / "cache"
    first = _child(model, tmp_path / "first.npz", cache)
    second = _child(model, tmp_path / "second.npz", cache)
    assert [s["origin"] for s in first] == ["measured"] and first[0]["measured"]
    assert [s["origin"] for s in second] == ["record"] and not second[0]["measured"]  # read, not measured
    assert second[0]["choice"] == first[0]["choice"] and second[0]["record"] == first[0]["record"]
    assert sorted(p.name for p in (cache / "compile").iterdir()) == [first[0]["record"].rsplit("/", 1)[-1]]
    a, b = np.load(tmp_path / "first.npz"), np.load(tmp_path / "second.npz")
    for field in a.files:
        np.testing.assert_array_equal(a[field], b[field], err_msg=field)


def _records(engine) -> list:
    return [step.record for step in engine._steps.values()]


def _fields_of(path):
    import json

    return json.loads(path.read_text())["fields"]


def test_a_recorded_choice_is_taken_over_measuring(graphs, fresh_choices, monkeypatch):
    import json

    from genolift.engine import compile as compile_module

    graph = graphs["bpnet"]
    X, R = _pairs(graph, n=4, k=3, seed=6)
    measured = Engine(graph, batch_size=6, compile="auto")
    measured.run(X, R)
    for path in _records(measured):  # another process recorded xla
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "choice": "xla", "seconds": {}}))
    monkeypatch.setattr(compile_module, "_CHOICES", {})
    auto = Engine(graph, batch_size=6, compile="auto")
    result = auto.run(X, R)
    assert set(auto.compilations().values()) == {"xla"}
    assert all(step.origin == "record" and not any(step.seconds.values()) for step in auto._steps.values())
    _assert_identical(result, Engine(graph, batch_size=6, compile="xla").run(X, R))


def test_the_loser_of_a_race_returns_the_recorded_compilation(graphs, fresh_choices, monkeypatch):
    """It measured plain as the faster while another process recorded xla: every result it gives is xla's."""
    from genolift.engine import choices

    measure = Step._measure

    def measure_and_lose(self, args, device):
        outputs = measure(self, args, device)
        self.choice = "plain"
        assert choices.keep(choices.record_fields(self.key, self.signature, None, self.xp), "xla", {}) == "xla"
        return outputs

    monkeypatch.setattr(Step, "_measure", measure_and_lose)
    graph = graphs["bpnet"]
    X, R = _pairs(graph, n=4, k=3, seed=7)
    loser = Engine(graph, batch_size=6, compile="auto")
    result = loser.run(X, R)
    (step,) = loser._steps.values()
    assert step.choice == "xla" and step.origin == "record" and step.seconds["plain"]  # it measured
    xla = Engine(graph, batch_size=6, compile="xla").run(X, R)
    plain = Engine(graph, batch_size=6, compile="plain").run(X, R)
    _assert_identical(result, xla)
    assert not np.array_equal(plain.hypothetical, xla.hypothetical)  # the two differ: the test tells them apart


def test_a_corrupt_record_is_measured_again_and_replaced(graphs, fresh_choices, monkeypatch):
    import os

    from genolift.engine import choices
    from genolift.engine import compile as compile_module

    graph = graphs["basset"]
    X, R = _pairs(graph, n=3, k=2, seed=8)
    Engine(graph, batch_size=4, compile="auto").run(X, R)
    paths = list((fresh_choices / "compile").iterdir())
    for path in paths:
        path.write_bytes(b'{"choice": "xla", "fiel')
        os.utime(path, (0, 0))  # written long ago: not a record being written now
    monkeypatch.setattr(compile_module, "_CHOICES", {})
    again = Engine(graph, batch_size=4, compile="auto")
    result = again.run(X, R)
    assert all(step.origin == "measured" for step in again._steps.values())
    assert all(choices._parsed(path.read_bytes(), _fields_of(path)) for path in paths)  # replaced
    (choice,) = set(again.compilations().values())
    _assert_identical(result, Engine(graph, batch_size=4, compile=choice).run(X, R))


def test_an_unwritable_cache_folder_does_not_fail_the_run(graphs, fresh_choices, monkeypatch):
    from genolift.engine import choices

    blocker = fresh_choices.parent / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GENOLIFT_CACHE_DIR", str(blocker))
    monkeypatch.setattr(choices, "_UNWRITABLE", set())
    messages = _Kept()
    logger = logging.getLogger("genolift")
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "level", logging.INFO)
    logger.addHandler(messages)
    try:
        graph = graphs["basset"]
        X, R = _pairs(graph, n=3, k=2, seed=9)
        first = Engine(graph, batch_size=4, compile="auto")
        a = first.run(X, R)
        second = Engine(graph, batch_size=4, compile="auto")  # the choice of this process
        b = second.run(X, R)
    finally:
        logger.removeHandler(messages)
    assert first._steps and all(step.origin == "measured" for step in first._steps.values())
    assert second._steps and all(step.origin == "process" for step in second._steps.values())
    _assert_identical(a, b)
    assert len([m for m in messages.lines if "cannot be written" in m]) == 1, messages.lines


class _Kept(logging.Handler):
    """A handler that keeps the messages it is given (whatever the root logger's handlers do)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list = []

    def emit(self, record):
        self.lines.append(record.getMessage())
