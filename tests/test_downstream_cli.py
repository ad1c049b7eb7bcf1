"""The downstream files through the command line: every run's regions narrowPeak, export, average, info SCORES."""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import subprocess

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genolift import _constants as C
from genolift.cli.main import cli
from genolift.downstream import FORMATS, regions_path_for

from .conftest import TEST_DATA
from .running import start_and_wait_for_parts
from .test_downstream import GENOME, LENGTH, _assert_rows_match, _columns, _coords, _fasta_with_n, _peaks

MODEL = TEST_DATA / "example_model.h5"
SEQS = TEST_DATA / "example_seqs.fa"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args):
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return result


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genolift: error:") and "Traceback" not in result.stderr, lines
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Real runs: peaks with two windows off a chromosome end, BED (with --regions-out), FASTA with N, ISM,
    and the two shards of one run merged."""
    d = tmp_path_factory.mktemp("downstream_cli")
    peaks = _peaks(d / "peaks.narrowPeak")
    bed = d / "regions.bed"
    bed.write_text("".join((TEST_DATA / "example_regions.bed").read_text().splitlines(keepends=True)[:16]))
    (d / "elsewhere").mkdir()
    common = ("-k", 2, "-q")
    ok("score", MODEL, peaks, "-g", GENOME, *common, "-o", d / "a.h5")
    ok("hypothetical", MODEL, bed, "-g", GENOME, *common, "-o", d / "bed.h5",
       "--regions-out", d / "elsewhere" / "bed_windows.narrowPeak")
    ok("score", MODEL, _fasta_with_n(d / "seqs.fa"), *common, "-o", d / "fasta.h5")
    ok("ism", MODEL, SEQS, "--window", "0:10", "-q", "-o", d / "ism.h5")
    for i in range(2):
        ok("score", MODEL, peaks, "-g", GENOME, *common, "--chunk-size", 8, "--batch-size", 16, "--shard", f"{i}/2",
           "-o", d / f"s{i}.h5")
    ok("merge", d / "s1.h5", d / "s0.h5", "-o", d / "merged.h5", "-q")
    return {"dir": d, "peaks": peaks, "bed_input": bed, **{k: d / f"{k}.h5" for k in
                                                           ("a", "bed", "fasta", "ism", "s0", "s1", "merged")}}


# ---------------------------------------------------------------- the regions file of every run


def test_every_run_writes_its_regions_file(runs):
    for key in ("a", "fasta", "ism", "s0", "s1", "merged"):
        regions = regions_path_for(runs[key])
        assert regions == runs[key].with_name(f"{key}.regions.narrowPeak")
        _assert_rows_match(regions, runs[key])
        with h5py.File(runs[key]) as f:
            assert f.attrs[C.WINDOW_LENGTH] == LENGTH
            assert f.attrs[C.SCORED_REGIONS] == regions.name


def test_regions_file_with_skipped_windows_round_trips_the_coordinates(runs):
    with h5py.File(runs["a"]) as f:
        assert int(f.attrs["skipped_windows"]) == 2 and f[C.COORDS_START].shape[0] == 24
    rows = _columns(regions_path_for(runs["a"]))
    assert "left_edge" not in {r[3] for r in rows} and "right_edge" not in {r[3] for r in rows}
    # what Fi-NeMo (start + summit - w // 2) and modisco ((start + end) // 2 - w // 2) compute gives the window
    coords = _coords(runs["a"])
    np.testing.assert_array_equal([int(r[1]) + int(r[9]) - LENGTH // 2 for r in rows], coords[C.COORDS_START])
    np.testing.assert_array_equal([(int(r[1]) + int(r[2])) // 2 - LENGTH // 2 for r in rows], coords[C.COORDS_START])


def test_regions_out_of_bed_input(runs):
    regions = runs["dir"] / "elsewhere" / "bed_windows.narrowPeak"
    assert not regions_path_for(runs["bed"]).exists()
    _assert_rows_match(regions, runs["bed"])
    assert len(_columns(regions)) == len(_columns(runs["bed_input"]))
    with h5py.File(runs["bed"]) as f:
        assert f.attrs[C.SCORED_REGIONS] == "elsewhere/bed_windows.narrowPeak"
    text = ok("info", runs["bed"]).stdout
    assert f"-p {regions}" in text and "(line i = row i)" in text


def test_regions_file_of_fasta_input(runs):
    names = [line[1:].split()[0] for line in SEQS.read_text().splitlines() if line.startswith(">")]
    rows = _columns(regions_path_for(runs["fasta"]))
    assert [r[:4] for r in rows] == [[n, "0", str(LENGTH), n] for n in names]


def test_shards_write_their_rows_and_merge_writes_all(runs):
    rows = [_columns(regions_path_for(runs[key])) for key in ("s0", "s1")]
    assert rows[0] and rows[1] and rows[0] + rows[1] == _columns(regions_path_for(runs["a"]))
    merged = regions_path_for(runs["merged"]).read_text()
    assert merged == regions_path_for(runs["a"]).read_text()
    with h5py.File(runs["s1"]) as f:
        assert f.attrs[C.ROW_OFFSET] == len(rows[0])


def test_merge_regions_out_and_refusals(runs, tmp_path):
    shards = (runs["s0"], runs["s1"])
    out = tmp_path / "m.h5"
    ok("merge", *shards, "-o", out, "--regions-out", tmp_path / "m.windows", "-q")
    assert (tmp_path / "m.windows").read_text() == regions_path_for(runs["a"]).read_text()
    assert not regions_path_for(out).exists()
    with h5py.File(out) as f:
        assert f.attrs[C.SCORED_REGIONS] == "m.windows"
    line = one_error_line(invoke("merge", *shards, "-o", tmp_path / "n.h5", "--regions-out", runs["s0"]))
    assert "--regions-out" in line and "a shard file" in line
    (tmp_path / "x.regions.narrowPeak").write_text("mine\n")
    assert "exists already" in one_error_line(invoke("merge", *shards, "-o", tmp_path / "x.h5"))
    assert not (tmp_path / "x.h5").exists() and (tmp_path / "x.regions.narrowPeak").read_text() == "mine\n"


def test_regions_out_equal_to_an_input_is_refused(runs, tmp_path):
    peaks = tmp_path / "p.narrowPeak"
    shutil.copy(runs["peaks"], peaks)
    before = peaks.read_bytes()
    line = one_error_line(invoke("score", MODEL, peaks, "-g", GENOME, "-o", tmp_path / "x.h5", "--regions-out",
                                 peaks, "--force"))
    assert "--regions-out" in line and "is the regions file" in line
    # the default name, when the input happens to bear it
    named = tmp_path / "y.regions.narrowPeak"
    shutil.copy(runs["peaks"], named)
    line = one_error_line(invoke("score", MODEL, named, "-g", GENOME, "-o", tmp_path / "y.h5", "--force"))
    assert "the regions file of -o" in line and "is the regions file" in line
    line = one_error_line(invoke("score", MODEL, peaks, "-g", GENOME, "-o", tmp_path / "z.h5", "--regions-out",
                                 tmp_path / "z.h5"))
    assert "also the output of -o" in line
    assert peaks.read_bytes() == before and named.read_bytes() == before
    assert not list(tmp_path.glob("*.h5*"))


def test_existing_regions_file_is_kept_unless_forced_or_resumed(tmp_path):
    out, regions = tmp_path / "r.h5", tmp_path / "r.regions.narrowPeak"
    regions.write_text("stale\n")
    line = one_error_line(invoke("score", MODEL, SEQS, "-k", 2, "-q", "-o", out))
    assert "r.regions.narrowPeak: exists already" in line and regions.read_text() == "stale\n"
    ok("score", MODEL, SEQS, "-k", 2, "-q", "-o", out, "--resume")  # written again at the end of the run
    _assert_rows_match(regions, out)


@pytest.mark.slow
def test_interrupted_run_writes_no_regions_file_and_the_resumed_run_does(runs, tmp_path):
    out = tmp_path / "i.h5"
    args = ["score", MODEL, runs["peaks"], "-g", GENOME, "-k", 2, "--chunk-size", 4, "--batch-size", 8, "-o", out]
    proc = start_and_wait_for_parts([*args, "-q"], out, parts=2)
    proc.send_signal(signal.SIGINT)
    proc.wait()
    assert proc.returncode != 0 and not out.exists() and not regions_path_for(out).exists()
    result = ok(*args, "--resume")
    assert "resuming" in result.stderr
    assert regions_path_for(out).read_text() == regions_path_for(runs["a"]).read_text()


def test_regions_file_per_task(tmp_path):
    ok("score", MODEL, SEQS, "-k", 2, "-q", "--task", "all", "-o", tmp_path / "t{task}.h5",
       "--regions-out", tmp_path / "w{task}.bed")
    for task in (0, 1):
        _assert_rows_match(tmp_path / f"w{task}.bed", tmp_path / f"t{task}.h5")
    line = one_error_line(invoke("score", MODEL, SEQS, "-k", 2, "--task", "all", "-o", tmp_path / "u{task}.h5",
                                 "--regions-out", tmp_path / "flat.bed"))
    assert "{task}" in line and "--regions-out" in line


# ---------------------------------------------------------------- export


def test_cli_formats_are_the_library_formats():
    from genolift.cli.export import FORMATS as CLI_FORMATS

    assert CLI_FORMATS == FORMATS


@pytest.mark.parametrize("to", FORMATS)
def test_export_command(runs, tmp_path, to):
    out = tmp_path / f"{to}.out"
    result = ok("export", runs["a"], "--to", to, "-o", out)
    assert "24 rows" in result.stderr and not regions_path_for(out).exists()
    seqs, hyp = _exported(to, out)
    with h5py.File(runs["a"]) as f:
        np.testing.assert_array_equal(seqs, f[C.INPUT_SEQS][()].transpose(0, 2, 1))
        np.testing.assert_array_equal(hyp, f[C.HYP_SCORES][()].transpose(0, 2, 1).astype(hyp.dtype))
    assert "exists already" in one_error_line(invoke("export", runs["a"], "--to", to, "-o", out))
    ok("export", runs["a"], "--to", to, "-o", out, "--force", "-q")
    if to != "modisco-npz":  # (its pair, a.ohe.npz and a.attr.npz, is named after -o)
        scores = shutil.copy(runs["a"], tmp_path / "a.h5")
        assert "would be overwritten" in one_error_line(invoke("export", scores, "--to", to, "-o", scores, "--force"))


def _exported(to, out):
    if to == "chrombpnet":
        with h5py.File(out) as f:
            return f["raw/seq"][()], f["shap/seq"][()]
    if to == "modisco-npz":
        return tuple(np.load(out.with_name(out.name + suffix))["arr_0"] for suffix in (".ohe.npz", ".attr.npz"))
    with np.load(out) as d:
        return d["sequences"], d["contributions"]


@pytest.mark.parametrize("to", FORMATS)
def test_export_drop_n_keeps_rows_aligned(runs, tmp_path, to):
    out = tmp_path / f"{to}.out"
    result = ok("export", runs["fasta"], "--to", to, "-o", out, "--drop-n")
    assert "17 rows (3 with N left out)" in result.stderr
    keep = ~np.isin(_coords(runs["fasta"])[C.COORDS_NAME], ["seq_3", "seq_7", "seq_15"])
    _assert_rows_match(regions_path_for(out), runs["fasta"], keep)
    seqs, hyp = _exported(to, out)
    assert (seqs.sum(axis=1) == 1).all()
    with h5py.File(runs["fasta"]) as f:
        np.testing.assert_array_equal(hyp, f[C.HYP_SCORES][()][keep].transpose(0, 2, 1).astype(hyp.dtype))


def test_export_refuses_ism_scores(runs, tmp_path):
    assert "has no hyp_scores" in one_error_line(invoke("export", runs["ism"], "--to", "chrombpnet", "-o",
                                                        tmp_path / "x.h5"))


# ---------------------------------------------------------------- average


def test_average_command(runs, tmp_path):
    out = tmp_path / "self.h5"
    result = ok("average", runs["a"], runs["a"], "-o", out)
    assert "mean of 2 score files" in result.stderr
    with h5py.File(out) as mean, h5py.File(runs["a"]) as a:
        assert sorted(mean) == sorted(a)
        for name in a:
            np.testing.assert_array_equal(mean[name][()], a[name][()], err_msg=name)
        assert mean.attrs[C.WINDOW_LENGTH] == LENGTH and mean.attrs[C.SCORED_REGIONS] == "self.regions.narrowPeak"
    assert regions_path_for(out).read_text() == regions_path_for(runs["a"]).read_text()


def test_average_refusals_are_one_line(runs, tmp_path):
    out = tmp_path / "bad.h5"
    assert "20 windows of 200 bp" in one_error_line(invoke("average", runs["a"], runs["fasta"], "-o", out))
    assert "at least two" in one_error_line(invoke("average", runs["a"], "-o", out))
    assert "no such score file" in one_error_line(invoke("average", runs["a"], tmp_path / "none.h5", "-o", out))
    assert "would be overwritten" in one_error_line(invoke("average", runs["a"], runs["s0"], "-o", runs["s0"]))
    assert not out.exists() and not regions_path_for(out).exists()


# ---------------------------------------------------------------- info SCORES


def _commands(text: str) -> dict[str, list[list[str]]]:
    """The printed commands by tool and subcommand, each split as the shell would."""
    found: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        line = re.sub(r"^\s+(\(or: )?", "", line).rstrip(")")
        if line.split(" ")[0] in ("modisco", "finemo", "genolift"):
            words = shlex.split(line)
            found.setdefault(f"{words[0]} {words[1]}", []).append(words)
    return found


def _flag(words: list[str], flag: str) -> str:
    return words[words.index(flag) + 1]


def test_info_of_a_score_file_prints_the_widths_of_the_file(runs):
    text = ok("info", runs["a"]).stdout
    assert "24 windows of 200 bp (2 off a chromosome end skipped" in text and "windows with N: 0" in text
    assert "2 dinucleotide shuffles per window, seed 0" in text and "task 0 of output" in text
    commands = _commands(text)
    regions = str(regions_path_for(runs["a"]))
    for key, flag in (("modisco motifs", "-w"), ("modisco seqlet-bed", "-w"), ("finemo extract-regions-bpnet-h5", "-w"),
                      ("finemo report", "-W")):
        assert _flag(commands[key][0], flag) == str(LENGTH), key
    assert _flag(commands["modisco motifs"][0], "-i") == str(runs["a"])
    assert _flag(commands["modisco seqlet-bed"][0], "-p") == regions
    assert _flag(commands["finemo extract-regions-bpnet-h5"][0], "-p") == regions
    assert _flag(commands["finemo extract-regions-bpnet-h5"][0], "-c") == str(runs["a"])
    npz = _flag(commands["genolift export"][0], "-o")
    assert _flag(commands["finemo call-hits"][0], "-r") == npz == _flag(commands["finemo report"][0], "-r")
    assert _flag(commands["finemo call-hits"][0], "-m") == _flag(commands["modisco motifs"][0], "-o")


def test_info_routes_windows_with_n_through_drop_n(runs, tmp_path):
    scores = tmp_path / "fasta.h5"
    shutil.copy(runs["fasta"], scores)
    shutil.copy(regions_path_for(runs["fasta"]), regions_path_for(scores))
    text = ok("info", scores).stdout
    assert "windows with N: 3" in text
    commands = _commands(text)
    assert "-i" not in commands["modisco motifs"][0] and _flag(commands["modisco motifs"][0], "-w") == str(LENGTH)
    for words in commands["genolift export"]:  # the exports the route reads, made by the printed commands
        assert "--drop-n" in words
        ok(*words[1:], "-q")
    regions = _flag(commands["modisco seqlet-bed"][0], "-p")
    keep = ~np.isin(_coords(scores)[C.COORDS_NAME], ["seq_3", "seq_7", "seq_15"])
    _assert_rows_match(tmp_path / regions.rsplit("/", 1)[-1], scores, keep)
    for words in (commands["modisco motifs"][0], commands["finemo call-hits"][0]):
        for flag in ("-s", "-a", "-r"):
            if flag in words:
                assert (tmp_path / _flag(words, flag).rsplit("/", 1)[-1]).exists(), words


@pytest.mark.parametrize("key", ["a", "fasta"])
def test_info_commands_use_flags_modisco_has(runs, key):
    if shutil.which("modisco") is None:
        pytest.skip("modisco-lite is not installed")
    for name, commands in _commands(ok("info", runs[key]).stdout).items():
        tool, sub = name.split()
        if tool != "modisco":
            continue
        help_text = subprocess.run(["modisco", sub, "--help"], capture_output=True, text=True, check=True).stdout
        for word in commands[0]:
            if word.startswith("-"):
                assert re.search(rf"(^|\s){re.escape(word)}[,\s]", help_text), (name, word)


def test_info_of_ism_scores_says_what_is_missing(runs):
    text = ok("info", runs["ism"]).stdout
    assert "hypothetical scores, which this file has none of" in text and "modisco motifs" not in text


def test_info_of_an_incomplete_score_file_is_one_line(runs, tmp_path):
    broken = tmp_path / "broken.h5"
    shutil.copy(runs["a"], broken)
    with h5py.File(broken, "r+") as f:
        f.attrs[C.COMPLETE] = False
    assert "not a complete genolift score file" in one_error_line(invoke("info", broken))
