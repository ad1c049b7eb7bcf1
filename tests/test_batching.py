"""One batching path: DeepLIFT, the gradient rules and ISM give the same results at any batch size,
and a short batch takes a short traced shape (never padded to the full batch per integration step)."""

from __future__ import annotations

import numpy as np
import pytest

import genolift
from genolift.engine import GRADIENT_RULES, Engine
from genolift.engine.batching import Dispatcher, aligned_chunk, batch_rows, pair_arrays, pair_batches, row_blocks
from genolift.engine.network import Network

from . import zoo
from .conftest import one_hot, randomize

BATCH_SIZES = (1, 7, 64)


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    model = zoo.basset_like()
    randomize(model, seed=4)
    path = tmp_path_factory.mktemp("batching") / "m.keras"
    model.save(path)
    return genolift.load_model(path)


@pytest.mark.parametrize("rule", ["rescale", "revealcancel", *GRADIENT_RULES])
def test_attribution_rules_do_not_depend_on_the_batch_size(graph, rule):
    rng = np.random.default_rng(1)
    X, R = one_hot(rng, 5, 24), one_hot(rng, 5 * 3, 24).reshape(5, 3, 24, 4)
    # one compilation throughout: batch sizes are compared here, plain and XLA in test_compile.py
    runs = [Engine(graph, task=1, rule=rule, batch_size=b, steps=5, compile="plain").run(X, R) for b in BATCH_SIZES]
    for b, other in zip(BATCH_SIZES[1:], runs[1:]):
        for name in other._fields:
            # deltas are float32 round-off themselves (|delta| up to ~1e-6 here): the order of a batch's sums
            # moves them by as much; everything else agrees to 1e-6
            atol = 3e-6 if name == "deltas" else 1e-6
            np.testing.assert_allclose(getattr(other, name), getattr(runs[0], name), atol=atol,
                                       err_msg=f"{rule}, batch size {b}: {name}")


@pytest.mark.parametrize("fast", [False, True])
def test_ism_does_not_depend_on_the_batch_size(graph, fast):
    X = one_hot(np.random.default_rng(2), 3, 24)
    X[1, 4] = 0
    runs = [Engine(graph, task=1, batch_size=b, compile="plain").mutagenesis(X, fast=fast)[0] for b in BATCH_SIZES]
    for b, (scores, predictions) in zip(BATCH_SIZES[1:], runs[1:]):
        np.testing.assert_allclose(scores, runs[0][0], atol=1e-6, err_msg=f"batch size {b}")
        np.testing.assert_allclose(predictions, runs[0][1], atol=1e-6, err_msg=f"batch size {b}")


def _recording(monkeypatch):
    """Record the static shape of every batch Network.point_target is traced or run on."""
    shapes = []
    real = Network.point_target

    def point_target(self, X, *args, **kwargs):
        shapes.append(tuple(X.shape))
        return real(self, X, *args, **kwargs)

    monkeypatch.setattr(Network, "point_target", point_target)
    return shapes


def test_integrated_gradients_of_a_short_run_use_a_short_batch(graph, monkeypatch):
    """50 sequences, --steps 25, --batch-size 256: one batch of batch_rows(50, 256) = 64 pairs, the
    25 steps looped on the device; no point batch of 256 rows is ever formed."""
    rng = np.random.default_rng(3)
    X, R = one_hot(rng, 50, 24), one_hot(rng, 50, 24).reshape(50, 1, 24, 4)
    shapes = _recording(monkeypatch)
    engine = Engine(graph, rule="integrated-gradients", steps=25, batch_size=256)
    dispatched = []
    real_run = engine.dispatcher.run

    def run(jobs):
        dispatched.extend(tuple(a.shape for a in args[:2]) for _, _, args in jobs)
        return real_run(jobs)

    engine.dispatcher.run = run
    res = engine.run(X, R)
    assert dispatched == [((64, 24, 4), (64, 24, 4))]
    assert shapes and {s[0] for s in shapes} == {64}, shapes
    assert {key[1:] for key in engine._steps} == {(64, 1)}
    small = Engine(graph, rule="integrated-gradients", steps=25, batch_size=64).run(X, R)
    np.testing.assert_allclose(res.hypothetical, small.hypothetical, atol=1e-6)
    np.testing.assert_allclose(res.deltas, small.deltas, atol=1e-6)


