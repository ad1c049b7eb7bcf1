"""The variant scores table of ``genolift variants``: variant-scorer's scores, the shuffled null, folds, one pass.

Every score is checked against its definition computed here from Keras's own ``predict`` on the two
allele windows stored in the file (the windows themselves are checked against the genome in
test_variants.py): predicted counts = exp of the log-counts head, logfc = log2 of their ratio, jsd =
scipy's Jensen-Shannon distance (base 2) of the softmax of the flattened profile logits, realigned
around indels by keeping the positions variant-scorer keeps; quantiles against numpy on the peaks'
predictions; p-values by counting the pooled null by brute force.
"""

from __future__ import annotations

import csv
import shutil

import h5py
import numpy as np
import pyfaidx
import pytest
from click.testing import CliRunner
from scipy.spatial.distance import jensenshannon

from genolift.cli.main import cli

from .conftest import TEST_DATA
from .test_variants import assert_same_datasets, read
from .test_variants_input import expected_from_vcf_text

GENOME = TEST_DATA / "example_genome.fa"
VCF = TEST_DATA / "example_variants.vcf"
PEAKS = TEST_DATA / "example_peaks.narrowPeak"
CHROMBPNET = TEST_DATA / "chrombpnet_like.h5"
ARGS = ["-k", "2", "--chunk-size", "8", "--batch-size", "32", "-q"]
NULL = 3
LEADING = ["chr", "pos", "allele1", "allele2", "variant_id"]
#: variant-scorer's columns with peaks and shuffled scores, in its order, then genolift's own.
PEAK_NULL_COLUMNS = LEADING + [
    "allele1_pred_counts", "allele2_pred_counts", "logfc", "abs_logfc", "jsd", "original_jsd", "logfc_x_jsd",
    "abs_logfc_x_jsd", "logfc.pval", "abs_logfc.pval", "jsd.pval", "logfc_x_jsd.pval", "abs_logfc_x_jsd.pval",
    "allele1_quantile", "allele2_quantile", "active_allele_quantile", "quantile_change", "abs_quantile_change",
    "logfc_x_active_allele_quantile", "abs_logfc_x_active_allele_quantile", "jsd_x_active_allele_quantile",
    "logfc_x_jsd_x_active_allele_quantile", "abs_logfc_x_jsd_x_active_allele_quantile",
    "active_allele_quantile.pval", "quantile_change.pval", "abs_quantile_change.pval",
    "logfc_x_active_allele_quantile.pval", "abs_logfc_x_active_allele_quantile.pval",
    "jsd_x_active_allele_quantile.pval", "logfc_x_jsd_x_active_allele_quantile.pval",
    "abs_logfc_x_jsd_x_active_allele_quantile.pval", "effect", "null_size"]
TAILS = {"logfc": "both", "abs_logfc": "right", "jsd": "right", "logfc_x_jsd": "both", "abs_logfc_x_jsd": "right",
         "active_allele_quantile": "right", "quantile_change": "both", "abs_quantile_change": "right"}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def run(out, *extra, model=CHROMBPNET, variants=VCF):
    result = invoke("variants", model, variants, "-g", GENOME, "-o", out, *ARGS, *extra)
    assert result.exit_code == 0, result.output + str(result.exception)
    return out


def table(path) -> tuple[list[str], list[dict]]:
    with open(path) as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    return rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]


def column(rows, name) -> np.ndarray:
    return np.array([float(r[name]) for r in rows])


@pytest.fixture(scope="module")
def keras_predict():
    import keras

    cache = {}

    def predict(name, X):
        if name not in cache:
            cache[name] = keras.saving.load_model(TEST_DATA / f"{name}.keras", compile=False)
        outputs = cache[name].predict(X, verbose=0, batch_size=64)
        return [np.asarray(o, np.float64) for o in (outputs if isinstance(outputs, list) else [outputs])]

    return predict


@pytest.fixture(scope="module")
def peaks_null(tmp_path_factory):
    """chrombpnet_like (profile (238,), log counts (1,)) with --peaks and --null."""
    out = tmp_path_factory.mktemp("scores") / "peaks.h5"
    return run(out, "--peaks", PEAKS, "--null", NULL)


# ----------------------------------------------------------------------------- definitions


def softmax_flat(logits: np.ndarray) -> np.ndarray:
    z = logits.reshape(len(logits), -1)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def realigned_jsd(p1: np.ndarray, p2: np.ndarray, rl: int, al: int) -> float:
    """Distance of (P, S) profiles with the positions variant-scorer keeps for an indel (h = P // 2)."""
    P, h, d = len(p1), len(p1) // 2, abs(rl - al)
    if rl > al:
        keep1, keep2 = [*range(0, h + al), *range(h + rl, P)], list(range(0, P - d))
    else:
        keep1, keep2 = list(range(0, P - d)), [*range(0, h + rl), *range(h + al, P)]
    a, b = p1[keep1].ravel(), p2[keep2].ravel()
    return jensenshannon(a / a.sum(), b / b.sum(), base=2)


