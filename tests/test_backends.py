"""The engine on JAX and PyTorch against the float64 numpy oracle and against the TensorFlow backend.

The rules exist once (:mod:`genolift.engine.rules`); each backend module supplies the primitives.
These tests run every zoo model on every backend: float64 against the oracle to 1e-9, float32
summing to delta to float32 round-off and equal to the TensorFlow backend's result; the other
rules, targets, references and in-silico mutagenesis against TensorFlow's; and the switches that
keep float32 IEEE float32 on GPUs.  (TensorFlow itself is checked against the oracle in
test_engine.py.)
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import genolift
from genolift.engine import Engine
from genolift.references import gc_background

from . import oracle, zoo
from .conftest import TEST_DATA, backend_module, one_hot, randomize
from .helpers import assert_result_sums_to_delta, assert_sums_to_delta, tiered

OTHERS = ("jax", "torch")


@functools.lru_cache(maxsize=None)
def _inputs(name: str, folder: str):
    """A zoo model with random weights read as a graph, and 2 sequences × 3 references."""
    from pathlib import Path

    model = getattr(zoo, name)()
    randomize(model, seed=7, scale=0.4)
    path = Path(folder) / f"{name}.keras"
    model.save(path)
    graph = genolift.load_model(path)
    rng = np.random.default_rng(11)
    return graph, one_hot(rng, 2, graph.length), one_hot(rng, 2 * 3, graph.length).reshape(2, 3, graph.length, 4)


@functools.lru_cache(maxsize=None)
def _case(name: str, folder: str):
    """:func:`_inputs`, the oracle's hypothetical scores for task 1, and TensorFlow's float32 result."""
    graph, X, R = _inputs(name, folder)
    target = Engine(graph, task=1).target
    hyp = np.zeros(X.shape)
    for i in range(2):
        for k in range(3):
            m, _, _ = oracle.rescale_multipliers(graph, target.node, target.task, X[i], R[i, k],
                                                 normalise=target.normalise)
            hyp[i] += (m - (m * R[i, k]).sum(-1, keepdims=True)) / 3
    tf32 = Engine(graph, task=1, batch_size=4, backend="tensorflow").run(X, R)
    return graph, X, R, hyp, tf32


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("zoo"))


@pytest.mark.parametrize("name, backend", zoo.cases(OTHERS, fast_models=["basset_tiled", "mixers"]))
def test_zoo_on_each_backend_matches_the_oracle_and_tensorflow(name, backend, folder):
    backend_module(backend)
    graph, X, R, want, tf32 = _case(name, folder)
    exact = Engine(graph, task=1, batch_size=4, precision="float64", backend=backend).run(X, R)
    np.testing.assert_allclose(exact.hypothetical, want, atol=1e-9, rtol=1e-8)
    dt = exact.predictions[:, None] - exact.reference_predictions
    assert np.all(np.abs(exact.deltas) <= 1e-9 * (1 + np.abs(dt)))
    single = Engine(graph, task=1, batch_size=4, backend=backend).run(X, R)
    assert single.hypothetical.dtype == np.float32
    assert np.all(np.abs(single.deltas) <= 1e-5 * (1 + np.abs(dt)))
    scale = 1 + np.abs(tf32.hypothetical).max()
    np.testing.assert_allclose(single.hypothetical, tf32.hypothetical, atol=2e-5 * scale)
    np.testing.assert_allclose(single.predictions, tf32.predictions, atol=1e-5 * (1 + np.abs(tf32.predictions).max()))


@pytest.mark.parametrize("rule, backend", [
    ("revealcancel", "jax"), ("genomics-default", "torch"),
    pytest.param("revealcancel", "torch", marks=pytest.mark.slow),
    pytest.param("genomics-default", "jax", marks=pytest.mark.slow)])
def test_revealcancel_rules_on_each_backend_match_the_oracle(rule, backend, folder):
    backend_module(backend)
    graph, X, R = _inputs("mixers", folder)
    engine = Engine(graph, task=1, rule=rule, precision="float64", batch_size=4, backend=backend)
    res = engine.run(X, R)
    for i in range(2):
        want = np.zeros(X.shape[1:])
        for k in range(3):
            m = oracle.deeplift_multipliers(graph, engine.target.node, 1, X[i], R[i, k], rule=rule,
                                            normalise=engine.target.normalise)
            want += (m - (m * R[i, k]).sum(-1, keepdims=True)) / 3
        np.testing.assert_allclose(res.hypothetical[i], want, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("backend", tiered(OTHERS, {"jax"}))
def test_gradient_rules_on_each_backend_equal_tensorflow(backend, folder):
    """gradient, guided backprop, gradient × input and integrated gradients: TensorFlow's numbers, float64."""
    backend_module(backend)
    graph, X, R = _inputs("basset_like", folder)
    for rule in ("gradient", "guided-backprop", "grad-x-input", "integrated-gradients"):
        kw = dict(task=1, rule=rule, precision="float64", steps=3, batch_size=4)
        got = Engine(graph, backend=backend, **kw).run(X, R)
        want = Engine(graph, backend="tensorflow", **kw).run(X, R)
        np.testing.assert_allclose(got.hypothetical, want.hypothetical, atol=1e-9, rtol=1e-7, err_msg=rule)
        np.testing.assert_allclose(got.deltas, want.deltas, atol=1e-9, err_msg=rule)


