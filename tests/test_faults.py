"""Killed, interrupted, failing and sharded runs end with the same bytes as a plain run.

The runs interrupted here are delayed per chunk (:mod:`tests.running`), so they
are still going when the test stops them, however fast the machine.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genolift.cli.main import cli
from genolift.engine import Engine

from .conftest import TEST_DATA
from .running import start_and_wait_for_parts

pytestmark = pytest.mark.slow

MODEL = TEST_DATA / "example_model.h5"
PEAKS = TEST_DATA / "example_peaks.narrowPeak"
GENOME = TEST_DATA / "example_genome.fa"
ARGS = ["--shuffles", "12", "--chunk-size", "8", "--batch-size", "48"]


def _args(out, *extra):
    return ["score", str(MODEL), str(PEAKS), "-g", str(GENOME), "-o", str(out), *ARGS, *extra]


def _cmd(out, *extra):
    return [sys.executable, "-m", "genolift", *_args(out, *extra)]


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    out = tmp_path_factory.mktemp("plain") / "plain.h5"
    subprocess.run(_cmd(out, "-q"), check=True, capture_output=True)
    return out


def assert_same_datasets(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert sorted(fa) == sorted(fb)
        for name in fa:
            assert np.array_equal(fa[name][()], fb[name][()]), name


def _start_and_wait_for_parts(out, parts=3):
    return start_and_wait_for_parts(_args(out, "-q"), out, parts)


def test_sigkill_then_resume_is_identical(plain, tmp_path):
    out = tmp_path / "killed.h5"
    proc = _start_and_wait_for_parts(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    assert (out.with_name(out.name + ".partial") / "lock").exists()  # a killed run cannot release its lock
    resumed = subprocess.run(_cmd(out, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    assert f"taking over the lock of a run that is gone (pid {proc.pid} " in resumed.stderr
    assert_same_datasets(plain, out)
    assert not out.with_name(out.name + ".partial").exists()


def test_sigterm_stops_cleanly_and_resumes(plain, tmp_path):
    out = tmp_path / "term.h5"
    proc = _start_and_wait_for_parts(out, parts=2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    lines = [line for line in err.decode().splitlines() if line.startswith("genolift: error")]
    assert len(lines) == 1 and "--resume" in lines[0] and "Traceback" not in err.decode()
    assert not out.exists()
    partial = out.with_name(out.name + ".partial")
    assert list(partial.glob("part-*.npz")) and not (partial / "lock").exists()  # chunks kept, lock released
    again = subprocess.run(_cmd(out), capture_output=True, text=True)
    assert again.returncode == 1 and "--resume" in again.stderr  # refuses to silently start over
    assert subprocess.run(_cmd(out, "--resume", "-q"), capture_output=True).returncode == 0
    assert_same_datasets(plain, out)


def _limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_disk_full_keeps_the_chunks_and_resumes(plain, tmp_path):
    out = tmp_path / "full.h5"
    out.write_bytes(b"")  # an older output must survive a failed --force run untouched
    before = out.read_bytes()
    proc = subprocess.run(_cmd(out, "--force", "-q"), capture_output=True, text=True,
                          preexec_fn=_limit_file_size(400_000))
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "--resume" in errors[0] and "Traceback" not in proc.stderr, proc.stderr
    assert out.read_bytes() == before
    assert subprocess.run(_cmd(out, "--resume", "--force", "-q"), capture_output=True).returncode == 0
    assert_same_datasets(plain, out)


def test_disk_full_while_writing_chunks(tmp_path):
    out = tmp_path / "tiny.h5"
    proc = subprocess.run(_cmd(out, "-q"), capture_output=True, text=True, preexec_fn=_limit_file_size(20_000))
    assert proc.returncode == 1 and "writing rows 0..8 failed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()


def test_exception_mid_run_then_resume(plain, tmp_path, monkeypatch):
    out = tmp_path / "crash.h5"
    calls = {"n": 0}
    real_run = Engine.run_tasks

    def flaky(self, X, R, revcomp=False, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("device fell over")
        return real_run(self, X, R, revcomp, **kw)

    monkeypatch.setattr(Engine, "run_tasks", flaky)
    args = ["score", str(MODEL), str(PEAKS), "-g", str(GENOME), "-o", str(out), "-q", *ARGS]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "device fell over" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert len(list(out.with_name(out.name + ".partial").glob("part-*.npz"))) == 3
    monkeypatch.setattr(Engine, "run_tasks", real_run)
    assert CliRunner().invoke(cli, args + ["--resume"]).exit_code == 0
    assert_same_datasets(plain, out)


def test_resume_with_other_parameters_is_refused(plain, tmp_path):
    out = tmp_path / "mixed.h5"
    proc = _start_and_wait_for_parts(out, parts=1)
    proc.kill()
    proc.wait()
    cmd = _cmd(out, "--resume")
    cmd[cmd.index("--shuffles") + 1] = "5"
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1 and "other parameters" in result.stderr and "shuffles" in result.stderr


def test_shards_merge_to_the_plain_run(plain, tmp_path):
    runner = CliRunner()
    shards = []
    for i in range(3):
        shard = tmp_path / f"shard_{i}.h5"
        args = ["score", str(MODEL), str(PEAKS), "-g", str(GENOME), "-o", str(shard), "-q", "--shard", f"{i}/3", *ARGS]
        assert runner.invoke(cli, args).exit_code == 0
        shards.append(shard)
    merged = tmp_path / "merged.h5"
    result = runner.invoke(cli, ["merge", str(shards[2]), str(shards[0]), str(shards[1]), "-o", str(merged)])
    assert result.exit_code == 0, result.output
    assert_same_datasets(plain, merged)
    missing = runner.invoke(cli, ["merge", str(shards[0]), str(shards[2]), "-o", str(tmp_path / "bad.h5")])
    assert missing.exit_code == 1 and "missing" in missing.stderr


def test_merge_refuses_shards_of_other_runs(tmp_path):
    runner = CliRunner()
    paths = []
    for i, seed in ((0, "0"), (1, "1")):
        path = tmp_path / f"s{i}.h5"
        args = ["score", str(MODEL), str(PEAKS), "-g", str(GENOME), "-o", str(path), "-q", "--shard", f"{i}/2",
                "--seed", seed, *ARGS]
        assert runner.invoke(cli, args).exit_code == 0
        paths.append(str(path))
    result = runner.invoke(cli, ["merge", *paths, "-o", str(tmp_path / "m.h5")])
    assert result.exit_code == 1 and "seed" in result.stderr
