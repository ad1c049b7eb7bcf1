"""The Snakemake workflow runs for real on test_data: shards -> merge -> bigWig -> modisco."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from .conftest import ROOT, TEST_DATA


pytestmark = pytest.mark.usefixtures("measured_compilation")  # these tests are about --compile auto


@pytest.mark.slow
def test_snakemake_workflow(tmp_path):
    bin_dir = Path(sys.executable).parent
    snakemake = bin_dir / "snakemake"
    if not snakemake.exists():
        found = shutil.which("snakemake")
        if found is None:
            pytest.fail("snakemake is not installed: pip install -e '.[test]'")
        snakemake = Path(found)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    config = [f"model={TEST_DATA / 'example_model.h5'}", f"regions={TEST_DATA / 'example_peaks.narrowPeak'}",
              f"genome={TEST_DATA / 'example_genome.fa'}", "shards=3", "shuffles=4", "chunk_size=32"]
    proc = subprocess.run(
        [str(snakemake), "--cores", "2", "--snakefile", str(ROOT / "scripts" / "snakemake" / "Snakefile"),
         "--directory", str(tmp_path), "--config", *config],
        capture_output=True, text=True, env=env, timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("scores.h5", "scores.bw", "modisco.h5"):
        assert (tmp_path / name).stat().st_size > 0
    cache = tmp_path / ".genolift-cache"  # the workflow's own, shared by its jobs
    records = list((cache / "compile").glob("*.json"))
    assert records, f"no compile choice recorded in {cache}"  # one per batch shape, taken by every shard
    plain = tmp_path / "plain.h5"
    subprocess.run([sys.executable, "-m", "genolift", "score", str(TEST_DATA / "example_model.h5"),
                    str(TEST_DATA / "example_peaks.narrowPeak"), "-g", str(TEST_DATA / "example_genome.fa"),
                    "-o", str(plain), "--shuffles", "4", "--chunk-size", "32", "-q"], check=True,
                   env={**env, "GENOLIFT_CACHE_DIR": str(cache)})
    with h5py.File(plain) as a, h5py.File(tmp_path / "scores.h5") as b:
        for name in a:
            assert np.array_equal(a[name][()], b[name][()]), name
    with h5py.File(tmp_path / "modisco.h5") as f:
        assert len(f["pos_patterns"]) >= 1