def keras_scores(predict, name, d, revcomp=False) -> dict:
    """counts, logfc, original_jsd, jsd of the file's windows from Keras (outputs: profile, log counts)."""
    def heads(X):
        profile, counts = predict(name, X)
        return profile.reshape(len(X), profile.shape[1], -1), np.exp(counts).sum(axis=1)

    (prof1, c1), (prof2, c2) = heads(d["ref_seqs"]), heads(d["alt_seqs"])
    if revcomp:
        (rprof1, rc1), (rprof2, rc2) = heads(d["ref_seqs"][:, ::-1, ::-1]), heads(d["alt_seqs"][:, ::-1, ::-1])
        prof1, prof2 = (prof1 + rprof1[:, ::-1, ::-1]) / 2, (prof2 + rprof2[:, ::-1, ::-1]) / 2
        c1, c2 = (c1 + rc1) / 2, (c2 + rc2) / 2
    shape = prof1.shape
    p1, p2 = softmax_flat(prof1).reshape(shape), softmax_flat(prof2).reshape(shape)
    plain = np.array([jensenshannon(b.ravel(), a.ravel(), base=2) for a, b in zip(p1, p2)])
    rl, al = np.char.str_len(d["variant_ref"]), np.char.str_len(d["variant_alt"])
    jsd = np.array([plain[i] if rl[i] == al[i] else realigned_jsd(p1[i], p2[i], rl[i], al[i])
                    for i in range(len(rl))])
    return {"allele1_pred_counts": c1, "allele2_pred_counts": c2, "logfc": np.log2(c2 / c1),
            "original_jsd": plain, "jsd": jsd}


def assert_close(got, want, name, rtol=1e-4, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol, err_msg=name)


# ----------------------------------------------------------------------------- the scores


def test_scores_equal_their_definitions_on_keras_predictions(peaks_null, keras_predict):
    d = read(peaks_null)
    want = keras_scores(keras_predict, "chrombpnet_like", d)
    for name, values in want.items():
        assert_close(d[name], values, name)
    assert_close(d["abs_logfc"], np.abs(want["logfc"]), "abs_logfc")
    assert_close(d["logfc_x_jsd"], want["logfc"] * want["jsd"], "logfc_x_jsd")
    assert_close(d["abs_logfc_x_jsd"], np.abs(want["logfc"]) * want["jsd"], "abs_logfc_x_jsd")
    indels = np.char.str_len(d["variant_ref"]) != np.char.str_len(d["variant_alt"])
    assert indels.any() and np.all(d["jsd"][~indels] == d["original_jsd"][~indels])
    assert np.abs(d["jsd"][indels] - d["original_jsd"][indels]).max() > 1e-3  # realignment changes indels


def peak_counts(predict, length: int) -> np.ndarray:
    """Keras's predicted counts on every peak window [start + summit - L//2, + L), repeats once."""
    fa = pyfaidx.Fasta(str(GENOME), as_raw=True, sequence_always_upper=True)
    windows = set()
    with open(PEAKS) as handle:
        for fields in csv.reader(handle, delimiter="\t"):
            left = int(fields[1]) + int(fields[9]) - length // 2
            if left >= 0 and left + length <= len(fa[fields[0]]):
                windows.add((fields[0], left))
    seqs = [fa[c][s:s + length] for c, s in sorted(windows)]
    fa.close()
    X = np.array([[[float(b == base) for base in "ACGT"] for b in seq] for seq in seqs], np.float32)
    return np.exp(predict("chrombpnet_like", X)[1][:, 0])


