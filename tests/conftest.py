"""Shared fixtures: paths to test_data and small random Keras models."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from .isolation import pytest_runtest_logreport, pytest_runtest_protocol  # noqa: F401 (hooks)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "test_data"


@pytest.fixture(scope="session", autouse=True)
def plain_compilation() -> Iterator[None]:
    """Engines compile plain unless a test asks otherwise (``GENOLIFT_COMPILE``, the command line's default too).

    ``--compile auto`` measures XLA beside plain for every new model and batch shape, and TensorFlow keeps
    every XLA executable for the life of the process: over the suite's hundreds of engines one process
    would grow by gigabytes.  The tests of ``auto`` itself (test_compile.py, test_cache_faults.py,
    test_workflow.py) set ``GENOLIFT_COMPILE=auto`` for their module; every other test compares against
    definitions that hold for either compilation.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENOLIFT_COMPILE", "plain")
        yield


@pytest.fixture(scope="module")
def measured_compilation() -> Iterator[None]:
    """``GENOLIFT_COMPILE=auto`` for a module about ``--compile auto`` (see :func:`plain_compilation`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENOLIFT_COMPILE", "auto")
        yield


@pytest.fixture(scope="session", autouse=True)
def compile_choices_cache(tmp_path_factory) -> Iterator[Path]:
    """A temporary GENOLIFT_CACHE_DIR for the session (and the processes it starts), never the user's cache."""
    folder = tmp_path_factory.mktemp("genolift-cache")
    before = os.environ.get("GENOLIFT_CACHE_DIR")
    os.environ["GENOLIFT_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("GENOLIFT_CACHE_DIR", None)
    else:
        os.environ["GENOLIFT_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def genolift_logger() -> Iterator[logging.Logger]:
    """Give every test the ``genolift`` logger as it found it.

    A command run in-process (click's CliRunner) sets up its own handlers
    and stops propagation; without this, later tests' ``caplog`` would see
    nothing the package logs, depending on test order.
    """
    logger = logging.getLogger("genolift")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    logger.propagate = True  # a command run in a module fixture turned it off: caplog would see nothing
    yield logger
    for handler in logger.handlers:
        if handler not in saved[0]:
            handler.close()
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


def one_hot(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """(n, length, 4) random one-hot float32 sequences."""
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]


def randomize(model, seed: int = 0, scale: float = 0.5) -> None:
    """Random weights; batch-norm variances kept positive."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        v = rng.normal(size=w.shape) * scale
        if "variance" in w.path:
            v = np.abs(v) + 0.5
        w.assign(v.astype("float32"))


#: The engine's backends, each test that takes ``xp`` runs on every one installed.
BACKENDS = ("tensorflow", "jax", "torch")


def backend_module(name: str):
    """The backend module ``name``, or a skip where its framework is not installed."""
    from genolift.engine.backends import load
    from genolift.errors import DeviceError

    try:
        return load(name)
    except DeviceError as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=BACKENDS)
def xp(request):
    """Each backend module in turn (:mod:`genolift.engine.backends`)."""
    return backend_module(request.param)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.fast_backends(name, ...)``: the test's cases on other backends (its ``xp`` or ``backend``
    parameter) run in the slow tier only.  Runs before ``-m`` selects, so ``-m "not slow"`` leaves them out."""
    for item in items:
        mark = item.get_closest_marker("fast_backends")
        spec = getattr(item, "callspec", None)
        if mark is None or spec is None:
            continue
        backend = spec.params.get("xp", spec.params.get("backend"))
        if backend is not None and backend not in mark.args:
            item.add_marker(pytest.mark.slow)


def pytest_runtest_teardown(item, nextitem):
    """With GENOLIFT_TEST_RSS=FILE, append each test's resident memory after it ran (VmRSS, MiB) to FILE."""
    path = os.environ.get("GENOLIFT_TEST_RSS")
    if not path:
        return
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    with open(path, "a") as out:
        out.write(f"{rss / 1024:.0f}\t{item.nodeid}\n")


@pytest.fixture(scope="module", autouse=True)
def release_memory_after_module():
    """After each test module, drop what the array libraries keep for the process (compiled steps, traces)
    and hand freed memory back to the system, so one pytest process stays small across ~50 modules."""
    yield
    release_memory()


def release_memory() -> None:
    import ctypes
    import gc
    import sys

    if "jax" in sys.modules:
        sys.modules["jax"].clear_caches()
    if "torch" in sys.modules:
        import torch._dynamo

        torch._dynamo.reset()
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
