"""The Snakemake workflow on a real SLURM: the documented command, shard jobs as SLURM jobs, a killed shard resumed.

A one-node SLURM (``scripts/slurm/one_node.sh``: Debian's slurm-wlm and
munge, daemons started as root without systemd, stopped at the end by their
pids) runs the SLURM command of ``docs/pipelines.md`` on the bundled example
with 3 shards.  SLURM's own records (``scontrol show job``, kept for
MinJobAge = 300 s, and the job completion log) show every shard ran as a
SLURM job with its GPU request; the merged file equals an unsharded run bit
for bit.  Then one shard job is cancelled mid-run with ``scancel`` (its
chunks delayed so that it is still running), the workflow is run again, and
the shard continues from the chunks it wrote, to the same merged file.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from .conftest import ROOT, TEST_DATA
from .running import slowed_command

DOC = ROOT / "docs" / "pipelines.md"
SNAKEFILE = ROOT / "scripts" / "snakemake" / "Snakefile"
ONE_NODE = ROOT / "scripts" / "slurm" / "one_node.sh"
PROGRAMS = ("slurmctld", "slurmd", "munged", "sbatch", "srun", "squeue", "scontrol", "scancel")
CONFIG = {"model": TEST_DATA / "example_model.h5", "regions": TEST_DATA / "example_peaks.narrowPeak",
          "genome": TEST_DATA / "example_genome.fa", "shards": 3, "shuffles": 4, "chunk_size": 32}
BIN = Path(sys.executable).parent


def _why_not() -> str | None:
    """Why this machine cannot run the one-node SLURM, or None."""
    missing = [name for name in PROGRAMS if shutil.which(name) is None]
    if missing:
        return (f"SLURM is not installed ({', '.join(missing)} missing): "
                "apt-get install -y --no-install-recommends slurm-wlm munge")
    if os.geteuid() != 0:
        return "the one-node SLURM runs its daemons as root"
    system = Path("/etc/slurm/slurm.conf")
    if system.exists() and not system.is_symlink():
        return "this machine has its own SLURM configuration (/etc/slurm/slurm.conf)"
    return None


_WHY_NOT = _why_not()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_WHY_NOT is not None, reason=_WHY_NOT or "")]


class Cluster:
    """A running one-node SLURM: its folder and the environment its commands need."""

    def __init__(self, base: Path):
        self.base = base
        self.env = {**os.environ, "SLURM_CONF": str(base / "slurm.conf"),
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

    def jobs(self) -> list[dict]:
        """Every job slurmctld knows (``scontrol -o show job``), as {field: value}."""
        done = subprocess.run(["scontrol", "-o", "show", "job"], env=self.env, capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 0 or "No jobs" in done.stdout + done.stderr, done.stderr
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in done.stdout.splitlines() if line.strip()]

    def jobs_of(self, rule: str, wildcard: str | None = None) -> list[dict]:
        """The jobs Snakemake submitted for ``rule`` (and wildcard value), oldest first."""
        comment = f"rule_{rule}" + (f"_wildcards_{wildcard}" if wildcard is not None else "")
        return sorted((job for job in self.jobs() if job.get("Comment") == comment), key=lambda j: int(j["JobId"]))

    def completion_log(self) -> dict:
        """SLURM's job completion log: {job id: {field: value}} of every job that ended."""
        path = self.base / "log" / "jobcomp.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return {fields["JobId"]: fields for fields in (dict(re.findall(r"(\w+)=(\S*)", line)) for line in lines)}


