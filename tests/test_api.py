"""The Python API: one contract f(model, X, ...) for attribute, ism and the gradient rules,
references as an array or a strategy ("shuffle", "gc") that equals the explicit references."""

from __future__ import annotations

import numpy as np
import pytest

import genolift
from genolift.engine import Engine
from genolift.errors import ModelError, ReferencesError
from genolift.references import gc_background, gc_fraction

from . import zoo
from .conftest import one_hot, randomize
from .helpers import assert_result_sums_to_delta


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    model = zoo.basset_like()
    randomize(model, seed=4)
    path = tmp_path_factory.mktemp("api") / "m.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def graph(model_file):
    return genolift.load_model(model_file)


def _sequences(n=6, seed=0, L=24):
    return one_hot(np.random.default_rng(seed), n, L)


def _assert_same(a, b):
    for name in genolift.Attribution._fields:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("rule", ["rescale", "integrated-gradients"])
def test_shuffle_strategy_equals_the_explicit_shuffles(graph, rule):
    X = _sequences()
    explicit = genolift.attribute(graph, X, genolift.dinucleotide_shuffle(X, 10, seed=0), rule=rule, steps=4)
    strategy = genolift.attribute(graph, X, references="shuffle", shuffles=10, seed=0, rule=rule, steps=4)
    _assert_same(strategy, explicit)
    assert strategy.deltas.shape == (6, 10)
    default = genolift.attribute(graph, X, rule=rule, steps=4)  # the default strategy: 10 shuffles, seed 0
    _assert_same(default, explicit)
    other_seed = genolift.attribute(graph, X, references="shuffle", shuffles=10, seed=1, rule=rule, steps=4)
    assert np.abs(other_seed.hypothetical - explicit.hypothetical).max() > 1e-4


def test_gc_strategy_equals_the_explicit_background(graph):
    X = _sequences()
    row = gc_background(X[:1], 0.42)[0, 0, 0]
    explicit = genolift.attribute(graph, X, np.tile(row, (24, 1)))
    _assert_same(genolift.attribute(graph, X, references="gc", gc=0.42), explicit)
    estimated = genolift.attribute(graph, X, references="gc")  # gc estimated from X
    _assert_same(estimated, genolift.attribute(graph, X, references="gc", gc=gc_fraction(X)))
    assert np.abs(estimated.hypothetical - explicit.hypothetical).max() > 0  # gc_fraction(X) is not 0.42


def test_gc_strategy_zeroes_the_background_at_n(graph):
    """As ``genolift score --reference gc``: sequences without N share the background; a sequence
    with N gets its own, zeroed there (the explicit (N, 1, L, 4) references of gc_background)."""
    X = _sequences()
    X[2, 3:6] = 0
    strategy = genolift.attribute(graph, X, references="gc", gc=0.42)
    shared = genolift.attribute(graph, X, np.tile(gc_background(X[:1], 0.42)[0, 0, 0], (24, 1)))
    own = genolift.attribute(graph, X, gc_background(X, 0.42))  # (N, 1, L, 4), zeros at N
    clean = [0, 1, 3, 4, 5]
    for name in genolift.Attribution._fields:
        np.testing.assert_array_equal(getattr(strategy, name)[clean], getattr(shared, name)[clean], err_msg=name)
        np.testing.assert_allclose(getattr(strategy, name)[2], getattr(own, name)[2], atol=1e-6, err_msg=name)
    assert np.abs(strategy.hypothetical[2] - shared.hypothetical[2]).max() > 1e-3
    assert_result_sums_to_delta(strategy)


def test_gc_strategy_under_a_gradient_rule_and_on_both_strands(graph):
    X = _sequences()
    X[1, 0] = 0  # gradient rules pair every sequence with its own background, zeroed at N
    _assert_same(genolift.attribute(graph, X, references="gc", gc=0.42, rule="gradient"),
                 genolift.attribute(graph, X, gc_background(X, 0.42), rule="gradient"))
    X = _sequences()
    row = np.tile(gc_background(X[:1], 0.42)[0, 0, 0], (24, 1))
    _assert_same(genolift.attribute(graph, X, references="gc", gc=0.42, revcomp=True),
                 genolift.attribute(graph, X, row, revcomp=True))


def test_a_model_path_or_a_graph(graph, model_file):
    X = _sequences(3)
    R = genolift.dinucleotide_shuffle(X, 2, seed=3)
    _assert_same(genolift.attribute(str(model_file), X, R, rule="grad-x-input"),
                 genolift.attribute(graph, X, R, rule="grad-x-input"))
    by_path, by_graph = genolift.ism(model_file, X), genolift.ism(graph, X)
    np.testing.assert_array_equal(by_path.scores, by_graph.scores)


