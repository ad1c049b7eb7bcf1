"""``genolift variants``: the variant effect decomposed per base, checked against Keras and the genome.

The headline property: per variant, Σ_l Σ_b (C_alt − C_ref) = t(alt) − t(ref) with t from Keras's own
``predict`` on the two windows, to float32 round-off, on SNVs, MNVs, insertions and deletions, for a
task head and a BPNet-like profile head.  Windows are rebuilt from the genome through pyfaidx, and
the variants' fields from the VCF text, not from genolift's own reading.
"""

from __future__ import annotations

import gzip

import h5py
import numpy as np
import pyfaidx
import pytest
from click.testing import CliRunner

from genolift.cli.main import cli
from genolift.variants import alt_on_reference

from .conftest import TEST_DATA
from .dna import decode
from .helpers import assert_sums_to_delta
from .test_variants_input import VCF_HEADER, expected_from_vcf_text

MODEL = TEST_DATA / "example_model.h5"
BPNET = TEST_DATA / "bpnet_like.h5"
GENOME = TEST_DATA / "example_genome.fa"
VCF = TEST_DATA / "example_variants.vcf"
K = 4
ARGS = ["-k", str(K), "--chunk-size", "8", "--batch-size", "32", "-q"]
TOL = 1e-5


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def run(out, *extra, model=MODEL, variants=VCF):
    result = invoke("variants", model, variants, "-g", GENOME, "-o", out, *ARGS, *extra)
    assert result.exit_code == 0, result.output + str(result.exception)
    return out


def read(path) -> dict:
    with h5py.File(path, "r") as f:
        data = {name: f[name][()] for name in f}
    for name, values in data.items():
        if values.dtype == object:
            data[name] = np.array([v.decode() if isinstance(v, bytes) else v for v in values])
    return data


def assert_same_datasets(a, b, skip=()):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert sorted(fa) == sorted(fb)
        for name in fa:
            if name not in skip:
                assert np.array_equal(fa[name][()], fb[name][()]), name


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants") / "example.h5"
    return run(out, "--bigwig", out.with_name("tracks"))


@pytest.fixture(scope="module")
def bpnet(tmp_path_factory):
    return run(tmp_path_factory.mktemp("bpnet") / "bpnet.h5", model=BPNET)


@pytest.fixture(scope="module")
def keras_target():
    """t(X) from Keras: the example model's task-0 logit, the BPNet-like profile target (float64)."""
    import keras

    def example_logit(X):
        model = keras.saving.load_model(TEST_DATA / "example_model.keras", compile=False)
        head = model.get_layer("output")
        hidden = keras.Model(model.inputs, head.input).predict(X, verbose=0).astype(np.float64)
        kernel, bias = (w.astype(np.float64) for w in head.get_weights())
        return hidden @ kernel[:, 0] + bias[0]

    def profile_target(X):
        model = keras.saving.load_model(TEST_DATA / "bpnet_like.keras", compile=False)
        z = model.predict(X, verbose=0)[0].astype(np.float64).reshape(len(X), -1)
        z = z - z.mean(axis=1, keepdims=True)
        w = np.exp(z - z.max(axis=1, keepdims=True))
        return (z * w / w.sum(axis=1, keepdims=True)).sum(axis=1)

    return {"example": example_logit, "bpnet": profile_target}


def kinds(d) -> dict[str, np.ndarray]:
    rl, al = np.char.str_len(d["variant_ref"]), np.char.str_len(d["variant_alt"])
    return {"snv": (rl == 1) & (al == 1), "mnv": (rl == al) & (rl > 1), "insertion": al > rl, "deletion": al < rl}


# ----------------------------------------------------------------------------- the headline property