def test_quantiles_against_the_peaks_predictions(peaks_null, keras_predict):
    d = read(peaks_null)
    peaks = peak_counts(keras_predict, d["ref_seqs"].shape[1])
    with h5py.File(peaks_null) as f:
        assert f.attrs["peaks_scored"] == len(peaks) and f.attrs["peaks_file"] == PEAKS.name
    q = {a: np.array([max(np.mean(peaks < x), 1 / len(peaks)) for x in d[f"{a}_pred_counts"]])
         for a in ("allele1", "allele2")}
    assert_close(d["allele1_quantile"], q["allele1"], "allele1_quantile", rtol=0, atol=1.5 / len(peaks))
    assert_close(d["allele2_quantile"], q["allele2"], "allele2_quantile", rtol=0, atol=1.5 / len(peaks))
    active = np.maximum(d["allele1_quantile"], d["allele2_quantile"]).astype(np.float64)
    np.testing.assert_allclose(d["active_allele_quantile"], active, rtol=1e-7)
    np.testing.assert_allclose(d["quantile_change"], d["allele2_quantile"] - d["allele1_quantile"].astype(float),
                               rtol=1e-6, atol=1e-7)
    for name in ("logfc", "abs_logfc", "jsd", "logfc_x_jsd", "abs_logfc_x_jsd"):
        np.testing.assert_allclose(d[f"{name}_x_active_allele_quantile"], d[name] * active, rtol=1e-6, atol=1e-9)


def test_bpnet_two_strands_with_revcomp(tmp_path, keras_predict):
    """Counts summed over the strands' units; profile strands and positions flattened; --revcomp averages
    counts and the logits of the reverse complement mapped back (positions reversed, strands swapped)."""
    d = read(run(tmp_path / "b.h5", "--revcomp", model=TEST_DATA / "bpnet_like.h5"))
    for name, values in keras_scores(keras_predict, "bpnet_like", d, revcomp=True).items():
        assert_close(d[name], values, name)


# ----------------------------------------------------------------------------- the null and p-values


def brute_pvalues(observed: np.ndarray, null: np.ndarray, tail: str) -> np.ndarray:
    out = []
    for x in observed:
        right = (np.sum(null >= x) + 1) / (len(null) + 1)
        left = (np.sum(null <= x) + 1) / (len(null) + 1)
        out.append({"right": right, "left": left, "both": 2 * min(left, right)}[tail])
    return np.array(out)


def test_pvalues_count_the_pooled_null(peaks_null):
    d = read(peaks_null)
    n1, n2 = d["null_allele1"].astype(np.float64).ravel(), d["null_allele2"].astype(np.float64).ravel()
    q1, q2 = d["null_allele1_quantile"].astype(float).ravel(), d["null_allele2_quantile"].astype(float).ravel()
    logfc, jsd = np.log2(n2 / n1), d["null_jsd"].astype(np.float64).ravel()
    null = {"logfc": logfc, "abs_logfc": np.abs(logfc), "jsd": jsd, "logfc_x_jsd": logfc * jsd,
            "abs_logfc_x_jsd": np.abs(logfc) * jsd, "active_allele_quantile": np.maximum(q1, q2),
            "quantile_change": q2 - q1, "abs_quantile_change": np.abs(q2 - q1)}
    assert len(logfc) == d["effect"].shape[0] * NULL and np.isfinite(logfc).all()
    for name, tail in TAILS.items():
        np.testing.assert_allclose(d[f"{name}.pval"], brute_pvalues(d[name], null[name], tail), rtol=1e-6,
                                   err_msg=name)
    with h5py.File(peaks_null) as f:
        assert f.attrs["null_size"] == len(logfc)
    assert d["logfc.pval"].min() >= 2 / (len(logfc) + 1) - 1e-7  # never below (0 + 1) / (M + 1), two-sided


def test_null_windows_place_the_alleles_in_shuffled_flanks(peaks_null, keras_predict):
    """The null values are the model's on REF and ALT written at L//2 into shuffles of the variant's stretch."""
    from genolift.sequences import Genome, codes_to_one_hot
    from genolift.variants import read_variants
    from genolift.variants.null import null_windows

    d = read(peaks_null)
    length, h = d["ref_seqs"].shape[1], d["ref_seqs"].shape[1] // 2
    with Genome(GENOME) as genome:
        variants = read_variants(VCF, genome).variants
        null = null_windows(variants, genome, length, NULL, 0, np.ones((len(variants), NULL), bool))
    ref, alt = codes_to_one_hot(null.ref), codes_to_one_hot(null.alt)
    for i, v in enumerate(variants):
        assert np.array_equal(ref[i, :, :h], alt[i, :, :h])
        assert all(np.array_equal(ref[i, :, h + j], np.tile(np.eye(4)["ACGT".index(b)], (NULL, 1)))
                   for j, b in enumerate(v.ref[:length - h]))
        assert not np.array_equal(ref[i, 0], d["ref_seqs"][i])  # flanks shuffled
    counts = [np.exp(keras_predict("chrombpnet_like", x.reshape(-1, length, 4))[1][:, 0]) for x in (ref, alt)]
    assert_close(d["null_allele1"].ravel(), counts[0], "null allele 1")
    assert_close(d["null_allele2"].ravel(), counts[1], "null allele 2")


