"""The commands on every backend, end to end on the bundled example, read back with h5py; runs without
TensorFlow installed; merge and --resume refuse to join files of different backends."""

from __future__ import annotations

import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from genolift.cli.main import cli

from .conftest import TEST_DATA, backend_module
from .helpers import assert_sums_to_delta, tiered

MODEL = TEST_DATA / "example_model.h5"
PEAKS = TEST_DATA / "example_peaks.narrowPeak"
GENOME = TEST_DATA / "example_genome.fa"
VCF = TEST_DATA / "example_variants.vcf.gz"
BACKENDS = ("tensorflow", "jax", "torch")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def peaks(tmp_path_factory):
    """24 peaks of the example."""
    lines = [line for line in PEAKS.read_text().splitlines() if line and not line.startswith("#")][:24]
    path = tmp_path_factory.mktemp("peaks") / "peaks.narrowPeak"
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def runs(peaks, tmp_path_factory):
    """score, hypothetical, ism and variants on each installed backend: {backend: {command: path}}."""
    out = {}
    for backend in BACKENDS:
        try:
            backend_module(backend)
        except pytest.skip.Exception:
            continue
        tmp = tmp_path_factory.mktemp(backend)
        paths = {name: tmp / f"{name}.h5" for name in ("score", "hypothetical", "ism", "variants")}
        common = ["-g", GENOME, "--backend", backend, "--batch-size", 32]
        for name in ("score", "hypothetical"):
            result = invoke(name, MODEL, peaks, *common, "--shuffles", 3, "-o", paths[name])
            assert result.exit_code == 0, result.output
        result = invoke("ism", MODEL, peaks, *common, "--window", "90:110", "-o", paths["ism"])
        assert result.exit_code == 0, result.output
        result = invoke("variants", MODEL, VCF, *common, "--shuffles", 3, "-o", paths["variants"])
        assert result.exit_code == 0, result.output
        out[backend] = paths
    return out


@pytest.mark.slow
def test_every_command_on_every_backend_gives_tensorflows_numbers(runs):
    datasets = {"score": ("hyp_scores", "contrib_scores", "predictions", "deltas"),
                "hypothetical": ("hyp_scores", "predictions"),
                "ism": ("ism_scores", "predictions"),
                "variants": ("ref_hyp_scores", "alt_hyp_scores", "effect", "alt_deltas")}
    assert "tensorflow" in runs and len(runs) > 1
    for backend, paths in runs.items():
        for command, path in paths.items():
            with h5py.File(path, "r") as got, h5py.File(runs["tensorflow"][command], "r") as want:
                assert got.attrs["backend"] == backend and got.attrs["device"] and got.attrs["backend_version"]
                for name in datasets[command]:
                    a, b = got[name][...], want[name][...]
                    np.testing.assert_allclose(a, b, atol=2e-5 * (1 + np.abs(b).max()), err_msg=f"{backend} {command} {name}")
                if command == "score":
                    assert_sums_to_delta(got["contrib_scores"][...], got["predictions"][...],
                                         got["reference_predictions"][...], got["deltas"][...])


@pytest.mark.slow
def test_merge_and_resume_refuse_another_backend(runs, peaks, tmp_path):
    others = [b for b in runs if b != "tensorflow"]
    if not others:
        pytest.skip("one backend installed")
    result = invoke("merge", runs["tensorflow"]["score"], runs[others[0]]["score"], "-o", tmp_path / "m.h5")
    assert result.exit_code == 1 and not (tmp_path / "m.h5").exists()
    assert re.search(r"other settings than .* \(backend\b", result.output), result.output
    partial_out = tmp_path / "resume.h5"
    from .running import start_and_wait_for_parts

    args = ["score", MODEL, peaks, "-g", GENOME, "--shuffles", 3, "--chunk-size", 4, "-o", partial_out,
            "--backend", others[0]]
    proc = start_and_wait_for_parts(args, partial_out, parts=1)
    proc.kill()
    proc.wait()
    result = invoke("score", MODEL, peaks, "-g", GENOME, "--shuffles", 3, "--chunk-size", 4, "-o", partial_out,
                    "--backend", "tensorflow", "--resume")
    assert result.exit_code == 1 and re.search(r"used other parameters \(backend\b", result.output), result.output
    result = invoke(*args[:-2], "--backend", others[0], "--resume")
    assert result.exit_code == 0, result.output
    with h5py.File(partial_out, "r") as f:
        assert f.attrs["backend"] == others[0] and f.attrs["complete"]


_WITHOUT_TF = """
import sys
sys.modules["tensorflow"] = None  # import tensorflow now raises ImportError, as where it is not installed
from genolift.cli.main import main
try:
    main(sys.argv[1:])
finally:
    print("tensorflow imported:", sys.modules.get("tensorflow") is not None, file=sys.stderr)
"""


@pytest.mark.parametrize("backend", tiered(["jax", "torch"], {"jax"}))
def test_commands_run_where_tensorflow_cannot_be_imported(backend, peaks, tmp_path):
    backend_module(backend)
    out = tmp_path / "scores.h5"
    env = {**__import__("os").environ, "GENOLIFT_CACHE_DIR": str(tmp_path / "cache")}  # Keras reads the file
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", _WITHOUT_TF, "score", str(MODEL), str(peaks), "-g", str(GENOME),
                           "--shuffles", "2", "-o", str(out), "--backend", backend],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "tensorflow imported: False" in done.stderr and f"engine: {backend} " in done.stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["backend"] == backend and f["hyp_scores"].shape == (24, 200, 4)
        assert_sums_to_delta(f["contrib_scores"][...], f["predictions"][...], f["reference_predictions"][...],
                             f["deltas"][...])
    refused = subprocess.run([sys.executable, "-c", _WITHOUT_TF, "score", str(MODEL), str(peaks), "-g", str(GENOME),
                              "-o", str(tmp_path / "tf.h5"), "--backend", "tensorflow"],
                             capture_output=True, text=True, env=env)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == ("genolift: error: --backend tensorflow: tensorflow is not installed "
                                              "here (pip install 'tensorflow')")
