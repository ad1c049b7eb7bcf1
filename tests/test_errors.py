"""Bad input: one clear line on stderr, a non-zero exit code, and an existing output untouched."""

from __future__ import annotations

import gzip
import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from genolift.cli.main import cli

from .conftest import TEST_DATA, randomize

MODEL = TEST_DATA / "example_model.h5"
PEAKS = TEST_DATA / "example_peaks.narrowPeak"
GENOME = TEST_DATA / "example_genome.fa"
SEQS = TEST_DATA / "example_seqs.fa"
GOOD_LINE = "chr1\t100000\t100400\n"


def _text(tmp, name, text):
    path = tmp / name
    path.write_text(text)
    return path


def _keras_model(tmp, name, *, length=200, channels=4, weight=None, activation=None):
    import keras

    inp = keras.Input((length, channels))
    h = keras.layers.Flatten()(inp)
    model = keras.Model(inp, keras.layers.Dense(1, activation=activation)(h))
    randomize(model, seed=0)
    if weight is not None:
        kernel, bias = model.layers[-1].get_weights()
        model.layers[-1].set_weights([np.full_like(kernel, weight), bias])
    path = tmp / name
    model.save(path)
    return path


def _truncated_model(tmp):
    path = tmp / "truncated.h5"
    data = MODEL.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _plain_gzip_genome(tmp):
    path = tmp / "genome.fa.gz"
    with open(GENOME, "rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


# (id, function tmp -> (args before -o), exit code, words in the message)
CASES = [
    ("bed-missing-columns", lambda t: [MODEL, _text(t, "r.bed", "chr1\t100\n"), "-g", GENOME], 1, "r.bed:1:"),
    ("bed-extra-columns", lambda t: [MODEL, _text(t, "r.bed", GOOD_LINE + "chr1\t5000\t5400\tx\n"), "-g", GENOME], 1,
     "r.bed:2: 4 columns where the first region has 3"),
    ("bed-non-integer", lambda t: [MODEL, _text(t, "r.bed", "chr1\t1e5\t100400\n"), "-g", GENOME], 1, "not an integer"),
    ("bed-negative", lambda t: [MODEL, _text(t, "r.bed", "chr1\t-5\t100\n"), "-g", GENOME], 1, "negative start"),
    ("bed-start-after-end", lambda t: [MODEL, _text(t, "r.bed", "chr1\t500\t100\n"), "-g", GENOME], 1,
     "not after start"),
    ("bed-empty", lambda t: [MODEL, _text(t, "r.bed", ""), "-g", GENOME], 1, "no regions found"),
    ("bed-missing-file", lambda t: [MODEL, t / "nope.bed", "-g", GENOME], 1, "no such file"),
    ("bed-unknown-chromosome", lambda t: [MODEL, _text(t, "r.bed", "1\t1000\t1400\n"), "-g", GENOME], 1,
     "did you mean chr1"),
    ("bed-off-edge-fail", lambda t: [MODEL, _text(t, "r.bed", "chr1\t0\t50\n"), "-g", GENOME, "--off-edge", "fail"],
     1, "runs off the end"),
    ("bed-all-off-edge", lambda t: [MODEL, _text(t, "r.bed", "chr1\t0\t50\n"), "-g", GENOME], 1, "--off-edge pad"),
    ("fasta-wrong-length", lambda t: [MODEL, _text(t, "s.fa", ">a\nACGT\n")], 1, "needs exactly 200"),
    ("genome-missing", lambda t: [MODEL, PEAKS, "-g", t / "none.fa"], 1, "no such genome"),
    ("genome-not-fasta", lambda t: [MODEL, PEAKS, "-g", _text(t, "g.fa", "hello\n")], 1, "cannot be read as a FASTA"),
    ("genome-plain-gzip", lambda t: [MODEL, PEAKS, "-g", _plain_gzip_genome(t)], 1, "bgzip"),
    ("model-missing", lambda t: [t / "none.h5", PEAKS, "-g", GENOME], 1, "no such model file"),
    ("model-not-a-model", lambda t: [_text(t, "m.h5", "not a model"), PEAKS, "-g", GENOME], 1, "not a Keras model"),
    ("model-truncated", lambda t: [_truncated_model(t), PEAKS, "-g", GENOME], 1, "truncated.h5"),
    ("model-five-channels", lambda t: [_keras_model(t, "c5.keras", channels=5), PEAKS, "-g", GENOME], 1,
     "is not (L, 4)"),
    ("model-other-length", lambda t: [_keras_model(t, "l50.keras", length=50), SEQS], 1, "needs exactly 50"),
    ("model-nan-weights", lambda t: [_keras_model(t, "nan.keras", weight=np.nan), PEAKS, "-g", GENOME], 1,
     "NaN or infinite weights"),
    ("model-infinite-output", lambda t: [_keras_model(t, "inf.keras", weight=1e37), SEQS], 1,
     "NaN or infinite values for"),
    ("task-out-of-range", lambda t: [MODEL, SEQS, "--task", "7"], 1, "--task 7 is out of range"),
    ("output-name-unknown", lambda t: [MODEL, SEQS, "--output", "nope"], 1, "does not exist"),
    ("shuffles-zero", lambda t: [MODEL, SEQS, "--shuffles", "0"], 2, "--shuffles"),
    ("gc-out-of-range", lambda t: [MODEL, SEQS, "--reference", "gc", "--gc", "1.5"], 2, "--gc"),
    ("batch-size-zero", lambda t: [MODEL, SEQS, "--batch-size", "0"], 2, "--batch-size"),
    ("shard-out-of-range", lambda t: [MODEL, SEQS, "--shard", "3/2"], 2, "--shard"),
    ("shard-malformed", lambda t: [MODEL, SEQS, "--shard", "half"], 2, "--shard"),
    ("shard-zero-shards", lambda t: [MODEL, SEQS, "--shard", "0/0"], 2, "--shard"),
    ("unknown-option", lambda t: [MODEL, SEQS, "--shufles", "3"], 2, "--shufles"),
    ("devices-unknown", lambda t: [MODEL, SEQS, "--devices", "foo"], 1, "--devices 'foo'"),
    ("devices-gpu-index", lambda t: [MODEL, SEQS, "--devices", "7"], 1, "tensorflow sees"),
    ("task-negative", lambda t: [MODEL, SEQS, "--task", "-1"], 2, "--task"),
    ("task-not-a-number", lambda t: [MODEL, SEQS, "--task", "one"], 2, "--task"),
    ("gc-zero", lambda t: [MODEL, SEQS, "--reference", "gc", "--gc", "0"], 2, "--gc"),
    ("steps-zero", lambda t: [MODEL, SEQS, "--rule", "integrated-gradients", "--steps", "0"], 2, "--steps"),
    ("bigwig-without-genome", lambda t: [MODEL, SEQS, "--bigwig", t / "x.bw"], 2, "--bigwig needs the genome"),
    ("bigwig-of-fasta-regions", lambda t: [MODEL, SEQS, "-g", GENOME, "--bigwig", t / "x.bw"], 1,
     "is a FASTA of sequences"),
]


# The same for `ism` (id, command line after `ism` and before -o, exit code, words).
ISM_CASES = [
    ("window-past-the-end", lambda t: [MODEL, SEQS, "--window", "150:201"], 1, "--window 150:201"),
    ("window-empty", lambda t: [MODEL, SEQS, "--window", "5:5"], 2, "--window"),
    ("window-malformed", lambda t: [MODEL, SEQS, "--window", "5-9"], 2, "--window"),
    ("task-out-of-range", lambda t: [MODEL, SEQS, "--task", "2"], 1, "--task 2 is out of range"),
    ("devices-unknown", lambda t: [MODEL, SEQS, "--devices", "/TPU:0"], 1, "--devices '/TPU:0'"),
    ("several-tasks-one-name", lambda t: [MODEL, SEQS, "--task", "all"], 1, "{task} placeholder in -o"),
]


def _one_line(result, code: int) -> str:
    """The single stderr line of a failed command (no traceback), after checking the exit code."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code, result.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith("genolift: ") and "internal error" not in lines[0] and "Traceback" not in result.stderr
    return lines[0]


def _bad_input(tmp_path, command, args, code, words):
    out = tmp_path / "out.h5"
    out.write_bytes(b"an older result")
    result = CliRunner().invoke(cli, [command, *[str(a) for a in args], "-o", str(out), "--force", "-q"])
    assert words in _one_line(result, code)
    assert out.read_bytes() == b"an older result"
    assert not out.with_name("out.h5.partial").exists() or not any(out.with_name("out.h5.partial").iterdir())


@pytest.mark.parametrize("make, code, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line_and_output_untouched(tmp_path, make, code, words):
    _bad_input(tmp_path, "score", make(tmp_path), code, words)


@pytest.mark.parametrize("make, code, words", [c[1:] for c in ISM_CASES], ids=[c[0] for c in ISM_CASES])
def test_bad_ism_input_one_line_and_output_untouched(tmp_path, make, code, words):
    _bad_input(tmp_path, "ism", make(tmp_path), code, words)


def test_several_tasks_need_a_placeholder_in_bigwig(tmp_path):
    bed = _text(tmp_path, "r.bed", GOOD_LINE)
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(GENOME), "--task", "all",
                                      "-o", str(tmp_path / "s.{task}.h5"), "--bigwig", str(tmp_path / "x.bw")])
    assert "{task} placeholder in --bigwig" in _one_line(result, 1)
    assert not list(tmp_path.glob("s.*"))


def test_output_directory_missing(tmp_path):
    out = tmp_path / "no" / "out.h5"
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(SEQS), "-o", str(out)])
    line = _one_line(result, 1)
    assert str(out) in line and "does not exist" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_output_directory_not_writable(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(SEQS), "-o", str(locked / "out.h5")])
    line = _one_line(result, 1)
    assert str(locked / "out.h5") in line and "not writable" in line


def test_debug_shows_the_traceback(tmp_path):
    from genolift.errors import ModelError

    args = ["score", str(tmp_path / "none.h5"), str(SEQS), "-o", str(tmp_path / "o.h5")]
    plain = CliRunner().invoke(cli, args)
    assert "no such model file" in _one_line(plain, 1) and isinstance(plain.exception, SystemExit)
    debug = CliRunner().invoke(cli, ["--debug", *args])
    assert debug.exit_code == 1 and isinstance(debug.exception, ModelError)  # raised, not turned into one line
    assert "no such model file" in str(debug.exception) and "genolift: error" not in debug.stderr


def _copy(tmp, source, name):
    path = tmp / name
    shutil.copy(source, path)
    return path


# (id, function tmp -> (inputs and options, the input that must survive), words in the message)
CLOBBER_CASES = [
    ("out-is-the-regions", lambda t: (lambda r: ([MODEL, r, "-o", r], r))(_copy(t, SEQS, "regions.fa")),
     "-o", "the regions file"),
    ("out-is-the-model", lambda t: (lambda m: ([m, SEQS, "-o", m], m))(_copy(t, MODEL, "model.h5")),
     "-o", "the model file"),
    ("out-is-the-genome", lambda t: (lambda g: ([MODEL, PEAKS, "-g", g, "-o", g], g))(_copy(t, GENOME, "g.fa")),
     "-o", "the genome"),
    ("out-is-the-regions-by-another-name",
     lambda t: (lambda r: ([MODEL, r, "-o", t / "sub" / ".." / "regions.fa"], r))(_copy(t, SEQS, "regions.fa")),
     "-o", "the regions file"),
    ("bigwig-is-the-regions",
     lambda t: (lambda r: ([MODEL, r, "-g", GENOME, "-o", t / "o.h5", "--bigwig", r], r))(
         _copy(t, PEAKS, "peaks.narrowPeak")), "--bigwig", "the regions file"),
    ("task-output-is-the-regions",
     lambda t: (lambda r: ([MODEL, r, "--task", "all", "-o", t / "r.{task}.fa"], r))(_copy(t, SEQS, "r.0.fa")),
     "-o", "the regions file"),
    ("npz-output-is-the-genome",
     lambda t: (lambda g: ([MODEL, PEAKS, "-g", g, "-o", t / "x.h5", "--format", "npz"], g))(
         _copy(t, GENOME, "x.ohe.npz")), "--format npz", "the genome"),
    ("bigwig-is-the-output",
     lambda t: ([MODEL, PEAKS, "-g", GENOME, "-o", t / "o.h5", "--bigwig", t / "o.h5"], MODEL),
     "--bigwig", "also the output of -o"),
]


@pytest.mark.parametrize("make, option, words", [c[1:] for c in CLOBBER_CASES], ids=[c[0] for c in CLOBBER_CASES])
def test_an_input_is_never_overwritten(tmp_path, make, option, words):
    (tmp_path / "sub").mkdir()
    args, kept = make(tmp_path)
    before = kept.read_bytes()
    result = CliRunner().invoke(cli, ["score", *[str(a) for a in args], "--force", "--shuffles", "2", "-q"])
    line = _one_line(result, 1)
    assert line.startswith(f"genolift: error: {option} ") and words in line
    assert kept.read_bytes() == before


@pytest.mark.parametrize("name, text", [
    ("headers-crlf.bed", "track name=peaks\r\nbrowser position chr1\r\n# comment\r\n" + GOOD_LINE.replace("\n", "\r\n")),
    ("duplicates.bed", GOOD_LINE * 2),
])
def test_accepted_region_quirks(tmp_path, name, text):
    bed = _text(tmp_path, name, text)
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(GENOME), "-o", str(tmp_path / "o.h5"),
                                      "--shuffles", "2"])
    assert result.exit_code == 0, result.stderr
    if name.startswith("dup"):
        assert "repeat an earlier window" in result.stderr


def test_gzip_bed_iupac_and_off_edge_policies(tmp_path):
    import h5py

    bed = tmp_path / "r.bed.gz"
    with gzip.open(bed, "wt") as handle:
        handle.write(GOOD_LINE + "chr1\t0\t50\n")
    skipped = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(GENOME), "-o", str(tmp_path / "s.h5"),
                                       "--shuffles", "2"])
    assert skipped.exit_code == 0
    assert f"1 window(s) of {bed} run off a chromosome end and were skipped" in skipped.stderr
    assert "chr1:0-50 (line 2)" in skipped.stderr and "s.regions.narrowPeak lists the windows scored" in skipped.stderr
    padded = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(GENOME), "-o", str(tmp_path / "p.h5"),
                                      "--shuffles", "2", "--off-edge", "pad"])
    assert padded.exit_code == 0
    with h5py.File(tmp_path / "p.h5") as f:
        x = f["input_seqs"][1]
        assert f["coords_start"][1] == -75 and not x[:75].any() and x[75:].any()
    fasta = _text(tmp_path, "iupac.fa", ">r\n" + "RYKM" * 50 + "\n")
    iupac = CliRunner().invoke(cli, ["score", str(MODEL), str(fasta), "-o", str(tmp_path / "i.h5"), "--shuffles", "2"])
    assert iupac.exit_code == 0, iupac.stderr


def test_bgzip_and_stale_index_genome(tmp_path):
    from Bio import bgzf

    packed = tmp_path / "genome.fa.gz"
    with bgzf.BgzfWriter(str(packed), "wb") as out:
        out.write(GENOME.read_bytes())
    bed = _text(tmp_path, "r.bed", GOOD_LINE)
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(packed), "-o", str(tmp_path / "b.h5"),
                                      "--shuffles", "2"])
    assert result.exit_code == 0, result.stderr
    copy = tmp_path / "copy.fa"
    shutil.copy(GENOME, copy)
    stale = copy.with_name("copy.fa.fai")
    stale.write_text("chr1\t10\t6\t60\t61\n")
    os.utime(stale, (1, 1))  # older than the FASTA: rebuilt
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(bed), "-g", str(copy), "-o", str(tmp_path / "c.h5"),
                                      "--shuffles", "2"])
    assert result.exit_code == 0, result.stderr


def test_the_run_refuses_a_bigwig_it_cannot_write(tmp_path):
    from genolift.errors import RegionError
    from genolift.run import ScoreConfig, run_score

    for genome, words in ((None, "needs the genome"), (GENOME, "is a FASTA of sequences")):
        cfg = ScoreConfig(model=MODEL, regions=SEQS, output=tmp_path / "o.h5", genome=genome,
                          bigwig=tmp_path / "x.bw", quiet=True)
        with pytest.raises(RegionError, match=words):
            run_score(cfg)
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def ism_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("ism") / "ism.h5"
    result = CliRunner().invoke(cli, ["ism", str(MODEL), str(SEQS), "-o", str(out), "--window", "0:2", "-q"])
    assert result.exit_code == 0, result.stderr
    return out


@pytest.mark.parametrize("command", ["bigwig", "plot", "merge"])
@pytest.mark.parametrize("make, words", [
    (lambda t, ism: t / "none.h5", "no such score file"),
    (lambda t, ism: GENOME, "not an HDF5 file"),
    (lambda t, ism: ism, "has no hyp_scores"),
])
def test_reading_a_bad_score_file_is_one_line(tmp_path, ism_file, command, make, words):
    scores = make(tmp_path, ism_file)
    if command == "merge" and scores == ism_file:
        pytest.skip("merge joins ISM files too")
    options = {"bigwig": ["-g", str(GENOME), "-o", str(tmp_path / "x.bw")], "plot": ["-o", str(tmp_path / "x.png")],
               "merge": ["-o", str(tmp_path / "m.h5")]}[command]
    result = CliRunner().invoke(cli, [command, str(scores), *options])
    line = _one_line(result, 1)
    assert str(scores) in line and words in line