def test_null_total_caps_the_pool(tmp_path):
    d_path = run(tmp_path / "cap.h5", "--null", NULL, "--null-total", 20)
    d = read(d_path)
    assert np.isfinite(d["null_allele1"]).sum() == 20 and np.isnan(d["null_allele1"]).sum() == 19 * NULL - 20
    with h5py.File(d_path) as f:
        assert f.attrs["null_size"] == 20
    _, rows = table(d_path.with_name("cap.variant_scores.tsv"))
    assert {r["null_size"] for r in rows} == {"20"}


# ----------------------------------------------------------------------------- the table


def test_table_columns_rows_and_values(peaks_null):
    header, rows = table(peaks_null.with_name("peaks.variant_scores.tsv"))
    assert header == PEAK_NULL_COLUMNS
    expected = [(c, str(p), r, a, i) for c, p, i, r, a, _ in expected_from_vcf_text(VCF)]
    assert [tuple(r[c] for c in LEADING) for r in rows] == expected  # input order, one row per ALT
    d = read(peaks_null)
    for name in PEAK_NULL_COLUMNS[5:-1]:
        np.testing.assert_array_equal(column(rows, name).astype(np.float32), d[name], err_msg=name)


def test_unit_model_table_and_orientation(tmp_path, keras_predict):
    """The example model has one sigmoid output: the table holds the explained unit's probabilities. A motif-making
    SNV raises them, the logit (effect) and the summed contributions; a motif-breaking SNV lowers all three."""
    out = run(tmp_path / "o.h5", variants=TEST_DATA / "example_orientation.vcf", model=TEST_DATA / "example_model.h5")
    d = read(out)
    header, rows = table(tmp_path / "o.variant_scores.tsv")
    assert header == LEADING + ["allele1_pred", "allele2_pred", "diff", "abs_diff", "effect"]
    p1 = keras_predict("example_model", d["ref_seqs"])[0][:, 0]
    p2 = keras_predict("example_model", d["alt_seqs"])[0][:, 0]
    assert_close(d["allele1_pred"], p1, "allele1_pred")
    assert_close(d["diff"], p2 - p1, "diff", atol=1e-6)
    summed = (d["alt_contrib_scores"].astype(np.float64) - d["ref_contrib_scores"]).sum(axis=(1, 2))
    sign = {"makes_motif": 1, "breaks_motif": -1}
    for i, name in enumerate(d["variant_id"]):
        for what, value in (("diff", d["diff"][i]), ("effect", d["effect"][i]), ("sum of delta", summed[i])):
            assert np.sign(value) == sign[name] and abs(value) > 1e-2, (name, what, value)


def test_output_all_explains_both_heads_in_one_run(tmp_path, keras_predict):
    run(tmp_path / "e.{task}.h5", "--output", "all", model=TEST_DATA / "bpnet_like.h5")
    profile, counts = read(tmp_path / "e.profile.h5"), read(tmp_path / "e.counts.h5")
    assert_same_datasets(tmp_path / "e.profile.h5", tmp_path / "e.counts.h5",
                         skip=[n for n in profile if "contrib" in n or "hyp" in n or "pred" in n
                               or "delta" in n or n == "effect"] + ["allele1_pred_counts", "allele2_pred_counts"])
    c = [keras_predict("bpnet_like", profile[f"{a}_seqs"])[1][:, 0] for a in ("ref", "alt")]
    assert_close(counts["effect"], c[1] - c[0], "counts effect", atol=1e-5)
    for d in (profile, counts):
        summed = (d["alt_contrib_scores"].astype(np.float64) - d["ref_contrib_scores"]).sum(axis=(1, 2))
        assert_close(summed, d["effect"], "sum of delta", atol=1e-5)
    with h5py.File(tmp_path / "e.profile.h5") as f, h5py.File(tmp_path / "e.counts.h5") as g:
        assert f.attrs["output"] == "profile" and g.attrs["output"] == "counts"
        assert f.attrs["target_kind"] == "profile" and g.attrs["target_kind"] == "task"
    assert table(tmp_path / "e.profile.variant_scores.tsv")[1][0]["logfc"] == \
        table(tmp_path / "e.counts.variant_scores.tsv")[1][0]["logfc"]


# ----------------------------------------------------------------------------- shards, resume, folds


