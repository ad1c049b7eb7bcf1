"""Downstream files made from real genolift runs: the regions narrowPeak, exports, the mean of folds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from genolift import _constants as C
from genolift.downstream import (
    FORMATS,
    average,
    export,
    export_paths,
    regions_path_for,
    regions_rows,
    write_regions,
    write_regions_file,
)
from genolift.errors import OutputError
from genolift.regions import center_window

from .conftest import TEST_DATA
from .helpers import assert_sums_to_delta

GENOME = TEST_DATA / "example_genome.fa"
LENGTH = 200

#: Regions with a window off each end of a chromosome (chr3 is 100 000 bp): skipped, or padded with N.
OFF_EDGE = ["chr1\t0\t30\tleft_edge\t0\t.\t1\t1\t1\t5", "chr3\t99950\t99990\tright_edge\t0\t.\t1\t1\t1\t20"]


def _peaks(path: Path) -> Path:
    lines = (TEST_DATA / "example_peaks.narrowPeak").read_text().splitlines()[:24]
    path.write_text("\n".join(lines[:5] + OFF_EDGE[:1] + lines[5:15] + OFF_EDGE[1:] + lines[15:]) + "\n")
    return path


def _fasta_with_n(path: Path) -> Path:
    """example_seqs.fa (seq_15 holds N already) with one N in seq_3 and a run of N in seq_7."""
    records = (TEST_DATA / "example_seqs.fa").read_text().split(">")[1:]
    out = []
    for record in records:
        name, *rows = record.strip().splitlines()
        seq = "".join(rows)
        if name == "seq_3":
            seq = seq[:50] + "N" + seq[51:]
        if name == "seq_7":
            seq = seq[:120] + "N" * 30 + seq[150:]
        out.append(f">{name}\n{seq}")
    path.write_text("\n".join(out) + "\n")
    return path


def _second_fold(path: Path) -> Path:
    """example_model.h5 with its kernels perturbed: the same architecture, other weights."""
    shutil.copy(TEST_DATA / "example_model.h5", path)
    rng = np.random.default_rng(7)
    with h5py.File(path, "r+") as f:
        kernels = []
        f["model_weights"].visit(lambda name: kernels.append(name) if name.endswith("kernel:0") else None)
        for name in kernels:
            weights = f["model_weights"][name]
            weights[...] = weights[()] * (1 + 0.3 * rng.standard_normal(weights.shape)).astype(np.float32)
    return path


def _genolift(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "genolift", *map(str, args), "-k", "2", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Score files of real runs: two folds on peaks with skipped windows, BED, FASTA with N, padded windows."""
    d = tmp_path_factory.mktemp("downstream")
    peaks, fold2 = _peaks(d / "peaks.narrowPeak"), _second_fold(d / "fold2.h5")
    bed = d / "regions.bed"
    bed.write_text("".join((TEST_DATA / "example_regions.bed").read_text().splitlines(keepends=True)[:16]))
    model = TEST_DATA / "example_model.h5"
    jobs = {
        "a": ("score", model, peaks, "-g", GENOME),
        "b": ("score", fold2, peaks, "-g", GENOME),
        "bed": ("hypothetical", model, bed, "-g", GENOME),
        "fasta": ("score", model, _fasta_with_n(d / "seqs.fa")),
        "pad": ("hypothetical", model, peaks, "-g", GENOME, "--off-edge", "pad"),
    }
    paths = {key: d / f"{key}.h5" for key in jobs}
    procs = {key: _genolift(*args, "-o", paths[key]) for key, args in jobs.items()}
    for key, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{key}: {err[-2000:]}"
    return {**paths, "peaks": peaks, "bed_input": bed}


