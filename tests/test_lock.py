"""One run per output: a live lock refuses a second run at once, a stale one is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genolift.cli.main import cli
from genolift.errors import OutputError
from genolift.writers.lock import OutputLock

from .conftest import TEST_DATA
from .running import slowed_command, wait_for_file

MODEL = TEST_DATA / "example_model.h5"
SEQS = TEST_DATA / "example_seqs.fa"
SINCE = "2024-05-01T12:00:00+00:00"


def _score(out, *extra):
    args = ["score", str(MODEL), str(SEQS), "-o", str(out), "--shuffles", "2", "--chunk-size", "4", *extra]
    return CliRunner().invoke(cli, [str(a) for a in args])


def _plant_lock(out, pid, host=None):
    partial = out.with_name(out.name + ".partial")
    partial.mkdir()
    lock = partial / "lock"
    lock.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "since": SINCE, "token": "t"}))
    return lock


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genolift: error:"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("host", [None, "another-host.example"])
def test_live_lock_refuses_naming_the_running_run(tmp_path, host):
    out = tmp_path / "c.h5"
    lock = _plant_lock(out, os.getpid(), host)  # this test's own process: alive
    before = lock.read_text()
    for extra in ([], ["--force"], ["--resume"]):
        result = _score(out, *extra)
        assert result.exit_code == 1
        line = _one_error_line(result)
        assert f"pid {os.getpid()} on {host or socket.gethostname()}, since {SINCE}" in line
        assert "is writing this output" in line and str(lock) in line and "--resume" not in line
        assert lock.read_text() == before and not out.exists()


def test_stale_lock_is_taken_over_and_the_run_completes_identically(tmp_path):
    plain, out = tmp_path / "plain.h5", tmp_path / "c.h5"
    assert _score(plain, "-q").exit_code == 0
    pid = _dead_pid()
    _plant_lock(out, pid)
    result = _score(out, "-q")
    assert result.exit_code == 0, result.stderr
    assert f"taking over the lock of a run that is gone (pid {pid} on {socket.gethostname()}" in result.stderr
    assert not out.with_name("c.h5.partial").exists()
    with h5py.File(plain) as a, h5py.File(out) as b:
        assert sorted(a) == sorted(b)
        for name in a:
            assert np.array_equal(a[name][()], b[name][()]), name


def test_lock_released_when_a_run_fails_mid_way(tmp_path, monkeypatch):
    from genolift.run.score import ScoreCommand

    real, calls = ScoreCommand.compute, []

    def failing(self, chunk, engine):
        calls.append(chunk.start)
        if len(calls) == 2:
            raise RuntimeError("device fell over")
        return real(self, chunk, engine)

    monkeypatch.setattr(ScoreCommand, "compute", failing)
    out = tmp_path / "c.h5"
    result = _score(out, "-q")
    assert result.exit_code == 1 and "device fell over" in result.stderr
    partial = out.with_name("c.h5.partial")
    assert not (partial / "lock").exists()
    assert len(list(partial.glob("part-*.npz"))) == 1


def test_lock_released_when_reading_regions_fails(tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\n")
    out = tmp_path / "c.h5"
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(TEST_DATA / "example_genome.fa"),
                                      "-o", str(out)])
    assert result.exit_code == 1 and "r.bed:1:" in _one_error_line(result)
    assert not out.with_name("c.h5.partial").exists()


def test_output_lock_is_exclusive_and_releases_only_its_own(tmp_path):
    partial = tmp_path / "x.h5.partial"
    first = OutputLock(partial, tmp_path / "x.h5")
    first.acquire()
    holder = first.holder()
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    with pytest.raises(OutputError, match=f"pid {os.getpid()}"):
        OutputLock(partial).acquire()
    first.release()
    assert not partial.exists()
    with OutputLock(partial) as second:
        (partial / "lock").write_text(json.dumps({"pid": 1, "host": "h", "since": SINCE, "token": "other"}))
        second.release()  # not its lock any more: left alone
        assert (partial / "lock").exists()


@pytest.mark.slow
def test_second_run_refuses_while_the_first_runs(tmp_path):
    out = tmp_path / "c.h5"
    args = ["score", MODEL, SEQS, "-o", out, "--shuffles", "2", "--chunk-size", "2", "-q"]
    first = subprocess.Popen(slowed_command(args, delay=0.5), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_file(out.with_name("c.h5.partial") / "lock", first)
        second = _score(out, "--force")
        assert second.exit_code == 1
        line = _one_error_line(second)
        assert f"pid {first.pid} on {socket.gethostname()}" in line and "--resume" not in line
    finally:
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err.decode()
    with h5py.File(out) as f:
        assert f.attrs["complete"] and f["hyp_scores"].shape == (20, 200, 4)
