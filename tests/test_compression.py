"""--compression: gzip, lzf or no filter on the score datasets; the same values whichever, read by plain h5py."""

from __future__ import annotations

import h5py
import numpy as np
from click.testing import CliRunner

from genolift.cli.main import cli

from .helpers import score_example


def _score(out, *extra):
    return score_example(out, 2, 8, *extra)


def test_every_compression_stores_the_same_values(tmp_path):
    files = {c: _score(tmp_path / f"{c}.h5", "--compression", c) for c in ("gzip", "lzf", "none")}
    with h5py.File(files["gzip"]) as ref:
        for compression, path in files.items():
            with h5py.File(path) as f:
                for name in ("input_seqs", "hyp_scores", "contrib_scores"):
                    assert f[name].compression == (None if compression == "none" else compression), name
                assert sorted(f) == sorted(ref)
                for name in ref:
                    np.testing.assert_array_equal(f[name][()], ref[name][()], err_msg=f"{compression} {name}")


def test_merge_keeps_the_shards_compression(tmp_path):
    shards = [_score(tmp_path / f"s{i}.h5", "--compression", "lzf", "--shard", f"{i}/2") for i in range(2)]
    merged = tmp_path / "merged.h5"
    result = CliRunner().invoke(cli, ["merge", *map(str, shards), "-o", str(merged), "-q"])
    assert result.exit_code == 0, result.output
    with h5py.File(merged) as f:
        assert f["hyp_scores"].compression == "lzf"


def test_float16_storage_is_the_float32_scores_rounded(tmp_path):
    """--score-dtype float16 (bpnet-style half-size files): each stored score is the float32 score rounded to
    float16; sequences, predictions and deltas stay float32."""
    full = _score(tmp_path / "f32.h5")
    half = _score(tmp_path / "f16.h5", "--score-dtype", "float16")
    with h5py.File(full) as a, h5py.File(half) as b:
        for name in ("hyp_scores", "contrib_scores"):
            assert b[name].dtype == np.float16
            np.testing.assert_array_equal(b[name][()], a[name][()].astype(np.float16))
        for name in ("input_seqs", "predictions", "reference_predictions", "deltas"):
            assert b[name].dtype == np.float32
            np.testing.assert_array_equal(b[name][()], a[name][()])
        assert b.attrs["score_dtype"] == "float16" and a.attrs["score_dtype"] == "float32"