def _columns(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def _coords(path: Path, keep=None) -> dict[str, np.ndarray]:
    with h5py.File(path) as f:
        out = {n: (f[n].asstr()[()] if f[n].dtype.kind == "O" else f[n][()]) for n in
               (*C.STRING_DATASETS, *C.INT_DATASETS)}
    return out if keep is None else {n: v[keep] for n, v in out.items()}


def _assert_rows_match(regions: Path, scores: Path, keep=None) -> None:
    """Line i of the regions file is the window of score row i (of the kept rows)."""
    coords, rows = _coords(scores, keep), _columns(regions)
    assert len(rows) == len(coords[C.COORDS_START])
    for i, fields in enumerate(rows):
        assert len(fields) == 10
        chrom, start, end, name, score, strand, signal, p, q, summit = fields
        assert (chrom, int(start), int(end)) == (coords[C.COORDS_CHROM][i], coords[C.COORDS_START][i],
                                                 coords[C.COORDS_END][i])
        assert (name, strand) == (coords[C.COORDS_NAME][i], coords[C.COORDS_STRAND][i])
        assert (score, signal, p, q, summit) == ("0", "-1", "-1", "-1", str(LENGTH // 2))


# ---------------------------------------------------------------- the regions file


def test_regions_path_for():
    assert regions_path_for("out/scores.h5") == Path("out/scores.regions.narrowPeak")
    assert regions_path_for("x.hdf5") == Path("x.regions.narrowPeak")
    assert regions_path_for("x.npz") == Path("x.regions.narrowPeak")
    assert regions_path_for("x.scores") == Path("x.scores.regions.narrowPeak")


def test_regions_rows_fill_missing_names_and_strands():
    lines = regions_rows(["chr1", "chr2"], [10, -5], [210, 196], ["", "b"], ["-", "?"], first_row=40)
    assert lines == ["chr1\t10\t210\trow_40\t0\t-\t-1\t-1\t-1\t100", "chr2\t-5\t196\tb\t0\t.\t-1\t-1\t-1\t100"]
    assert regions_rows(["c"], [0], [7])[0].split("\t")[3::6] == ["row_0", "3"]
    with pytest.raises(ValueError):
        regions_rows(["c"], [0, 1], [7])


def test_write_regions_from_memory(tmp_path):
    path = write_regions(tmp_path / "w.narrowPeak", ["chr1"], [5], [205], ["p"], ["+"])
    assert path.read_text() == "chr1\t5\t205\tp\t0\t+\t-1\t-1\t-1\t100\n"
    with pytest.raises(OutputError, match="exists"):
        write_regions(path, ["chr1"], [5], [205])
    write_regions(path, ["chr2"], [5], [205], force=True)
    assert path.read_text().startswith("chr2\t5\t205\trow_0\t")


def test_regions_file_has_one_row_per_score_row_with_skipped_windows(runs, tmp_path):
    with h5py.File(runs["a"]) as f:
        assert int(f.attrs["skipped_windows"]) == 2
        rows = f[C.COORDS_START].shape[0]
    assert rows == 24
    path = write_regions_file(runs["a"], tmp_path / "a.regions.narrowPeak")
    _assert_rows_match(path, runs["a"])
    names = [fields[3] for fields in _columns(path)]
    assert "left_edge" not in names and "right_edge" not in names
    # every line is the window genolift centred on the summit of its peak (the line recorded in region_line)
    peaks = _columns(runs["peaks"])
    for fields, line in zip(_columns(path), _coords(runs["a"])[C.REGION_LINE]):
        peak = peaks[line - 1]
        assert (int(fields[1]), int(fields[2])) == center_window(int(peak[1]), int(peak[2]), int(peak[9]), LENGTH)
        assert fields[3] == peak[3]


def test_regions_file_default_name_and_overwrite(runs, tmp_path):
    scores = tmp_path / "copy.h5"
    shutil.copy(runs["a"], scores)
    path = write_regions_file(scores)
    assert path == tmp_path / "copy.regions.narrowPeak"
    with pytest.raises(OutputError, match="exists already"):
        write_regions_file(scores)
    assert write_regions_file(scores, force=True) == path
    with pytest.raises(OutputError, match="would be overwritten"):
        write_regions_file(scores, scores, force=True)


def test_regions_file_of_bed_input(runs, tmp_path):
    path = write_regions_file(runs["bed"], tmp_path / "bed.narrowPeak")
    _assert_rows_match(path, runs["bed"])
    regions = _columns(runs["bed_input"])
    assert len(_columns(path)) == len(regions)
    for fields, region in zip(_columns(path), regions):
        start, end = int(region[1]), int(region[2])
        assert (int(fields[1]), int(fields[2])) == center_window(start, end, None, LENGTH)
        assert fields[3] == f"{region[0]}:{start}-{end}"


def test_regions_file_of_fasta_input(runs, tmp_path):
    path = write_regions_file(runs["fasta"], tmp_path / "fa.narrowPeak")
    _assert_rows_match(path, runs["fasta"])
    names = [line[1:].split()[0] for line in (TEST_DATA / "example_seqs.fa").read_text().splitlines()
             if line.startswith(">")]
    assert [fields[:4] for fields in _columns(path)] == [[n, "0", str(LENGTH), n] for n in names]


def test_regions_file_of_padded_windows(runs, tmp_path):
    path = write_regions_file(runs["pad"], tmp_path / "pad.narrowPeak")
    _assert_rows_match(path, runs["pad"])
    rows = {fields[3]: fields for fields in _columns(path)}
    assert len(rows) == 26
    assert (rows["left_edge"][1], rows["left_edge"][2]) == ("-95", "105")
    assert (rows["right_edge"][1], rows["right_edge"][2]) == ("99870", "100070")


def test_regions_file_rows_in_a_shard_are_numbered_in_the_run(runs, tmp_path):
    scores = tmp_path / "shard.h5"
    shutil.copy(runs["fasta"], scores)
    with h5py.File(scores, "r+") as f:
        f.attrs[C.ROW_OFFSET] = 100
        f[C.COORDS_NAME][2] = ""
    fields = _columns(write_regions_file(scores, tmp_path / "s.narrowPeak", chunk_rows=3))
    assert fields[2][3] == "row_102" and fields[3][3] == "seq_3"


def test_modisco_seqlet_bed_lands_on_the_scored_windows(runs, tmp_path):
    """modisco-lite's own seqlet-bed code, given the regions file, maps seqlets into the scored windows."""
    io = pytest.importorskip("modiscolite.io")
    results = tmp_path / "modisco.h5"
    idx, starts, ends = np.array([0, 7, 23]), np.array([10, 50, 180]), np.array([30, 70, 195])
    with h5py.File(results, "w") as f:
        seqlets = f.create_group("pos_patterns/pattern_0/seqlets")
        for name, values in (("example_idx", idx), ("start", starts), ("end", ends),
                             ("is_revcomp", np.zeros(3, bool))):
            seqlets.create_dataset(name, data=values)
    regions = write_regions_file(runs["a"], tmp_path / "a.narrowPeak")
    bed = tmp_path / "seqlets.bed"
    io.write_bed_from_h5(str(results), str(regions), str(bed), "*", LENGTH, True)
    hits = [line.split("\t") for line in bed.read_text().splitlines() if not line.startswith("track")]
    coords = _coords(runs["a"])
    assert len(hits) == 3
    for hit, row, end in zip(hits, idx, ends):
        assert hit[0] == coords[C.COORDS_CHROM][row]
        assert int(hit[2]) == coords[C.COORDS_START][row] + end


# ---------------------------------------------------------------- exports


def _arrays(path: Path, keep=None) -> dict[str, np.ndarray]:
    with h5py.File(path) as f:
        out = {n: f[n][()] for n in (C.INPUT_SEQS, C.HYP_SCORES, C.CONTRIB_SCORES) if n in f}
    return out if keep is None else {n: v[keep] for n, v in out.items()}


def test_chrombpnet_export_is_the_transposed_arrays(runs, tmp_path):
    out = tmp_path / "cbp.h5"
    result = export(runs["a"], "chrombpnet", out)
    assert result.paths == (out,) and result.regions is None and (result.rows, result.dropped) == (24, 0)
    a = _arrays(runs["a"])
    with h5py.File(out) as f:
        assert sorted(f) == ["projected_shap", "raw", "shap"]
        assert f["raw/seq"].dtype == np.int8 and f["shap/seq"].dtype == np.float32
        np.testing.assert_array_equal(f["raw/seq"][()], a[C.INPUT_SEQS].transpose(0, 2, 1))
        np.testing.assert_array_equal(f["shap/seq"][()], a[C.HYP_SCORES].transpose(0, 2, 1))
        np.testing.assert_array_equal(f["projected_shap/seq"][()], a[C.CONTRIB_SCORES].transpose(0, 2, 1))
        assert f.attrs["model_sha256"] and f.attrs["exported_from"] == "a.h5"
        assert C.FORMAT not in f.attrs
    with pytest.raises(OutputError, match="exists already"):
        export(runs["a"], "chrombpnet", out)
    export(runs["a"], "chrombpnet", out, force=True)


def test_chrombpnet_export_of_hypothetical_scores_projects_them(runs, tmp_path):
    out = tmp_path / "cbp_hyp.h5"
    export(runs["bed"], "chrombpnet", out, chunk_rows=5)
    a = _arrays(runs["bed"])
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["projected_shap/seq"][()],
                                      (a[C.HYP_SCORES] * a[C.INPUT_SEQS]).transpose(0, 2, 1))
        np.testing.assert_array_equal(f["shap/seq"][()], a[C.HYP_SCORES].transpose(0, 2, 1))


def test_modisco_npz_export_is_the_transposed_pair(runs, tmp_path):
    paths = export(runs["a"], "modisco-npz", tmp_path / "exp.npz", chunk_rows=5).paths
    assert paths == export_paths("modisco-npz", tmp_path / "exp.npz")
    assert paths == (tmp_path / "exp.ohe.npz", tmp_path / "exp.attr.npz")
    assert export_paths("modisco-npz", tmp_path / "run.h5") == (tmp_path / "run.ohe.npz", tmp_path / "run.attr.npz")
    a = _arrays(runs["a"])
    for path, name in zip(paths, (C.INPUT_SEQS, C.HYP_SCORES)):
        with np.load(path) as mine:
            assert mine.files == ["arr_0"] and mine["arr_0"].dtype == np.float32
            np.testing.assert_array_equal(mine["arr_0"], a[name].transpose(0, 2, 1))


def test_finemo_npz_export_has_call_hits_keys(runs, tmp_path):
    out = tmp_path / "regions.npz"
    export(runs["a"], "finemo-npz", out, chunk_rows=5)
    a, coords = _arrays(runs["a"]), _coords(runs["a"])
    with np.load(out) as d:
        assert sorted(d.files) == ["chr", "chr_id", "contributions", "peak_id", "peak_name", "sequences", "start"]
        assert d["sequences"].dtype == np.int8 and d["contributions"].dtype == np.float16
        np.testing.assert_array_equal(d["sequences"], a[C.INPUT_SEQS].transpose(0, 2, 1))
        np.testing.assert_array_equal(d["contributions"], a[C.HYP_SCORES].transpose(0, 2, 1).astype(np.float16))
        assert list(d["chr"]) == list(coords[C.COORDS_CHROM])
        assert list(d["peak_name"]) == list(coords[C.COORDS_NAME])
        np.testing.assert_array_equal(d["start"], coords[C.COORDS_START])
        np.testing.assert_array_equal(d["peak_id"], np.arange(24))
        first_seen = list(dict.fromkeys(coords[C.COORDS_CHROM]))
        np.testing.assert_array_equal(d["chr_id"], [first_seen.index(c) for c in coords[C.COORDS_CHROM]])
        # Fi-NeMo's peak_region_start from the regions file: start + summit - width // 2 with width = L
        regions = _columns(write_regions_file(runs["a"], tmp_path / "a.narrowPeak"))
        np.testing.assert_array_equal(d["start"], [int(r[1]) + int(r[9]) - LENGTH // 2 for r in regions])


def test_export_refusals(runs, tmp_path):
    with pytest.raises(OutputError, match="not known"):
        export(runs["a"], "deepdish", tmp_path / "x.h5")
    with pytest.raises(OutputError, match="would be overwritten"):
        export(runs["a"], "chrombpnet", runs["a"], force=True)
    with pytest.raises(OutputError, match="no such score file"):
        export(tmp_path / "missing.h5", "chrombpnet", tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()
    assert set(FORMATS) == {"chrombpnet", "modisco-npz", "finemo-npz"}


@pytest.mark.parametrize("source, dropped", [("fasta", ["seq_3", "seq_7", "seq_15"]),
                                             ("pad", ["left_edge", "right_edge"])])
@pytest.mark.parametrize("to", FORMATS)
def test_drop_n_keeps_rows_aligned(runs, tmp_path, source, dropped, to):
    names = _coords(runs[source])[C.COORDS_NAME]
    keep = ~np.isin(names, dropped)
    out = tmp_path / f"{to}.out"
    result = export(runs[source], to, out, drop_n=True, chunk_rows=3)
    assert (result.rows, result.dropped) == (keep.sum(), len(dropped))
    assert result.regions == regions_path_for(out)
    _assert_rows_match(result.regions, runs[source], keep)
    a = _arrays(runs[source], keep)
    if to == "chrombpnet":
        with h5py.File(out) as f:
            seqs, hyp = f["raw/seq"][()], f["shap/seq"][()]
    elif to == "modisco-npz":
        seqs, hyp = (np.load(p)["arr_0"] for p in result.paths)
    else:
        with np.load(out) as d:
            seqs, hyp = d["sequences"], d["contributions"]
            assert list(d["peak_name"]) == list(names[keep])
    assert (seqs.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(seqs, a[C.INPUT_SEQS].transpose(0, 2, 1))
    np.testing.assert_array_equal(hyp, a[C.HYP_SCORES].transpose(0, 2, 1).astype(hyp.dtype))


def test_drop_n_refuses_an_existing_regions_file(runs, tmp_path):
    out = tmp_path / "x.h5"
    regions_path_for(out).write_text("")
    with pytest.raises(OutputError, match="regions.narrowPeak: exists already"):
        export(runs["fasta"], "chrombpnet", out, drop_n=True)
    assert not out.exists()


# ---------------------------------------------------------------- average


def _datasets(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path) as f:
        return {n: f[n][()] for n in f}


def test_average_of_a_file_with_itself_is_the_file(runs, tmp_path):
    out = average([runs["a"], runs["a"]], tmp_path / "self.h5", chunk_rows=5)
    mine, theirs = _datasets(out), _datasets(runs["a"])
    assert sorted(mine) == sorted(theirs)
    for name in theirs:
        np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)
    with h5py.File(out) as f, h5py.File(runs["a"]) as g:
        assert list(f.attrs["averaged_from"]) == ["a.h5", "a.h5"]
        assert list(f.attrs["averaged_model_sha256"]) == [g.attrs["model_sha256"]] * 2
        assert f.attrs[C.COMPLETE] and f.attrs[C.FORMAT] == C.FORMAT_NAME
        assert f.attrs[C.MAX_ABS_DELTA] == pytest.approx(float(np.abs(theirs[C.DELTAS]).max()))


def test_average_of_two_folds_is_the_mean(runs, tmp_path):
    out = average([runs["a"], runs["b"]], tmp_path / "mean.h5", chunk_rows=7)
    a, b, mean = _datasets(runs["a"]), _datasets(runs["b"]), _datasets(out)
    assert not np.allclose(a[C.HYP_SCORES], b[C.HYP_SCORES], atol=1e-3)  # the folds differ
    for name in (C.HYP_SCORES, C.CONTRIB_SCORES, C.PREDICTIONS, C.REFERENCE_PREDICTIONS, C.DELTAS, C.RESIDUALS):
        expected = ((a[name].astype(np.float64) + b[name]) / 2).astype(np.float32)
        np.testing.assert_array_equal(mean[name], expected, err_msg=name)
    for name in (C.INPUT_SEQS, *C.STRING_DATASETS, *C.INT_DATASETS):
        np.testing.assert_array_equal(mean[name], a[name], err_msg=name)
    assert_sums_to_delta(mean[C.CONTRIB_SCORES], mean[C.PREDICTIONS], mean[C.REFERENCE_PREDICTIONS],
                         mean[C.DELTAS])
    with h5py.File(out) as f, h5py.File(runs["a"]) as fa, h5py.File(runs["b"]) as fb:
        hashes = [fa.attrs["model_sha256"], fb.attrs["model_sha256"]]
        assert hashes[0] != hashes[1]
        assert list(f.attrs["averaged_model_sha256"]) == hashes
        assert list(f.attrs["averaged_from"]) == ["a.h5", "b.h5"]
        assert list(f.attrs["averaged_model_file"]) == ["example_model.h5", "fold2.h5"]
        assert f.attrs["model_sha256"] not in hashes
        assert f.attrs["shuffles"] == fa.attrs["shuffles"]
    # the mean is a score file the exports (and modisco) read
    export(out, "modisco-npz", tmp_path / "mean.npz")


def _altered(source: Path, path: Path, change) -> Path:
    shutil.copy(source, path)
    with h5py.File(path, "r+") as f:
        change(f)
    return path


def test_average_refuses_mismatched_inputs(runs, tmp_path):
    out = tmp_path / "bad.h5"

    def refused(paths, match):
        with pytest.raises(OutputError, match=match):
            average(paths, out)
        assert not out.exists()

    refused([runs["a"], runs["fasta"]], "20 windows of 200 bp where .* has 24")
    refused([runs["a"], runs["bed"]], "16 windows")
    refused([runs["bed"], runs["pad"]], "26 windows")
    refused([runs["a"], _altered(runs["b"], tmp_path / "k.h5", lambda f: f.attrs.__setitem__("shuffles", 3))],
            "k.h5: shuffles is 3 where .*a.h5 has 2")
    refused([runs["a"], _altered(runs["b"], tmp_path / "s.h5", lambda f: f.attrs.__setitem__("seed", 1))],
            "seed is 1")
    refused([runs["a"], _altered(runs["b"], tmp_path / "r.h5", lambda f: f.attrs.__setitem__("rule", "gradient"))],
            "rule is 'gradient'")

    def shift(f):
        f[C.COORDS_START][3] += 1
        f[C.COORDS_END][3] += 1

    refused([runs["a"], _altered(runs["b"], tmp_path / "w.h5", shift)], "row 3 is the window")

    def mutate(f):
        f[C.INPUT_SEQS][5, 17] = f[C.INPUT_SEQS][5, 17][::-1].copy()

    refused([runs["a"], _altered(runs["b"], tmp_path / "q.h5", mutate)], "the sequence of row 5")
    refused([runs["a"], _altered(runs["b"], tmp_path / "d.h5", lambda f: f.__delitem__(C.RESIDUALS))],
            "has no residuals")
    refused([runs["a"]], "at least two")
    with pytest.raises(OutputError, match="would be overwritten"):
        average([runs["a"], runs["b"]], runs["b"], force=True)


def test_average_may_differ_in_batching_and_the_model(runs, tmp_path):
    other = _altered(runs["b"], tmp_path / "batch.h5", lambda f: f.attrs.__setitem__("batch_size", 7))
    average([runs["a"], other], tmp_path / "ok.h5")


def test_downstream_does_not_import_tensorflow():
    code = "import sys, genolift.downstream; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
