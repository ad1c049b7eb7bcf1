"""The methods through the command line on the bundled example: ``score --rule`` for each new rule (the score
file's layout, the options recorded, what each method promises), and ``genolift occlusion`` (its datasets,
values equal to Keras's predictions of the occluded sequences, shards, merge and resume)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import genolift
from genolift.cli.main import cli

from .conftest import TEST_DATA

MODEL = TEST_DATA / "example_model.h5"
SEQS = TEST_DATA / "example_seqs.fa"
N, L = 20, 200
SCORE_DATASETS = sorted(["input_seqs", "hyp_scores", "contrib_scores", "predictions", "reference_predictions",
                         "deltas", "residuals", "coords_chrom", "coords_start", "coords_end", "coords_name",
                         "coords_strand", "region_line"])


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _read(path):
    with h5py.File(path) as f:
        return {name: f[name][()] for name in f}, dict(f.attrs)


@pytest.fixture(scope="module")
def keras_logits():
    """Keras's logits (pre-sigmoid) of the example model: (n, L, 4) → (n, 2)."""
    import keras

    model = keras.saving.load_model(TEST_DATA / "example_model.keras", compile=False)
    head = model.get_layer("output")
    hidden = keras.Model(model.inputs, head.input)
    kernel, bias = (w.astype(np.float64) for w in head.get_weights())

    def logits(X):
        return hidden.predict(np.asarray(X, np.float32), verbose=0, batch_size=512).astype(np.float64) @ kernel + bias

    return logits


RULES = {
    "saliency": ([], {}),
    "lrp-epsilon": (["--epsilon", "0.01"], {"epsilon": 0.01}),
    "lrp-alpha-beta": (["--alpha", "2", "--beta", "1"], {"alpha": 2.0, "beta": 1.0}),
    "smoothgrad": (["--samples", "3", "--noise", "0.2"], {"samples": 3, "noise": 0.2, "times_input": False}),
    "smoothgrad-x-input": (["--samples", "3"], {"samples": 3, "noise": 0.15, "times_input": True}),
    "connection-weights": (["--times-input"], {"times_input": True}),
    "shapley-sampling": (["--samples", "2", "--width", "20"], {"samples": 2, "width": 20}),
    "rescale": (["--maxpool", "average"], {"maxpool": "average"}),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_writes_the_score_layout_and_records_its_options(rule, tmp_path):
    args, recorded = RULES[rule]
    out = tmp_path / "scores.h5"
    result = invoke("score", MODEL, SEQS, "-o", out, "--rule", rule, *args, "-k", 2, "--compile", "plain",
                    "--batch-size", 64)
    assert result.exit_code == 0, result.stderr
    data, attrs = _read(out)
    assert sorted(data) == SCORE_DATASETS and data["hyp_scores"].shape == (N, L, 4)
    assert attrs["rule"] == rule and attrs["reference"] == "dinucleotide-shuffle"
    for name in ("epsilon", "alpha", "beta", "samples", "noise", "times_input", "width", "maxpool"):
        assert (attrs.get(name) == recorded[name]) if name in recorded else name not in attrs, name
    np.testing.assert_array_equal(data["contrib_scores"], data["hyp_scores"] * data["input_seqs"])
    hyp, x = data["hyp_scores"], data["input_seqs"]
    if rule == "saliency":
        assert (hyp >= 0).all() and hyp.any()
    if rule == "connection-weights":  # the linear copy's gradient: one (L, 4) map for every region
        np.testing.assert_allclose(hyp, np.broadcast_to(hyp[:1], hyp.shape), rtol=1e-5, atol=1e-6)
    if rule in ("shapley-sampling", "rescale"):  # both sum to t(x) − mean t(r)
        assert np.abs(data["residuals"]).max() < 1e-4 * (1 + np.abs(data["predictions"]).max())
    if rule == "shapley-sampling":
        np.testing.assert_array_equal(hyp, hyp * x)  # the observed bases' scores only


def test_random_draws_do_not_depend_on_chunks(tmp_path):
    """SmoothGrad's noise is seeded per region, as the shuffles: chunk and batch sizes change nothing."""
    outs = []
    for chunk, batch in ((4, 16), (20, 256)):
        out = tmp_path / f"smooth{chunk}.h5"
        result = invoke("hypothetical", MODEL, SEQS, "-o", out, "--rule", "smoothgrad", "--samples", 4, "-k", 2,
                        "--chunk-size", chunk, "--batch-size", batch, "--compile", "plain")
        assert result.exit_code == 0, result.stderr
        outs.append(_read(out)[0]["hyp_scores"])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args, words", [
    (["--rule", "lrp-alpha-beta", "--alpha", "3"], "α − β = 1"),
    (["--rule", "gradient", "--times-input"], "--times-input applies to"),
])
def test_bad_options_stop_with_one_line(args, words, tmp_path):
    result = invoke("score", MODEL, SEQS, "-o", tmp_path / "x.h5", *args)
    assert result.exit_code == 1 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.h5").exists()


@pytest.fixture(scope="module")
def occlusion_zero(tmp_path_factory):
    out = tmp_path_factory.mktemp("occlusion") / "occ.h5"
    result = invoke("occlusion", MODEL, SEQS, "-o", out, "--width", 30, "--stride", 20, "--fill", "zero",
                    "--task", 1, "--chunk-size", 8, "--compile", "plain")
    assert result.exit_code == 0, result.stderr
    return out