@pytest.fixture(scope="module")
def cluster():
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail("snakemake-executor-plugin-slurm is not installed: pip install -e '.[test]'")
    base = Path(tempfile.mkdtemp(prefix="gl-slurm-", dir="/tmp"))  # short: munge's socket path has a limit
    script_env = {**os.environ, "SLURM_BASE": str(base)}
    try:
        started = subprocess.run(["bash", str(ONE_NODE), "start"], env=script_env, capture_output=True, text=True,
                                 timeout=120)
        assert started.returncode == 0, f"the one-node SLURM did not start: {started.stderr[-2000:]}"
        yield Cluster(base)
    finally:
        subprocess.run(["bash", str(ONE_NODE), "stop"], env=script_env, capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def documented_command() -> list[str]:
    """The SLURM command of docs/pipelines.md, as words."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
    (block,) = [block for block in blocks if "--executor slurm" in block]
    return shlex.split(block.replace("\\\n", " "))


def workflow_command(directory: Path) -> list[str]:
    """The documented command for the example in ``directory``: its files, 3 shards, the merged file
    as the target (bigWig and modisco are the local workflow test's), and status polling from 1 s."""
    words = documented_command()
    assert words[:3] == ["snakemake", "--executor", "slurm"], words
    words[words.index("--snakefile") + 1] = str(SNAKEFILE)
    words[words.index("--directory") + 1] = str(directory)
    start = words.index("--config") + 1
    end = next((i for i in range(start, len(words)) if words[i].startswith("-")), len(words))
    config = dict(word.split("=", 1) for word in words[start:end])
    assert config.get("gpus_per_shard") == "1", "the documented command asks for one GPU per shard job"
    config.update({name: str(value) for name, value in CONFIG.items()})
    words[start:end] = [f"{name}={value}" for name, value in config.items()]
    return [str(BIN / "snakemake"), "scores.h5", *words[1:], "--slurm-init-seconds-before-status-checks", "1"]


def run_workflow(cluster: Cluster, directory: Path, path_first: Path | None = None) -> subprocess.Popen:
    env = dict(cluster.env)
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    return subprocess.Popen(workflow_command(directory), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc: subprocess.Popen, timeout: float = 420) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"the workflow did not end in {timeout:.0f} s: {out[-3000:]}")
    return proc.returncode, out


def scores(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f if isinstance(f[name], h5py.Dataset)}


def assert_same_scores(a: Path, b: Path) -> None:
    first, second = scores(a), scores(b)
    assert sorted(first) == sorted(second)
    for name in first:
        assert np.array_equal(first[name], second[name]), name


def unsharded(directory: Path, out: Path) -> None:
    """The example scored in one process, with the workflow's cache folder."""
    env = {**os.environ, "GENOLIFT_CACHE_DIR": str(directory / ".genolift-cache")}
    subprocess.run([sys.executable, "-m", "genolift", "score", str(CONFIG["model"]), str(CONFIG["regions"]),
                    "-g", str(CONFIG["genome"]), "-o", str(out), "--shuffles", str(CONFIG["shuffles"]),
                    "--chunk-size", str(CONFIG["chunk_size"]), "-q"], check=True, env=env, timeout=600)


def slowed_genolift(folder: Path, delay: float) -> Path:
    """A folder holding a ``genolift`` that is the real command with each chunk delayed by ``delay`` s."""
    folder.mkdir()
    script = folder / "genolift"
    script.write_text(f"#!/bin/sh\nexec {shlex.join(slowed_command([], delay))} \"$@\"\n")
    script.chmod(0o755)
    return folder


def wait_for_parts(partial: Path, proc: subprocess.Popen, parts: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(list(partial.glob("part-*.npz"))) < parts:
        if proc.poll() is not None:
            pytest.fail(f"the workflow ended before {partial} held {parts} chunk(s): {proc.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{partial} held no {parts} chunk(s) after {timeout:.0f} s")
        time.sleep(0.1)


def test_the_documented_slurm_command_runs_shards_as_slurm_jobs_and_resumes_a_cancelled_one(cluster, tmp_path):
    directory = tmp_path / "results"
    started = time.monotonic()
    code, out = finish(run_workflow(cluster, directory))
    first_run = time.monotonic() - started
    assert code == 0, out[-4000:]

    ended = cluster.completion_log()
    for i in range(CONFIG["shards"]):  # each shard one SLURM job, in SLURM's records, with its GPU request
        (job,) = cluster.jobs_of("score_shard", str(i))
        assert job["JobState"] == "COMPLETED" and job["WorkDir"] == str(directory), job
        assert job["TresPerJob"] == "gres:gpu:1", job
        assert ended[job["JobId"]]["JobState"] == "COMPLETED", ended.get(job["JobId"])
    (merge,) = cluster.jobs_of("merge")
    assert merge["JobState"] == "COMPLETED" and "gpu" not in merge.get("TresPerJob", ""), merge
    merged = tmp_path / "merged.h5"
    shutil.copyfile(directory / "scores.h5", merged)
    unsharded(directory, tmp_path / "unsharded.h5")
    assert_same_scores(merged, tmp_path / "unsharded.h5")

    # cancel shard 0 mid-run: its output and the merged file removed, its chunks slowed to 1 s each
    for name in ("shards/shard_0.h5", "shards/shard_0.regions.narrowPeak", "scores.h5"):
        (directory / name).unlink()
    started = time.monotonic()
    proc = run_workflow(cluster, directory, path_first=slowed_genolift(tmp_path / "slowed", 1.0))
    partial = directory / "shards" / "shard_0.h5.partial"
    wait_for_parts(partial, proc, parts=1)
    (job,) = [j for j in cluster.jobs_of("score_shard", "0") if j["JobState"] == "RUNNING"]
    subprocess.run(["scancel", job["JobId"]], env=cluster.env, check=True, timeout=30)
    code, out = finish(proc)
    cancelled_run = time.monotonic() - started
    assert code != 0 and f"SLURM-job '{job['JobId']}' failed" in out, out[-4000:]
    assert cluster.jobs_of("score_shard", "0")[-1]["JobState"] == "CANCELLED"
    written = len(list(partial.glob("part-*.npz")))
    assert written >= 1 and not (directory / "shards" / "shard_0.h5").exists()

    started = time.monotonic()
    code, out = finish(run_workflow(cluster, directory))
    resumed_run = time.monotonic() - started
    assert code == 0, out[-4000:]
    log = (directory / "logs" / "score_shard_0.log").read_text()
    assert re.search(rf"resuming: {written} chunk\(s\) already written, \d+ to go", log), log[-2000:]
    assert [j["JobState"] for j in cluster.jobs_of("score_shard", "0")] == ["COMPLETED", "CANCELLED", "COMPLETED"]
    for i in range(1, CONFIG["shards"]):
        assert len(cluster.jobs_of("score_shard", str(i))) == 1  # finished shards were not run again
    assert_same_scores(directory / "scores.h5", merged)
    print(f"SLURM workflow: {first_run:.0f} s whole, {cancelled_run:.0f} s until the cancelled shard's run "
          f"ended, {resumed_run:.0f} s resumed")