def test_ism_matches_engine_mutagenesis(graph):
    X = _sequences(4)
    X[0, 7] = 0
    res = genolift.ism(graph, X, task=2, batch_size=7)
    assert isinstance(res, genolift.ISMScores) and res.scores.shape == X.shape and res.predictions.shape == (4,)
    (scores, predictions), = Engine(graph, task=2, batch_size=7).mutagenesis(X)
    np.testing.assert_array_equal(res.scores, scores)
    np.testing.assert_array_equal(res.predictions, predictions)
    window = genolift.ism(graph, X, task=2, window=(5, 9))
    assert not window.scores[:, :5].any() and not window.scores[:, 9:].any()
    np.testing.assert_allclose(window.scores[:, 5:9], scores[:, 5:9], atol=1e-6)


def test_wrong_references_and_sequences_are_clear_errors(graph):
    X = _sequences(3)
    with pytest.raises(ReferencesError, match="'dinucleotide'.*shuffle, gc"):
        genolift.attribute(graph, X, references="dinucleotide")
    with pytest.raises(ReferencesError, match=r"expected \(N=3, K, 24, 4\)"):
        genolift.attribute(graph, X, np.zeros((2, 1, 24, 4), np.float32))
    with pytest.raises(ReferencesError, match="strictly between 0 and 1"):
        genolift.attribute(graph, X, references="gc", gc=1.5)
    with pytest.raises(ModelError, match=r"needs \(N, 24, 4\)"):
        genolift.ism(graph, X[:, :20])


def test_load_regions_gives_the_commands_windows_references_and_scores(tmp_path):
    """With the windows of load_regions, the API computes the command's references and scores, bit for bit."""
    import h5py
    from click.testing import CliRunner

    from genolift.cli.main import cli

    from .conftest import TEST_DATA

    model, peaks, genome = TEST_DATA / "example_model.h5", TEST_DATA / "example_peaks.narrowPeak", \
        TEST_DATA / "example_genome.fa"
    lines = [line for line in peaks.read_text().splitlines() if line][:12]
    subset = tmp_path / "p.narrowPeak"
    edge = "\t".join(["chr3", "99990", "99999", "off_the_end", "0", ".", "1", "1", "1", "5"])
    subset.write_text("".join(line + "\n" for line in lines) + edge + "\n")
    regions = genolift.load_regions(subset, genome, model=model)
    assert regions.X.shape == (12, 200, 4) and len(regions.keys) == 12 and regions.keys[0] == regions.windows[0].key
    assert [w.name for w in regions.skipped] == ["off_the_end"]
    out = tmp_path / "s.h5"
    done = CliRunner().invoke(cli, ["score", str(model), str(subset), "-g", str(genome), "--shuffles", "4",
                                    "--seed", "3", "-o", str(out)])
    assert done.exit_code == 0, done.output
    res = genolift.attribute(model, regions, shuffles=4, seed=3)
    by_row = genolift.attribute(model, regions.X, shuffles=4, seed=3)  # seeded by row, not by window
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["input_seqs"][...], regions.X)
        np.testing.assert_array_equal(f["reference_predictions"][...], res.reference_predictions)
        np.testing.assert_array_equal(f["hyp_scores"][...], res.hypothetical)
        assert not np.array_equal(f["reference_predictions"][...], by_row.reference_predictions)
    with pytest.raises(ModelError, match="window length"):
        genolift.load_regions(subset, genome)


@pytest.mark.slow
def test_public_names_are_listed_and_the_api_is_quiet(tmp_path):
    """dir(genolift) shows the API; a first API call prints none of the array library's start-up notes."""
    import subprocess
    import sys

    from .conftest import TEST_DATA

    assert {"attribute", "ism", "occlusion", "load_model", "load_regions", "Regions"} <= set(dir(genolift))
    code = ("import genolift, sys\n"
            "r = genolift.load_regions(sys.argv[1], sys.argv[2], model=sys.argv[3])\n"
            "genolift.attribute(sys.argv[3], r.X[:3], shuffles=2)\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["GENOLIFT_CACHE_DIR"] = str(tmp_path / "cache")  # Keras reads the model too
    done = subprocess.run([sys.executable, "-c", code, str(TEST_DATA / "example_peaks.narrowPeak"),
                           str(TEST_DATA / "example_genome.fa"), str(TEST_DATA / "example_model.h5")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