@pytest.mark.parametrize("name", ["example", "bpnet"])
def test_difference_sums_to_the_keras_effect(name, example, bpnet, keras_target):
    d = read({"example": example, "bpnet": bpnet}[name])
    t_ref, t_alt = keras_target[name](d["ref_seqs"]), keras_target[name](d["alt_seqs"])
    effect = t_alt - t_ref
    summed = (d["alt_contrib_scores"].astype(np.float64) - d["ref_contrib_scores"]).sum(axis=(1, 2))
    for kind, rows in kinds(d).items():
        assert rows.any(), kind
        err = np.abs(summed[rows] - effect[rows])
        assert np.all(err <= TOL * (1 + np.abs(effect[rows]))), (kind, err.max())
    assert np.abs(effect).max() > 100 * TOL  # the variants change the target by far more than the tolerance
    np.testing.assert_allclose(d["ref_predictions"], t_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d["alt_predictions"], t_alt, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(d["effect"], d["alt_predictions"] - d["ref_predictions"])


@pytest.mark.parametrize("name", ["example", "bpnet"])
def test_each_allele_sums_to_delta_against_the_shared_references(name, example, bpnet):
    d = read({"example": example, "bpnet": bpnet}[name])
    assert d["reference_predictions"].shape == (len(d["effect"]), K)
    for allele in ("ref", "alt"):
        np.testing.assert_array_equal(d[f"{allele}_contrib_scores"], d[f"{allele}_hyp_scores"] * d[f"{allele}_seqs"])
        assert_sums_to_delta(d[f"{allele}_contrib_scores"], d[f"{allele}_predictions"], d["reference_predictions"],
                             d[f"{allele}_deltas"])


def test_references_are_shuffles_of_the_reference_window_seeded_by_the_variant(example, keras_target):
    from genolift.references import dinucleotide_shuffle

    d = read(example)
    keys = [f"{c}:{p}:{r}>{a}" for c, p, r, a in zip(d["variant_chrom"], d["variant_pos"], d["variant_ref"],
                                                       d["variant_alt"])]
    refs = dinucleotide_shuffle(d["ref_seqs"], K, seed=0, keys=keys)
    t = keras_target["example"](refs.reshape(-1, *refs.shape[2:])).reshape(len(keys), K)
    np.testing.assert_allclose(d["reference_predictions"], t, rtol=1e-5, atol=1e-5)


def test_gc_background_is_shared_too(tmp_path, keras_target):
    d = read(run(tmp_path / "gc.h5", "--reference", "gc", "--gc", "0.42"))
    effect = keras_target["example"](d["alt_seqs"]) - keras_target["example"](d["ref_seqs"])
    summed = (d["alt_contrib_scores"].astype(np.float64) - d["ref_contrib_scores"]).sum(axis=(1, 2))
    assert np.all(np.abs(summed - effect) <= TOL * (1 + np.abs(effect)))
    assert d["reference_predictions"].shape == (len(effect), 1)


# ----------------------------------------------------------------------------- windows and fields


def expected_alleles(fa, chrom: str, pos: int, ref: str, alt: str, length: int) -> tuple[str, str]:
    """Both windows from the genome text: [p − L//2, +L) and the same left flank + ALT + right flank, L bases."""
    p, h = pos - 1, length // 2
    seq = fa[chrom]
    assert p - h >= 0 and p + len(ref) + length <= len(seq)
    return seq[p - h:p - h + length], (seq[p - h:p] + alt + seq[p + len(ref):p + len(ref) + length])[:length]


@pytest.mark.parametrize("name", ["example", "bpnet"])
def test_windows_base_by_base_against_the_genome(name, example, bpnet):
    d = read({"example": example, "bpnet": bpnet}[name])
    length, h = d["ref_seqs"].shape[1], d["ref_seqs"].shape[1] // 2
    rows = expected_from_vcf_text(VCF)
    assert [tuple(r) for r in zip(d["variant_chrom"], d["variant_pos"], d["variant_id"], d["variant_ref"],
                                  d["variant_alt"], d["variant_line"])] == rows
    fa = pyfaidx.Fasta(str(GENOME), as_raw=True, sequence_always_upper=True)
    try:
        for i, (chrom, pos, name_, ref, alt, line) in enumerate(rows):
            want_ref, want_alt = expected_alleles(fa, chrom, pos, ref, alt, length)
            got_ref, got_alt = decode(d["ref_seqs"][i]), decode(d["alt_seqs"][i])
            assert got_ref == want_ref and got_ref[h:h + len(ref)] == ref, name_
            assert got_alt == want_alt and got_alt[h:h + len(alt)] == alt, name_
            assert (d["coords_chrom"][i], d["coords_start"][i], d["coords_end"][i]) == (chrom, pos - 1 - h,
                                                                                      pos - 1 - h + length)
            assert (d["coords_name"][i], d["region_line"][i]) == (name_, line)
            assert (d["allele_start"][i], d["ref_len"][i], d["alt_len"][i], d["shift"][i]) == (
                h, len(ref), len(alt), len(alt) - len(ref))
    finally:
        fa.close()


def test_gzip_vcf_and_tsv_give_the_same_rows(example, tmp_path):
    gz = run(tmp_path / "gz.h5", variants=TEST_DATA / "example_variants.vcf.gz")
    tsv = run(tmp_path / "tsv.h5", variants=TEST_DATA / "example_variants.tsv")
    for other, skip in ((gz, ()), (tsv, ("variant_line", "region_line"))):
        assert_same_datasets(example, other, skip)
    assert list(read(tsv)["variant_line"]) == list(range(3, 3 + len(read(example)["effect"])))


# ----------------------------------------------------------------------------- alignment and bigWig


def on_reference_by_definition(alt: np.ndarray, h: int, rl: int, al: int) -> np.ndarray:
    """alt (L,) on reference positions, position by position from the documented rule."""
    length, out = len(alt), np.zeros(len(alt))
    for j in range(length):
        if j < h + min(rl, al):
            out[j] = alt[j]
        elif j >= h + rl and j + al - rl < length:
            out[j] = alt[j + al - rl]
    if al > rl and h + rl - 1 < length:
        out[h + rl - 1] += alt[h + rl:h + al].sum()
    return out


@pytest.mark.parametrize("rl,al", [(1, 1), (3, 3), (1, 4), (4, 1), (2, 5), (1, 9), (9, 2)])
def test_alt_on_reference_follows_the_alignment(rl, al):
    length, h = 12, 6
    alt = np.arange(1.0, length + 1)
    got = alt_on_reference(alt[None], np.array([h]), np.array([rl]), np.array([al]))[0]
    np.testing.assert_array_equal(got, on_reference_by_definition(alt, h, rl, al))


def test_alt_window_maps_back_onto_the_reference_window(example):
    d = read(example)
    mapped = alt_on_reference(d["alt_seqs"], d["allele_start"], d["ref_len"], d["alt_len"])
    for i, (h, rl, shift) in enumerate(zip(d["allele_start"], d["ref_len"], d["shift"])):
        length = d["ref_seqs"].shape[1]
        right = slice(h + rl, min(length, length - shift))
        np.testing.assert_array_equal(mapped[i, :h], d["ref_seqs"][i, :h])
        np.testing.assert_array_equal(mapped[i, right], d["ref_seqs"][i, right])


def test_bigwig_tracks(example):
    import pyBigWig

    d = read(example)
    ref = d["ref_contrib_scores"].sum(axis=-1)
    alt = np.stack([on_reference_by_definition(a, h, rl, al) for a, h, rl, al in
                    zip(d["alt_contrib_scores"].sum(axis=-1), d["allele_start"], d["ref_len"], d["alt_len"])])
    first = {}
    for i, key in enumerate(zip(d["coords_chrom"], d["coords_start"])):
        first.setdefault(key, i)  # split ALT alleles share a window: the first row owns it
    tracks = {t: pyBigWig.open(str(example.with_name(f"tracks.{t}.bw"))) for t in ("delta", "ref", "alt")}
    try:
        for (chrom, start), i in first.items():
            end = int(d["coords_end"][i])
            for track, want in (("ref", ref[i]), ("alt", alt[i]), ("delta", alt[i] - ref[i])):
                got = np.array(tracks[track].values(chrom, int(start), end))
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"{track} row {i}")
    finally:
        for bw in tracks.values():
            bw.close()


