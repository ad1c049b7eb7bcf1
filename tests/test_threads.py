"""--threads: input chunks built by several worker threads give the same file, in order, errors at their chunk."""

from __future__ import annotations

import os
import threading
import time
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from genolift.run.driver import GPU_INPUT_THREADS, input_threads
from genolift.run.source import chunks

from .helpers import score_example


def _score(out, *extra):
    return score_example(out, 3, 4, *extra)


def test_worker_threads_give_the_same_file(tmp_path):
    one, three = _score(tmp_path / "one.h5", "--threads", "1"), _score(tmp_path / "three.h5", "--threads", "3")
    with h5py.File(one) as a, h5py.File(three) as b:
        assert sorted(a) == sorted(b)
        assert len(a["hyp_scores"]) > 3 * 4  # several chunks, so the workers really split the run
        for name in a:
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)


class _Source:
    """A region source of ``n`` one-base windows whose one-hot rows hold their row index."""

    def __init__(self, n: int):
        self.windows = list(range(n))

    def one_hot(self, start: int, stop: int) -> np.ndarray:
        return np.arange(start, stop, dtype=np.float32)[:, None, None]


def test_chunks_come_in_order_from_parallel_workers():
    seen = set()

    def prepare(windows, X):
        seen.add(threading.current_thread().name)
        time.sleep(0.02 * (3 - windows[0] // 10 % 3))  # later chunks finish first
        return int(X[0, 0, 0])

    got = [(c.start, c.inputs, c.windows) for c in chunks(_Source(95), list(range(0, 95, 10)), 10, prepare, 3)]
    assert [g[0] for g in got] == list(range(0, 95, 10))
    assert [g[1] for g in got] == list(range(0, 95, 10))
    assert got[-1][2] == list(range(90, 95))
    assert len(seen) == 3


def test_a_worker_error_is_raised_at_its_chunk_after_the_earlier_ones():
    def prepare(windows, X):
        if windows[0] == 30:
            raise ValueError("bad chunk 30")
        return None

    got = []
    with pytest.raises(ValueError, match="bad chunk 30"):
        for chunk in chunks(_Source(100), list(range(0, 100, 10)), 10, prepare, 4):
            got.append(chunk.start)
    assert got == [0, 10, 20]


def test_at_most_threads_plus_one_chunks_are_built_or_waiting_beyond_the_one_in_use():
    built, consumed = [], []

    def prepare(windows, X):
        built.append(windows[0])
        return None

    for chunk in chunks(_Source(200), list(range(0, 200, 10)), 10, prepare, 2):
        time.sleep(0.02)
        consumed.append(chunk.start)
        assert len(built) - len(consumed) <= 2 + 1, (built, consumed)


def test_thread_count_defaults_to_one_on_a_cpu_and_takes_what_is_given():
    cpu = SimpleNamespace(devices=["/CPU:0"])
    assert input_threads(SimpleNamespace(threads=0), cpu) == 1
    assert input_threads(SimpleNamespace(threads=5), cpu) == 5
    gpu = SimpleNamespace(devices=["/GPU:0"])
    assert 1 <= input_threads(SimpleNamespace(threads=0), gpu) <= GPU_INPUT_THREADS
    assert input_threads(SimpleNamespace(threads=0), gpu) == min(GPU_INPUT_THREADS, len(os.sched_getaffinity(0)))
