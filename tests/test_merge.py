"""`genolift merge` compares every setting the run records: one list, shared by provenance and merge."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genolift._constants import OPTIONAL_SETTINGS, SETTINGS
from genolift.cli.main import cli

from .conftest import TEST_DATA

MODEL = TEST_DATA / "example_model.h5"
SEQS = TEST_DATA / "example_seqs.fa"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _ism(out, *extra):
    result = invoke("ism", MODEL, SEQS, "-o", out, "--chunk-size", "10", "-q", *extra)
    assert result.exit_code == 0, result.stderr
    return out


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genolift: error:") and "Traceback" not in result.stderr, lines
    return lines[0]


@pytest.fixture(scope="module")
def ism_shards(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ism_shards")
    return tmp, [_ism(tmp / f"s{i}.h5", "--window", "0:10", "--shard", f"{i}/2") for i in range(2)]


def test_merge_refuses_ism_shards_of_other_windows(ism_shards, tmp_path):
    _, (first, _) = ism_shards
    other = _ism(tmp_path / "other.h5", "--window", "20:30", "--shard", "1/2")
    merged = tmp_path / "m.h5"
    result = invoke("merge", first, other, "-o", merged)
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "ism_window" in line and "other settings" in line and not merged.exists()


def test_ism_shards_of_one_run_merge_to_the_plain_run(ism_shards, tmp_path):
    _, shards = ism_shards
    merged, plain = tmp_path / "m.h5", _ism(tmp_path / "plain.h5", "--window", "0:10")
    result = invoke("merge", *reversed(shards), "-o", merged)
    assert result.exit_code == 0, result.stderr
    with h5py.File(plain) as a, h5py.File(merged) as b:
        assert sorted(a) == sorted(b)
        for name in a:
            assert np.array_equal(a[name][()], b[name][()]), name
        assert list(b.attrs["ism_window"]) == [0, 10]


def test_every_setting_is_recorded(ism_shards):
    _, (first, _) = ism_shards
    with h5py.File(first) as f:
        attrs = dict(f.attrs)
    absent = {name for name in SETTINGS if name not in attrs}
    # None here (the optional ones are variants' only); None is not stored
    assert absent == {"steps", "substituted_lambdas", "gc", "genome_file", *OPTIONAL_SETTINGS}
    assert attrs["command"] == "ism" and attrs["rule"] == "ism"


@pytest.mark.parametrize("name", SETTINGS)
def test_merge_refuses_shards_differing_in_any_setting(ism_shards, tmp_path, name):
    _, (first, second) = ism_shards
    changed = tmp_path / "changed.h5"
    shutil.copy(second, changed)
    with h5py.File(changed, "a") as f:
        f.attrs[name] = "something else"
    result = invoke("merge", first, changed, "-o", tmp_path / "m.h5")
    assert result.exit_code == 1
    assert name in _one_error_line(result)


def test_merge_refuses_to_overwrite_a_shard(ism_shards):
    _, (first, second) = ism_shards
    before = first.read_bytes()
    result = invoke("merge", first, second, "-o", first, "--force")
    assert result.exit_code == 1
    assert "-o" in _one_error_line(result) and "a shard file" in result.stderr
    assert first.read_bytes() == before