# ----------------------------------------------------------------------------- shards, resume, plot


def test_shards_merge_to_the_plain_run(example, tmp_path):
    shards = [run(tmp_path / f"s{i}.h5", "--shard", f"{i}/3") for i in range(3)]
    merged = tmp_path / "merged.h5"
    result = invoke("merge", shards[2], shards[0], shards[1], "-o", merged)
    assert result.exit_code == 0, result.output
    assert_same_datasets(example, merged)
    with h5py.File(merged, "r") as f:
        assert f.attrs["command"] == "variants"


@pytest.mark.slow
def test_kill_then_resume_is_identical(example, tmp_path):
    import signal
    import subprocess
    import sys

    from .running import start_and_wait_for_parts

    out = tmp_path / "killed.h5"
    args = ["variants", MODEL, VCF, "-g", GENOME, "-o", out, "--bigwig", tmp_path / "tracks", *ARGS]
    proc = start_and_wait_for_parts(args, out, parts=1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    resumed = subprocess.run([sys.executable, "-m", "genolift", *map(str, args), "--resume"], capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_datasets(example, out)
    assert (tmp_path / "tracks.delta.bw").exists()


def test_plot_variant(example, tmp_path):
    from genolift.plot_variants import plot_variant

    d = read(example)
    drawn = plot_variant(example, tmp_path / "snv.png", "var_0")
    assert (tmp_path / "snv.png").stat().st_size > 1000
    np.testing.assert_allclose(drawn.delta.sum(), d["effect"][0], atol=TOL * (1 + abs(d["effect"][0])))
    key = invoke("plot", example, "--variant", "chr1:8627:CT>C", "--window", "80:120", "-o", tmp_path / "del.png")
    assert key.exit_code == 0 and (tmp_path / "del.png").exists()
    missing = invoke("plot", example, "--variant", "nope", "-o", tmp_path / "x.png")
    assert missing.exit_code == 1 and len(missing.stderr.strip().splitlines()) == 1 and "nope" in missing.stderr


# ----------------------------------------------------------------------------- bad input: one line


@pytest.mark.parametrize("header,body,words", [
    ("", "chr1\t2499\tv\tC\tT\t.\tPASS\t.\n", "header"),
    ("##fileformat=VCFv4.2\n", "chr1\t2499\tv\tC\tT\t.\tPASS\t.\n", "header"),
    (VCF_HEADER, "chr3\t100001\tv\tA\tG\t.\tPASS\t.\n", "beyond the end"),
    (VCF_HEADER, "chr1\t2499\tv\tG\tT\t.\tPASS\t.\n", "--ref-mismatch skip"),
    (VCF_HEADER, "chr1\t2499\tv\tC\tR\t.\tPASS\t.\n", "A, C, G, T and N"),
    (VCF_HEADER, "chrX\t2499\tv\tC\tT\t.\tPASS\t.\n", "chrX"),
])
def test_bad_input_is_one_line(tmp_path, header, body, words):
    path = tmp_path / "bad.vcf"
    path.write_text(header + body)
    result = invoke("variants", MODEL, path, "-g", GENOME, "-o", tmp_path / "out.h5", *ARGS)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("genolift: error"), result.stderr
    assert words in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "out.h5").exists()


def test_ref_mismatch_skip_counts(tmp_path):
    lines = VCF.read_text().splitlines(True)
    body = [line for line in lines if not line.startswith("#")]
    wrong = body[0].replace("\tC\tT\t", "\tG\tT\t")
    path = tmp_path / "mixed.vcf.gz"
    path.write_bytes(gzip.compress("".join([*[x for x in lines if x.startswith("#")], wrong, *body[1:]]).encode()))
    out = tmp_path / "skip.h5"
    result = invoke("variants", MODEL, path, "-g", GENOME, "-o", out, "--ref-mismatch", "skip", *ARGS)
    assert result.exit_code == 0 and "1 variant(s) whose REF differs" in result.stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["skipped_ref_mismatch"] == 1 and f["effect"].shape == (18,)


@pytest.mark.parametrize("allele", ["ref", "alt"])
def test_export_one_allele_in_the_chrombpnet_layout(example, tmp_path, allele):
    """Each allele goes to chrombpnet's layout (Fi-NeMo's extract-regions-chrombpnet-h5 reads it): the allele's
    arrays transposed to (N, 4, L), rows the variants, with the regions file of the reference windows."""
    out = tmp_path / f"{allele}.chrombpnet.h5"
    result = invoke("export", example, "--to", "chrombpnet", "--allele", allele, "-o", out)
    assert result.exit_code == 0, result.output
    d = read(example)
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["raw/seq"][()], d[f"{allele}_seqs"].transpose(0, 2, 1).astype(np.int8))
        np.testing.assert_array_equal(f["shap/seq"][()], d[f"{allele}_hyp_scores"].transpose(0, 2, 1))
        np.testing.assert_array_equal(f["projected_shap/seq"][()], d[f"{allele}_contrib_scores"].transpose(0, 2, 1))
    if allele == "alt":  # the alleles differ at the variants
        assert not np.array_equal(d["ref_seqs"], d["alt_seqs"])


def test_export_of_a_variants_file_needs_an_allele(example, tmp_path):
    result = invoke("export", example, "--to", "chrombpnet", "-o", tmp_path / "x.h5")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("genolift:")]
    assert len(lines) == 1 and "--allele ref|alt" in lines[0]
