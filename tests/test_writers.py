"""The HDF5 score writer against h5py's own reading of the finished file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from genolift.regions import Window
from genolift.writers.hdf5 import ScoreWriter, default_values


@pytest.mark.parametrize("n, chunk", [(1, 1), (130, 50), (200, 64), (77, 13)])
def test_chunks_compressed_by_genolift_read_back_exactly(n, chunk, tmp_path):
    """Score datasets are stored as HDF5 chunks compressed outside HDF5 (shuffle + gzip);
    h5py must decode every row to the written values, edge chunk included."""
    L, k = 9, 3
    rng = np.random.default_rng(n)
    arrays = {
        "input_seqs": np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, L))],
        "hyp_scores": rng.normal(size=(n, L, 4)).astype(np.float32),
        "contrib_scores": (rng.normal(size=(n, L, 4)) * (rng.random((n, L, 4)) < 0.25)).astype(np.float32),
        "predictions": rng.normal(size=n).astype(np.float32),
        "residuals": rng.normal(size=n).astype(np.float32),
        "reference_predictions": rng.normal(size=(n, k)).astype(np.float32),
        "deltas": rng.normal(size=(n, k)).astype(np.float32),
    }
    windows = [Window("chr1", 10 * i, 10 * i + L, "+", f"r{i}", i + 1) for i in range(n)]
    path = tmp_path / "s.h5"
    writer = ScoreWriter(path, n, L, k, manifest={})
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        writer.write(start, windows[start:stop], {name: a[start:stop] for name, a in arrays.items()})
    writer.finish()
    with h5py.File(path) as f:
        for name, want in arrays.items():
            np.testing.assert_array_equal(f[name][:], want, err_msg=name)
        for name in ("input_seqs", "hyp_scores", "contrib_scores"):
            assert f[name].compression == "gzip" and f[name].shuffle
            assert f[name].id.get_num_chunks() == -(-n // f[name].chunks[0])
        assert list(f["coords_name"].asstr()[:]) == [w.name for w in windows]
        assert f.attrs["complete"]
    assert default_values(k).keys() <= arrays.keys()