def _by_hand(logits, x, fills, width, stride, task):
    """Occlusion scores (L,) of x from Keras: mean over covering windows of t(x) − mean over fills t(occluded)."""
    starts = list(range(0, L - width + 1, stride))
    blends = [x]
    for s in starts:
        for fill in fills:
            z = x.copy()
            z[s:s + width] = fill[s:s + width]
            blends.append(z)
    values = logits(np.stack(blends))[:, task]
    drops = values[0] - values[1:].reshape(len(starts), len(fills)).mean(axis=1)
    total, count = np.zeros(L), np.zeros(L)
    for s, drop in zip(starts, drops):
        total[s:s + width] += drop
        count[s:s + width] += 1
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def test_occlusion_file_layout_and_values(occlusion_zero, keras_logits):
    data, attrs = _read(occlusion_zero)
    assert sorted(data) == sorted(["input_seqs", "occlusion_scores", "predictions", "coords_chrom", "coords_start",
                                   "coords_end", "coords_name", "coords_strand", "region_line"])
    assert data["occlusion_scores"].shape == (N, L) and data["occlusion_scores"].dtype == np.float32
    assert attrs["command"] == "occlusion" and attrs["width"] == 30 and attrs["stride"] == 20
    assert attrs["fill"] == "zero" and attrs["reference"] == "zero" and attrs["shuffles"] == 0 and attrs["task"] == 1
    x = data["input_seqs"]
    np.testing.assert_allclose(data["predictions"], keras_logits(x)[:, 1], rtol=1e-5, atol=1e-5)
    for row in (0, 13):
        want = _by_hand(keras_logits, x[row], [np.zeros((L, 4))], 30, 20, 1)
        np.testing.assert_allclose(data["occlusion_scores"][row], want, rtol=1e-4, atol=1e-5)
    assert not data["occlusion_scores"][:, 190:].any()  # windows start at 0, 20, ..., 160: none reaches 190


def test_occlusion_filled_from_the_shuffles(tmp_path, keras_logits):
    out = tmp_path / "occ.h5"
    result = invoke("occlusion", MODEL, SEQS, "-o", out, "--width", 50, "--stride", 50, "-k", 2, "--seed", 3,
                    "--compile", "plain")
    assert result.exit_code == 0, result.stderr
    data, attrs = _read(out)
    assert attrs["fill"] == "reference" and attrs["shuffles"] == 2 and attrs["seed"] == 3
    x = data["input_seqs"]
    keys = [f"seq_{i}:0-{L}" for i in range(N)]
    refs = genolift.dinucleotide_shuffle(x, 2, seed=3, keys=keys)  # the references score uses for these regions
    for row in (2, 9):
        want = _by_hand(keras_logits, x[row], refs[row], 50, 50, 0)
        np.testing.assert_allclose(data["occlusion_scores"][row], want, rtol=1e-4, atol=1e-5)


def test_occlusion_shards_merge_to_the_whole_run(occlusion_zero, tmp_path):
    shards = []
    for i in range(2):
        out = tmp_path / f"shard{i}.h5"
        result = invoke("occlusion", MODEL, SEQS, "-o", out, "--width", 30, "--stride", 20, "--fill", "zero",
                        "--task", 1, "--chunk-size", 8, "--compile", "plain", "--shard", f"{i}/2")
        assert result.exit_code == 0, result.stderr
        shards.append(out)
    merged = tmp_path / "merged.h5"
    assert invoke("merge", *shards, "-o", merged).exit_code == 0
    np.testing.assert_array_equal(_read(merged)[0]["occlusion_scores"], _read(occlusion_zero)[0]["occlusion_scores"])
    other = tmp_path / "other.h5"
    assert invoke("occlusion", MODEL, SEQS, "-o", other, "--width", 25, "--stride", 20, "--fill", "zero",
                  "--task", 1, "--chunk-size", 8, "--shard", "1/2").exit_code == 0
    refused = invoke("merge", shards[0], other, "-o", tmp_path / "bad.h5")
    assert refused.exit_code == 1 and "width" in refused.stderr


def test_occlusion_refuses_a_window_longer_than_the_input(tmp_path):
    result = invoke("occlusion", MODEL, SEQS, "-o", tmp_path / "x.h5", "--width", 201)
    assert result.exit_code == 1 and "--width 201" in result.stderr


@pytest.mark.slow
def test_occlusion_resumes_an_interrupted_run(occlusion_zero, tmp_path):
    from .running import start_and_wait_for_parts

    out = tmp_path / "occ.h5"
    args = ["occlusion", MODEL, SEQS, "-o", out, "--width", 30, "--stride", 20, "--fill", "zero", "--task", 1,
            "--chunk-size", 8, "--compile", "plain"]
    proc = start_and_wait_for_parts([*args, "-q"], out, parts=1)
    proc.kill()
    proc.wait()
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.stderr
    assert "resuming: " in result.stderr
    np.testing.assert_array_equal(_read(out)[0]["occlusion_scores"], _read(occlusion_zero)[0]["occlusion_scores"])


def test_info_lists_the_rules():
    result = invoke("info", MODEL)
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("rules"))
    for rule in ("lrp-epsilon", "lrp-alpha-beta", "saliency", "smoothgrad-x-input", "connection-weights",
                 "shapley-sampling", "winner-takes-all"):
        assert rule in line
