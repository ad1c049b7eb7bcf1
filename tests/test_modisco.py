"""modisco-lite reads `genolift hypothetical` output as it is and finds the planted motif."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genolift.cli.main import cli

from .conftest import TEST_DATA

pytestmark = pytest.mark.slow  # a full run on every example peak, then modisco-lite


def _modisco() -> str:
    local = Path(sys.executable).with_name("modisco")
    found = str(local) if local.exists() else shutil.which("modisco")
    if found is None:
        pytest.fail("modisco-lite is not installed: pip install -e '.[test]'")
    return found


@pytest.fixture(scope="module")
def hypothetical(tmp_path_factory):
    hyp = tmp_path_factory.mktemp("modisco") / "hyp.h5"
    result = CliRunner().invoke(cli, [
        "hypothetical", str(TEST_DATA / "example_model.h5"), str(TEST_DATA / "example_peaks.narrowPeak"),
        "-g", str(TEST_DATA / "example_genome.fa"), "--shuffles", "10", "-o", str(hyp), "--format", "npz",
    ])
    assert result.exit_code == 0, result.output
    return hyp


def test_npz_pair_layout(hypothetical):
    ohe, attr = np.load(hypothetical.with_name("hyp.ohe.npz")), np.load(hypothetical.with_name("hyp.attr.npz"))
    assert ohe.files == ["arr_0"] and attr.files == ["arr_0"]
    with h5py.File(hypothetical) as f:
        np.testing.assert_array_equal(ohe["arr_0"], f["input_seqs"][()].transpose(0, 2, 1))
        np.testing.assert_array_equal(attr["arr_0"], f["hyp_scores"][()].transpose(0, 2, 1))


@pytest.mark.parametrize("source", ["hdf5", "npz"])
def test_modisco_finds_the_planted_motif(hypothetical, tmp_path, source):
    out = tmp_path / "modisco.h5"
    if source == "hdf5":
        inputs = ["-i", str(hypothetical)]
    else:
        inputs = ["-s", str(hypothetical.with_name("hyp.ohe.npz")), "-a", str(hypothetical.with_name("hyp.attr.npz"))]
    subprocess.run([_modisco(), "motifs", *inputs, "-n", "2000", "-w", "200", "-o", str(out)],
                   check=True, capture_output=True, timeout=600)
    core = json.loads((TEST_DATA / "motifs.json").read_text())["motif_a"]["consensus"][2:7]  # GATAA
    rc_core = core[::-1].translate(str.maketrans("ACGT", "TGCA"))
    with h5py.File(out, "r") as f:
        patterns = list(f["pos_patterns"]) if "pos_patterns" in f else []
        assert patterns, "modisco found no positive pattern"
        consensus = ["".join("ACGT"[i] for i in np.argmax(f["pos_patterns"][p]["sequence"][()], axis=1))
                     for p in patterns]
    assert any(core in c or rc_core in c for c in consensus), consensus