def test_gradient_rules_reduce_on_the_device(graph):
    """Per batch the gradient step hands back the sum over each sequence's references (T, S, L, 4)."""
    rng = np.random.default_rng(4)
    X, R = one_hot(rng, 4, 24), one_hot(rng, 4 * 6, 24).reshape(4, 6, 24, 4)
    for rule in GRADIENT_RULES:
        engine = Engine(graph, rule=rule, steps=3, batch_size=12)  # 2 sequences x 6 references per batch
        batch = pair_batches(4, 6, 12)[0]
        hyp, t_x, t_r, deltas = engine._step(True, batch.s, batch.j)(*pair_arrays(batch, X, R, []))
        assert hyp.shape == (1, 2, 24, 4) and t_x.shape == t_r.shape == deltas.shape == (1, 12), rule


def test_row_blocks_and_pair_batches_cover_every_row_once():
    for n, full in ((0, 8), (1, 8), (50, 256), (300, 256), (17, 4)):
        blocks = list(row_blocks(n, full))
        assert [i for i0, i1, _ in blocks for i in range(i0, i1)] == list(range(n))
        assert all(rows == (full if i1 - i0 == full else batch_rows(i1 - i0, full)) for i0, i1, rows in blocks)
    pairs = {(i, j) for b in pair_batches(9, 5, 8) for i in range(b.i0, b.i1) for j in range(b.j0, b.j1)}
    assert pairs == {(i, j) for i in range(9) for j in range(5)}
    assert {(b.s, b.j) for b in pair_batches(9, 5, 8)} == {(1, 5)}
    assert {(b.s, b.j) for b in pair_batches(3, 20, 8)} == {(1, 8)}


def test_dispatcher_runs_jobs_in_order_and_times_the_first_calls():
    from genolift.engine.backends import Spec
    from genolift.engine.compile import Step

    calls = []

    def double(weights, x):
        calls.append(x)  # once per trace
        return [x * 2]

    step = Step(double, [Spec((), "int32")], "plain")
    dispatcher = Dispatcher()
    out = list(dispatcher.run([(i, step, (np.int32(i),)) for i in range(4)]))
    assert [(key, list(v)) for key, v in out] == [(i, [2 * i]) for i in range(4)] and len(calls) == 1
    assert dispatcher.startup_seconds == step.startup_seconds > 0 and step.tracing_count() == 1


def test_short_last_batches_take_few_shapes_and_chunks_hold_whole_batches():
    for full in (1, 7, 25, 256):
        shapes = {batch_rows(m, full) for m in range(1, full + 1)}
        assert len(shapes) <= (full.bit_length() + 1) // 2 + 1
        for m in range(1, full + 1):
            rows = batch_rows(m, full)
            assert m <= rows <= full and (rows == full or rows < 4 * max(m, 16))
    assert {batch_rows(m, 256) for m in range(1, 257)} == {256, 64, 16}
    assert batch_rows(8, 51) == 16  # 8 sequences of a 51 x 5 layout (DanQ, auto): 16 rows, not 51
    assert aligned_chunk(256, 256, 10) == 250  # 25 sequences x 10 references per batch
    assert aligned_chunk(256, 256, 20) == 252
    assert aligned_chunk(256, 256, 1) == 256
    assert aligned_chunk(8, 256, 4) == 8  # below one batch: unchanged


def test_results_do_not_depend_on_the_last_batch_shape(tmp_path):
    model = zoo.basset_tiled()
    randomize(model, seed=7, scale=0.4)
    model.save(tmp_path / "m.keras")
    graph = genolift.load_model(tmp_path / "m.keras")
    rng = np.random.default_rng(11)
    X, R = one_hot(rng, 70, graph.length), one_hot(rng, 70 * 3, graph.length).reshape(70, 3, graph.length, 4)
    engine = Engine(graph, batch_size=192, compile="plain")  # 64 sequences per batch: the last 6 in a batch of 16
    whole = engine.run(X, R)
    parts = [engine.run(X[i:i + 3], R[i:i + 3]) for i in range(0, len(X), 3)]
    np.testing.assert_allclose(whole.hypothetical, np.concatenate([p.hypothetical for p in parts]), atol=1e-6)
    assert {key[1] for key in engine._steps} == {64, 16}
