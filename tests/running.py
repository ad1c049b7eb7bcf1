"""Runs of the command line in a subprocess that cannot finish before a test has interrupted it.

The child is the real ``genolift`` command, with each chunk's computation
delayed by ``delay`` seconds (the values are unchanged), so a test that waits
for a few chunks on disk always finds the run still going.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_SLOWED = """
import sys, time
from genolift.run.command import Command
from genolift.run import ism, occlusion, score, variants

def slowed(compute, delay):
    def compute_slowly(self, chunk, engine):
        time.sleep(delay)
        return compute(self, chunk, engine)
    return compute_slowly

delay = float(sys.argv[1])
for command in (score.ScoreCommand, ism.IsmCommand, variants.VariantsCommand, occlusion.OcclusionCommand):
    command.compute = slowed(command.compute, delay)
from genolift.cli.main import main
main(sys.argv[2:])
"""


def slowed_command(args: list, delay: float = 0.3) -> list[str]:
    """argv running ``genolift ARGS`` with every chunk delayed by ``delay`` seconds."""
    return [sys.executable, "-c", _SLOWED, str(delay), *[str(a) for a in args]]


def start_and_wait_for_parts(args: list, out: Path, parts: int, delay: float = 0.3,
                             timeout: float = 120) -> subprocess.Popen:
    """Start ``genolift ARGS`` (delayed) writing ``out`` and return once ``parts`` chunks are on disk.

    Fails the test, saying which, if the run ends first or no such chunks appear in ``timeout`` seconds.
    """
    import pytest

    proc = subprocess.Popen(slowed_command(args, delay), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = out.with_name(out.name + ".partial")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list(partial.glob("part-*.npz"))) >= parts:
            assert not out.exists(), "the output was assembled before the test could interrupt the run"
            return proc
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")
            pytest.fail(f"the run ended (exit {proc.returncode}) before {parts} chunk(s) were written: {err[-2000:]}")
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    pytest.fail(f"no {parts} chunk(s) in {partial} after {timeout:.0f} s")


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``path`` exists while ``proc`` runs; fail the test if it ends first or time runs out."""
    import pytest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before {path} appeared")
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"{path} did not appear in {timeout:.0f} s")
