"""The two commands on test_data, read back with h5py."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genolift import __version__
from genolift.cli.main import cli
from genolift.regions import read_bed
from genolift.sequences import Genome, one_hot_encode

from .conftest import TEST_DATA
from .helpers import assert_sums_to_delta

MODEL = TEST_DATA / "example_model.h5"
PEAKS = TEST_DATA / "example_peaks.narrowPeak"
GENOME = TEST_DATA / "example_genome.fa"
SEQS = TEST_DATA / "example_seqs.fa"
L = 200


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def _subset_bed(tmp_path, rows, name="subset.narrowPeak"):
    lines = [line for line in PEAKS.read_text().splitlines() if line and not line.startswith("#")]
    path = tmp_path / name
    path.write_text("".join(lines[i] + "\n" for i in rows))
    return path


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """`genolift score` on 40 peaks of the example, K = 5."""
    tmp = tmp_path_factory.mktemp("score")
    bed = _subset_bed(tmp, range(40))
    out = tmp / "scores.h5"
    result = invoke("score", MODEL, bed, "-g", GENOME, "--shuffles", 5, "-o", out, "--batch-size", 32)
    assert result.exit_code == 0, result.output
    return bed, out, result


def test_score_file_layout(scored):
    bed, out, result = scored
    assert result.stdout == ""
    with h5py.File(out, "r") as f:
        for name in ("input_seqs", "hyp_scores", "contrib_scores"):
            assert f[name].shape == (40, L, 4) and f[name].dtype == np.float32
        assert f["deltas"].shape == (40, 5) and f["reference_predictions"].shape == (40, 5)
        attrs = dict(f.attrs)
        assert attrs["genolift_version"] == __version__
        assert attrs["model_sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
        assert attrs["rule"] == "rescale" and attrs["reference"] == "dinucleotide-shuffle"
        assert attrs["shuffles"] == 5 and attrs["seed"] == 0 and attrs["complete"]
        assert "pre-sigmoid" in attrs["target"] and "genolift score" in attrs["command_line"]
        windows = read_bed(bed, L)
        assert [c.decode() for c in f["coords_chrom"][:]] == [w.chrom for w in windows]
        np.testing.assert_array_equal(f["coords_start"][:], [w.start for w in windows])
        np.testing.assert_array_equal(f["coords_end"][:] - f["coords_start"][:], L)
        np.testing.assert_array_equal(f["region_line"][:], np.arange(1, 41))
        with Genome(GENOME) as genome:
            np.testing.assert_array_equal(f["input_seqs"][3], one_hot_encode(genome.fetch(windows[3])))
        hyp, x, contrib = f["hyp_scores"][:], f["input_seqs"][:], f["contrib_scores"][:]
        np.testing.assert_array_equal(contrib, hyp * x)
        assert_sums_to_delta(contrib, f["predictions"][:], f["reference_predictions"][:], f["deltas"][:])


def test_predictions_are_the_keras_logits(scored):
    import keras

    _, out, _ = scored
    model = keras.saving.load_model(TEST_DATA / "example_model.keras", compile=False)
    with h5py.File(out, "r") as f:
        x, pred = f["input_seqs"][:8], f["predictions"][:8]
    head = model.get_layer("output")
    hidden = keras.Model(model.inputs, head.input).predict(x, verbose=0).astype(np.float64)
    kernel, bias = head.get_weights()
    np.testing.assert_allclose(pred, hidden @ kernel[:, 0] + bias[0], rtol=1e-5, atol=1e-5)


def test_existing_output_is_not_clobbered(scored, tmp_path):
    bed, out, _ = scored
    before = out.read_bytes()
    result = invoke("score", MODEL, bed, "-g", GENOME, "-o", out)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "exists already" in lines[0] and "--force" in lines[0]
    assert out.read_bytes() == before


def test_same_seed_same_bytes_other_seed_other_scores(scored, tmp_path):
    bed, out, _ = scored
    again, other = tmp_path / "again.h5", tmp_path / "other.h5"
    assert invoke("score", MODEL, bed, "-g", GENOME, "--shuffles", 5, "-o", again, "--batch-size", 32).exit_code == 0
    assert invoke("score", MODEL, bed, "-g", GENOME, "--shuffles", 5, "-o", other, "--seed", 1,
                  "--batch-size", 32).exit_code == 0
    with h5py.File(out) as a, h5py.File(again) as b, h5py.File(other) as c:
        for name in ("hyp_scores", "reference_predictions", "deltas"):
            assert np.array_equal(a[name][:], b[name][:])
        assert not np.allclose(a["reference_predictions"][:], c["reference_predictions"][:])


def test_subset_and_batch_size_give_the_same_rows(scored, tmp_path):
    bed, out, _ = scored
    sub = _subset_bed(tmp_path, range(10, 20))
    sub_out = tmp_path / "sub.h5"
    assert invoke("score", MODEL, sub, "-g", GENOME, "--shuffles", 5, "-o", sub_out, "--batch-size", 1).exit_code == 0
    with h5py.File(out) as full, h5py.File(sub_out) as part:
        np.testing.assert_allclose(part["hyp_scores"][:], full["hyp_scores"][10:20], atol=1e-6)
        np.testing.assert_allclose(part["reference_predictions"][:], full["reference_predictions"][10:20], atol=1e-5)


def test_hypothetical_on_fasta_without_genome(tmp_path):
    out = tmp_path / "hyp.h5"
    result = invoke("hypothetical", MODEL, SEQS, "--shuffles", 3, "-o", out)
    assert result.exit_code == 0, result.output
    with h5py.File(out) as f:
        assert "contrib_scores" not in f
        assert f["hyp_scores"].shape == (20, L, 4) and f.attrs["command"] == "hypothetical"
        assert f["coords_chrom"][0].decode() == "seq_0"
        x = f["input_seqs"][:]
        zero_rows = ~x.any(axis=-1)
        assert zero_rows.sum() >= 5  # the record with Ns
        projected = (f["hyp_scores"][:] * x).sum(-1)
        assert not projected[zero_rows].any()


def test_gc_background_estimated_from_sequences(tmp_path):
    out = tmp_path / "gc.h5"
    bed = _subset_bed(tmp_path, range(12))
    result = invoke("score", MODEL, bed, "-g", GENOME, "--reference", "gc", "-o", out)
    assert result.exit_code == 0, result.output
    with h5py.File(out) as f:
        x = f["input_seqs"][:]
        counts = x.sum(axis=(0, 1))
        assert f.attrs["gc"] == pytest.approx((counts[1] + counts[2]) / counts.sum(), rel=1e-6)
        assert f.attrs["gc_source"] == "scored sequences" and f["deltas"].shape == (12, 1)
        assert_sums_to_delta(f["contrib_scores"][:], f["predictions"][:], f["reference_predictions"][:], f["deltas"][:])


def test_genome_required_for_bed(tmp_path):
    result = invoke("score", MODEL, PEAKS, "-o", tmp_path / "x.h5")
    assert result.exit_code == 1 and "-g/--genome" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.h5").exists()


def test_help_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys; from genolift.cli.main import main; import genolift; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    for command in ([], ["score"], ["hypothetical"]):
        assert invoke(*command, "--help").exit_code == 0


def test_version():
    assert invoke("--version").output.strip().endswith(__version__)


def test_bare_command_with_genome_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    peaks = _subset_bed(tmp_path, range(6), name="regions.bed.gz")
    import gzip

    peaks.write_bytes(gzip.compress(peaks.read_bytes()))
    runner = CliRunner()
    result = runner.invoke(cli, ["score", str(MODEL), str(peaks), "--shuffles", "10"],
                           env={"GENOLIFT_GENOME": str(GENOME)})
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "regions.scores.h5").exists() and "regions.scores.h5" in result.stderr
    result = runner.invoke(cli, ["hypothetical", str(MODEL), str(peaks), "--shuffles", "10"],
                           env={"GENOLIFT_GENOME": str(GENOME)})
    assert result.exit_code == 0 and (tmp_path / "regions.hyp.h5").exists()
    with h5py.File(tmp_path / "regions.scores.h5") as f:
        assert f.attrs["genome_file"] == GENOME.name


def test_bare_command_without_a_genome_names_both_ways(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENOLIFT_GENOME", raising=False)
    result = CliRunner().invoke(cli, ["score", str(MODEL), str(PEAKS), "--shuffles", "10"])
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and "-g/--genome" in line and "GENOLIFT_GENOME" in line
    assert not list(tmp_path.iterdir())


def test_derived_output_names():
    from pathlib import Path

    from genolift.cli.options import derived_output

    assert derived_output(Path("data/peaks.narrowPeak"), "score") == Path("peaks.scores.h5")
    assert derived_output(Path("x/regions.bed.gz"), "hypothetical") == Path("regions.hyp.h5")
    assert derived_output(Path("seqs.fa"), "score") == Path("seqs.scores.h5")
    assert derived_output(Path("my.peaks.v2.bed"), "score") == Path("my.peaks.v2.scores.h5")


def test_task_all_writes_one_file_per_task_equal_to_single_runs(tmp_path):
    pattern = tmp_path / "scores.{task}.h5"
    result = invoke("score", MODEL, SEQS, "--shuffles", 3, "--task", "all", "-o", pattern)
    assert result.exit_code == 0, result.stderr
    for task in (0, 1):
        single = tmp_path / f"single{task}.h5"
        assert invoke("score", MODEL, SEQS, "--shuffles", 3, "--task", task, "-o", single).exit_code == 0
        with h5py.File(tmp_path / f"scores.{task}.h5") as a, h5py.File(single) as b:
            assert a.attrs["task"] == task and a.attrs["target"] == b.attrs["target"]
            for name in ("hyp_scores", "predictions", "reference_predictions"):
                np.testing.assert_allclose(a[name][()], b[name][()], rtol=1e-5, atol=1e-6)  # auto may compile them apart
    missing = invoke("score", MODEL, SEQS, "--task", "all", "-o", tmp_path / "flat.h5")
    assert missing.exit_code == 1 and "{task}" in missing.stderr


def test_gc_background_with_n_in_some_windows(tmp_path):
    """Windows partly and wholly in the genome's N run: sums still close, N positions score 0, and each
    window's reference is the background zeroed where its sequence has N."""
    import keras

    bed = tmp_path / "n.bed"
    rows = ["chr2\t99400\t99600", "chr2\t99900\t100100", "chr2\t100400\t100600", "chr1\t1000\t1200",
            "chr3\t5000\t5200", "chr2\t99450\t99650"]
    bed.write_text("\n".join(rows) + "\n")
    out, gc = tmp_path / "gc.h5", 0.42
    result = invoke("score", MODEL, bed, "-g", GENOME, "--reference", "gc", "--gc", gc, "-o", out, "--batch-size", 4)
    assert result.exit_code == 0, result.stderr
    with h5py.File(out) as f:
        x, contrib, hyp = f["input_seqs"][()], f["contrib_scores"][()], f["hyp_scores"][()]
        pred, ref_pred, deltas = f["predictions"][()], f["reference_predictions"][()], f["deltas"][()]
        assert f.attrs["gc"] == gc and f.attrs["gc_source"] == "--gc" and f.attrs["reference"] == "gc-background"
    at_n = ~x.any(axis=-1)
    assert at_n[0].any() and not at_n[0].all() and at_n[1].all() and at_n[2].any() and not at_n[3:5].any()
    assert not contrib[at_n].any() and not (hyp * x)[at_n].any() and not contrib[1].any()
    assert_sums_to_delta(contrib, pred, ref_pred, deltas)
    model = keras.saving.load_model(TEST_DATA / "example_model.keras", compile=False)
    head = model.get_layer("output")
    kernel, bias = head.get_weights()
    background = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2], np.float32)
    references = np.where(at_n[..., None], 0.0, background).astype(np.float32)
    hidden = keras.Model(model.inputs, head.input).predict(references, verbose=0).astype(np.float64)
    np.testing.assert_allclose(ref_pred[:, 0], hidden @ kernel[:, 0] + bias[0], rtol=1e-5, atol=1e-5)
    assert ref_pred[3, 0] == ref_pred[4, 0] != ref_pred[0, 0]