@pytest.mark.parametrize("backend", tiered(OTHERS, {"torch"}))
def test_targets_references_and_ism_on_each_backend_equal_tensorflow(backend, folder):
    """Profile targets (exact and ChromBPNet's), --task all, the reverse complement, one GC background
    shared by every sequence (N positions included), and ISM both ways: TensorFlow's numbers, float64."""
    backend_module(backend)
    graph, X, R = _inputs("bpnet_like", folder)
    X = X.copy()
    X[1, 5:8] = 0  # N positions: the background is zeroed there
    background = gc_background(X[:1], 0.41)[0, 0]
    runs = {
        "profile": lambda e: e.run(X, R),
        "revcomp": lambda e: e.run(X, R, revcomp=True),
        "background": lambda e: e.run_background_tasks(X, background)[0],
    }
    for kind in ("profile", "profile-chrombpnet"):
        kw = dict(output="profile", target=kind, precision="float64", batch_size=4)
        got, want = Engine(graph, backend=backend, **kw), Engine(graph, backend="tensorflow", **kw)
        for label, run in runs.items():
            a, b = run(got), run(want)
            np.testing.assert_allclose(a.hypothetical, b.hypothetical, atol=1e-9, rtol=1e-7, err_msg=f"{kind} {label}")
            np.testing.assert_allclose(a.deltas, b.deltas, atol=1e-9, err_msg=f"{kind} {label}")
    kw = dict(output="counts", task="all", precision="float64", batch_size=4)
    tasks = Engine(graph, backend=backend, **kw).run_tasks(X, R)
    assert len(tasks) == 2
    for a, b in zip(tasks, Engine(graph, backend="tensorflow", **kw).run_tasks(X, R)):
        np.testing.assert_allclose(a.hypothetical, b.hypothetical, atol=1e-9, rtol=1e-7)
        assert_sums_to_delta(None, a.predictions, a.reference_predictions, a.deltas, tol=1e-9)
    for fast in (False, True):
        kw = dict(output="counts", task=1, precision="float64", batch_size=16)
        (got, got_pred), = Engine(graph, backend=backend, **kw).mutagenesis(X, fast=fast)
        (want, want_pred), = Engine(graph, backend="tensorflow", **kw).mutagenesis(X, fast=fast)
        np.testing.assert_allclose(got, want, atol=1e-9, err_msg=f"fast={fast}")
        np.testing.assert_allclose(got_pred, want_pred, atol=1e-9)


@pytest.mark.parametrize("backend", tiered(OTHERS, {"jax"}))
def test_api_on_each_backend_with_shuffled_references(backend, folder):
    """genolift.attribute(..., backend=) with its own dinucleotide shuffles sums to delta in float32."""
    backend_module(backend)
    graph, X, _ = _inputs("residual", folder)
    res = genolift.attribute(graph, X, shuffles=4, seed=3, backend=backend, task=1)
    assert_result_sums_to_delta(res)
    same = genolift.attribute(graph, X, shuffles=4, seed=3, backend="tensorflow", task=1)
    np.testing.assert_allclose(res.reference_predictions, same.reference_predictions, atol=1e-5)


def test_float32_is_ieee_float32_on_every_backend():
    """The switches that turn TensorFloat-32 off are set by every engine (they decide GPU matrix products)."""
    graph = genolift.load_model(TEST_DATA / "example_model.h5")
    for name in ("tensorflow", "jax", "torch"):
        xp = backend_module(name)
        engine = Engine(graph, backend=name)
        switches = engine.float32_switches
        if name == "tensorflow":
            import tensorflow as tf

            assert switches == {"tensor_float_32_execution": False}
            assert not tf.config.experimental.tensor_float_32_execution_enabled()
        elif name == "jax":
            import jax

            assert jax.config.jax_default_matmul_precision == "highest"
            assert "HIGHEST" in switches["engine_precision"]
            # every convolution and product of a traced step asks for HIGHEST precision itself
            w = xp.constant(np.ones((3, 4, 2)), "float32")
            text = str(jax.make_jaxpr(lambda x: xp.conv1d(x, w, 1, "same", 1) @ xp.constant(np.ones((2, 2)),
                                                                                           "float32"))(
                np.ones((1, 5, 4), np.float32)))
            assert text.count("Precision.HIGHEST") >= 2, text
        else:
            import torch

            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
            assert torch.get_float32_matmul_precision() == "highest"
        assert xp.NAME == engine.backend