def test_shards_merge_to_the_unsharded_null_run(peaks_null, tmp_path):
    shards = [run(tmp_path / f"s{i}.h5", "--peaks", PEAKS, "--null", NULL, "--shard", f"{i}/3") for i in range(3)]
    with h5py.File(shards[0]) as f:  # a shard's p-values use its own rows' null
        assert f.attrs["null_size"] == f["effect"].shape[0] * NULL < 19 * NULL
    merged = tmp_path / "merged.h5"
    result = invoke("merge", shards[2], shards[0], shards[1], "-o", merged)
    assert result.exit_code == 0, result.output
    assert_same_datasets(peaks_null, merged)
    want = peaks_null.with_name("peaks.variant_scores.tsv").read_text()
    assert (tmp_path / "merged.variant_scores.tsv").read_text() == want


@pytest.mark.slow
def test_kill_then_resume_with_null(peaks_null, tmp_path):
    import signal
    import subprocess
    import sys

    from .running import start_and_wait_for_parts

    out = tmp_path / "killed.h5"
    args = ["variants", CHROMBPNET, VCF, "-g", GENOME, "-o", out, *ARGS, "--peaks", PEAKS, "--null", NULL]
    proc = start_and_wait_for_parts(args, out, parts=1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and not (tmp_path / "killed.variant_scores.tsv").exists()
    resumed = subprocess.run([sys.executable, "-m", "genolift", *map(str, args), "--resume"], capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_datasets(peaks_null, out)
    want = peaks_null.with_name("peaks.variant_scores.tsv").read_text()
    assert (tmp_path / "killed.variant_scores.tsv").read_text() == want


def second_fold(path):
    """chrombpnet_like.h5 with its kernels perturbed: the same architecture, other weights."""
    shutil.copy(CHROMBPNET, path)
    rng = np.random.default_rng(5)
    with h5py.File(path, "r+") as f:
        kernels = []
        f["model_weights"].visit(lambda name: kernels.append(name) if name.endswith("kernel:0") else None)
        for name in kernels:
            weights = f["model_weights"][name]
            weights[...] = weights[()] * (1 + 0.3 * rng.standard_normal(weights.shape)).astype(np.float32)
    return path


def test_average_of_folds_writes_the_mean_columns(peaks_null, tmp_path):
    fold2 = run(tmp_path / "fold2.h5", "--peaks", PEAKS, "--null", NULL, model=second_fold(tmp_path / "m2.h5"))
    result = invoke("average", peaks_null, fold2, "-o", tmp_path / "mean.h5")
    assert result.exit_code == 0, result.output
    folds = [peaks_null, fold2]
    tables = [table(path.with_name(path.name[:-3] + ".variant_scores.tsv"))[1] for path in folds]
    header, rows = table(tmp_path / "mean.variant_scores.tsv")
    scores = ["logfc", "abs_logfc", "jsd", "logfc_x_jsd", "abs_logfc_x_jsd", "active_allele_quantile",
              *(f"{s}_x_active_allele_quantile" for s in ("logfc", "abs_logfc", "jsd", "logfc_x_jsd",
                                                          "abs_logfc_x_jsd")),
              "quantile_change", "abs_quantile_change"]
    assert header == LEADING + [f"{s}{suffix}" for s in scores for suffix in (".mean", ".mean.pval")] + ["effect.mean"]
    assert [r["variant_id"] for r in rows] == [r["variant_id"] for r in tables[0]]
    assert not np.allclose(column(tables[0], "logfc"), column(tables[1], "logfc"), atol=1e-4)  # the folds differ
    for name in ("logfc", "jsd", "abs_logfc_x_jsd"):
        assert_close(column(rows, f"{name}.mean"), (column(tables[0], name) + column(tables[1], name)) / 2, name)
        geometric = np.sqrt(column(tables[0], f"{name}.pval") * column(tables[1], f"{name}.pval"))
        assert_close(column(rows, f"{name}.mean.pval"), geometric, f"{name}.pval")
    a, b, mean = read(folds[0]), read(folds[1]), read(tmp_path / "mean.h5")
    assert_close(mean["alt_contrib_scores"], (a["alt_contrib_scores"] + b["alt_contrib_scores"].astype(float)) / 2,
                 "alt_contrib_scores", rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(mean["ref_seqs"], a["ref_seqs"])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("extra,words", [
    (["--peaks", PEAKS], "log-counts head"),
    (["--heads", "nope,-"], "not an output"),
])
def test_bad_options_are_one_line(tmp_path, extra, words):
    result = invoke("variants", TEST_DATA / "example_model.h5", VCF, "-g", GENOME, "-o", tmp_path / "x.h5",
                    *ARGS, *extra)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and words in lines[0], result.stderr
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "x.variant_scores.tsv").exists()


def test_null_total_needs_null(tmp_path):
    result = invoke("variants", CHROMBPNET, VCF, "-g", GENOME, "-o", tmp_path / "x.h5", "--null-total", 5)
    assert result.exit_code == 2 and "--null-total" in result.stderr