def test_host_side_and_engine_import_without_tensorflow():
    """Regions, references, targets, writers and the engine import where TensorFlow cannot; only the
    TensorFlow backend then refuses, with the install line."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from genolift.engine import GRADIENT_RULES, ChunkResult, Engine, select_target\n"
            "import genolift.run.driver, genolift.run.score, genolift.run.source, genolift.writers.hdf5\n"
            "import genolift.references, genolift.api\n"
            "from genolift.engine.backends import load\n"
            "from genolift.errors import DeviceError\n"
            "try:\n    load('tensorflow')\nexcept DeviceError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "--backend tensorflow: tensorflow is not installed here (pip install 'tensorflow')"


@pytest.mark.slow
def test_tensorflow_import_leaves_keras_for_the_first_model_read():
    """The command line and the API's engines import TensorFlow without Keras; Keras then loads as usual."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from genolift.cli.quiet_import import import_tensorflow\n"
            "tf = import_tensorflow()\n"
            "print('keras' in sys.modules, 'keras.src.optimizers' in sys.modules)\n"
            "from genolift.model import load_model\n"
            "graph = load_model(sys.argv[1], cache=False)\n"
            "import keras\n"
            "print(graph.length, keras.optimizers.Adam.__name__, 'keras.src.optimizers' in sys.modules)\n")
    model = str(MODEL)
    out = subprocess.run([sys.executable, "-c", code, model], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "200", "Adam", "True"]

    api = ("import sys, genolift.engine.backends as b\nprint('tensorflow' in sys.modules)\nb.load('tensorflow')\n"
           "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", api], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "False"]  # the engine's TensorFlow backend: the same import

    already = "import keras.src.optimizers\n" + code
    out = subprocess.run([sys.executable, "-c", already, model], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["True", "True"]  # imported before: left as it was


_FROZEN_AT_EXIT = """
import atexit, gc, sys
from genolift.cli.main import main
atexit.register(lambda: print("frozen", gc.get_freeze_count(), file=sys.stderr, flush=True))
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_command_line_process_leaves_its_objects_to_the_system_at_exit(tmp_path):
    """The command's process exempts what is alive at its end from the collection at shutdown
    (TensorFlow's objects included), with the exit code and the output as without it."""
    import subprocess
    import sys

    def run(*args):
        done = subprocess.run([sys.executable, "-c", _FROZEN_AT_EXIT, *map(str, args)], capture_output=True,
                              text=True, timeout=300)
        frozen = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("frozen ")]
        return done, frozen

    out = tmp_path / "s.h5"
    done, frozen = run("score", MODEL, SEQS, "--shuffles", "2", "-o", out, "-q")
    assert done.returncode == 0, done.stderr
    assert frozen and frozen[0] > 100_000, done.stderr  # TensorFlow was imported: far more objects than this
    with h5py.File(out, "r") as f:  # closed and complete, read back by h5py
        contributions = f["contrib_scores"][:]
    assert np.isfinite(contributions).all() and np.abs(contributions).sum() > 0
    failed, frozen = run("score", tmp_path / "missing.h5", SEQS, "-o", tmp_path / "t.h5")
    assert failed.returncode == 1 and frozen, failed.stderr
    assert "missing.h5" in failed.stderr and "Traceback" not in failed.stderr and not (tmp_path / "t.h5").exists()
