"""Test modules that run in a pytest process of their own, their results reported by this one.

TensorFlow keeps native memory for every engine a process builds (its traced functions' runtime state,
a few MB each, never returned), and JAX and PyTorch keep their compiled kernels: one pytest process that
runs the engine-heavy modules one after the other grows past what a contributor's laptop has.  The
modules in :data:`ISOLATED` build hundreds of engines each; each runs as one child ``python -m pytest``
on exactly the tests this session selected of it (the modules share one child where the selection holds
few of their tests, as ``-m "not slow"`` does: :data:`ONE_CHILD_UP_TO`), and the child's reports (outcome, failure text,
duration, xfail reason) are replayed here, so the session's summary, ``-x``, ``--durations`` and the
exit status are what they would be in one process.  Nothing about the tests changes: the child is
pytest running the same test functions with the same conftest.

``GENOLIFT_TEST_IN_ONE_PROCESS=1`` runs everything in this process instead (a debugger, a profiler).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from _pytest.reports import TestReport

#: Modules that run in a child process (file names under tests/).
ISOLATED = frozenset({"test_backends.py", "test_compile.py", "test_engine.py", "test_maxpool_rule.py"})
#: Selected tests of the isolated modules up to which they all share one child (the fast tier: a child's
#: start-up, about 15 s on 2 cores, is then paid once); above it each module has a child of its own.
ONE_CHILD_UP_TO = 300
#: Set in a child: the file its reports are appended to (one JSON object a line).
REPORTS_ENV = "GENOLIFT_TEST_REPORTS"
ONE_PROCESS_ENV = "GENOLIFT_TEST_IN_ONE_PROCESS"
_ROOT = Path(__file__).resolve().parent.parent


def _isolated(item) -> bool:
    return (Path(str(item.fspath)).name in ISOLATED and not os.environ.get(REPORTS_ENV)
            and not os.environ.get(ONE_PROCESS_ENV))


def _run_child(items) -> dict[str, list[dict]]:
    """Run ``items`` (one module's selected tests) in a child pytest; their reports by node id."""
    folder = Path(tempfile.mkdtemp(prefix="genolift-tests-"))
    reports = folder / "reports.jsonl"
    env = dict(os.environ, **{REPORTS_ENV: str(reports)})
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(folder / "tmp"),
               *(item.nodeid for item in items)]
    try:
        done = subprocess.run(command, cwd=_ROOT, env=env, capture_output=True, text=True)
        by_id: dict[str, list[dict]] = {}
        if reports.exists():
            for line in reports.read_text().splitlines():
                record = json.loads(line)
                by_id.setdefault(record["nodeid"], []).append(record)
        if done.returncode not in (0, 1) or any(item.nodeid not in by_id for item in items):
            tail = (done.stdout + done.stderr)[-4000:]
            for item in items:
                by_id.setdefault(item.nodeid, [{"nodeid": item.nodeid, "when": "call", "outcome": "failed",
                                               "longrepr": f"child pytest exited {done.returncode} without "
                                                           f"reporting this test:\n{tail}",
                                               "duration": 0.0, "sections": []}])
        return by_id
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """Run an isolated module's tests in a child at its first test; replay each test's reports."""
    if not _isolated(item):
        return None
    session = item.session
    results = session.stash.setdefault(_RESULTS, {})
    if item.nodeid not in results:
        isolated = [i for i in session.items if _isolated(i)]
        if len(isolated) > ONE_CHILD_UP_TO:  # a child per module
            isolated = [i for i in isolated if i.fspath == item.fspath]
        results.update(_run_child(isolated))
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for record in results.pop(item.nodeid):
        longrepr = record["longrepr"]
        report = TestReport(item.nodeid, item.location, {k: 1 for k in item.keywords}, record["outcome"],
                            tuple(longrepr) if isinstance(longrepr, list) else longrepr, record["when"], [tuple(s) for s in record["sections"]],
                            record["duration"])
        if "wasxfail" in record:
            report.wasxfail = record["wasxfail"]
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def pytest_runtest_logreport(report):
    """In a child: append each report for the parent to replay."""
    path = os.environ.get(REPORTS_ENV)
    if not path:
        return
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        longrepr = list(longrepr)
    elif longrepr is not None:
        longrepr = report.longreprtext
    record = {"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome, "longrepr": longrepr,
              "duration": report.duration, "sections": [list(s) for s in report.sections]}
    if hasattr(report, "wasxfail"):
        record["wasxfail"] = report.wasxfail
    with open(path, "a") as out:
        out.write(json.dumps(record) + "\n")


_RESULTS = pytest.StashKey[dict]()
