"""Tests of genolift.references.dinucleotide_shuffle against definitions (brute force), not against itself."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

import numpy as np
import pytest

import genolift.references.shuffle as shuffle_module
from genolift.errors import ReferencesError
from genolift.references import count_dinucleotide_shuffles, dinucleotide_shuffle

from .dna import assert_valid_shuffle, brute_shuffles, decode, encode, random_seq

# --------------------------------------------------------------------------
# Validity
# --------------------------------------------------------------------------


@pytest.mark.parametrize("length", [3, 4, 7, 20, 101, 500])
@pytest.mark.parametrize("n_frac", [0.0, 0.1])
def test_shuffles_keep_dinucleotides_and_ends(length, n_frac):
    rng = np.random.default_rng(length)
    seqs = [random_seq(rng, length, n_frac) for _ in range(6)]
    X = np.stack([encode(s) for s in seqs])
    out = dinucleotide_shuffle(X, 7, seed=3)
    assert out.shape == (6, 7, length, 4) and out.dtype == np.float32
    for i, s in enumerate(seqs):
        for j in range(7):
            assert_valid_shuffle(s, decode(out[i, j]))


def test_shuffles_actually_shuffle():
    rng = np.random.default_rng(5)
    s = random_seq(rng, 200)
    out = dinucleotide_shuffle(encode(s)[None], 10, seed=0)
    shuffled = {decode(x) for x in out[0]}
    assert len(shuffled) == 10 and s not in shuffled


def test_many_segments_and_edge_cases():
    rng = np.random.default_rng(11)
    # 100 short segments in one row, mixed with rows of different shapes.
    many = "".join(random_seq(rng, 2) + "N" for _ in range(100))[:300]
    seqs = [many, "N" * 300, "A" * 300, "AC" * 150, random_seq(rng, 300, 0.3),
            "NN" + random_seq(rng, 296) + "NN"]
    X = np.stack([encode(s) for s in seqs])
    out = dinucleotide_shuffle(X, 4, seed=1)
    for i, s in enumerate(seqs):
        for j in range(4):
            assert_valid_shuffle(s, decode(out[i, j]))
    long_run = "N" + "".join(random_seq(rng, 5) + "N" for _ in range(60))
    out = dinucleotide_shuffle(encode(long_run)[None], 3, seed=2)
    for j in range(3):
        assert_valid_shuffle(long_run, decode(out[0, j]))


def test_single_sequence_and_short_inputs():
    out = dinucleotide_shuffle(encode("ACGTTGCA"), 5, seed=0)
    assert out.shape == (5, 8, 4)
    for x in out:
        assert_valid_shuffle("ACGTTGCA", decode(x))
    for s in ["A", "AC", "NA"]:
        out = dinucleotide_shuffle(encode(s)[None], 3)
        assert out.shape == (1, 3, len(s), 4)
        assert all(decode(x) == s for x in out[0])
    assert dinucleotide_shuffle(np.zeros((0, 10, 4), np.float32), 2).shape == (0, 2, 10, 4)


# --------------------------------------------------------------------------
# Uniformity (statistical tests with fixed seeds: the outcome is deterministic)
# --------------------------------------------------------------------------


def chi_square_ok(counts: list[int], crit_001: float) -> bool:
    try:
        from scipy.stats import chisquare
    except ImportError:
        expected = sum(counts) / len(counts)
        stat = sum((c - expected) ** 2 / expected for c in counts)
        return stat < crit_001
    return chisquare(counts).pvalue > 0.001


def test_uniform_over_all_27_shuffles():
    seq = "ACCCACGATGATG"
    valid = brute_shuffles(seq)
    assert len(valid) == 27
    out = dinucleotide_shuffle(encode(seq)[None], 5400, seed=7)
    drawn = Counter(decode(x) for x in out[0])
    assert set(drawn) == valid
    assert chi_square_ok([drawn[s] for s in sorted(valid)], 54.05)


def test_uniform_when_arborescence_weights_differ():
    # The last-exit arborescences of this sequence have multiplicity products
    # 1, 1, 2, 2, 4 and 4: drawing them without those weights is far from uniform.
    seq = "TGATCACGCGA"
    valid = brute_shuffles(seq)
    assert len(valid) == 28
    out = dinucleotide_shuffle(encode(seq)[None], 4200, seed=11)
    drawn = Counter(decode(x) for x in out[0])
    assert set(drawn) == valid
    # 55.48 is the 0.001 critical value of chi-square with 27 degrees of freedom.
    assert chi_square_ok([drawn[s] for s in sorted(valid)], 55.48)


def test_uniform_with_ns_and_first_equals_last():
    seq = "ACAGCATTACANCATCAGC"
    valid = {a + "N" + b for a in brute_shuffles("ACAGCATTACA") for b in brute_shuffles("CATCAGC")}
    assert len(valid) == count_dinucleotide_shuffles(seq)
    keys = [f"chr{i}:{i}-{i + 19}" for i in range(150)]
    X = np.repeat(encode(seq)[None], 150, axis=0)
    out = dinucleotide_shuffle(X, 40, seed=4, keys=keys)
    drawn = Counter(decode(x) for x in out.reshape(-1, len(seq), 4))
    assert set(drawn) == valid
    # 49.73 is the 0.001 critical value of chi-square with 23 degrees of freedom.
    assert len(valid) == 24
    assert chi_square_ok([drawn[s] for s in sorted(valid)], 49.73)


# --------------------------------------------------------------------------
# Determinism and independence from batch composition
# --------------------------------------------------------------------------


def test_deterministic_and_seed_dependent():
    rng = np.random.default_rng(0)
    X = np.stack([encode(random_seq(rng, 300, 0.02)) for _ in range(5)])
    a = dinucleotide_shuffle(X, 6, seed=9)
    b = dinucleotide_shuffle(X, 6, seed=9)
    c = dinucleotide_shuffle(X, 6, seed=10)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert dinucleotide_shuffle(X, 6, seed=9, keys=[str(i) for i in range(5)]).tobytes() == a.tobytes()


def test_row_independent_of_batch():
    rng = np.random.default_rng(1)
    target = random_seq(rng, 250, 0.05)
    others = [random_seq(rng, 250, f) for f in (0.0, 0.3, 0.0)] + ["N" * 250]
    key = "chr2:1000-1250"
    alone = dinucleotide_shuffle(encode(target)[None], 8, seed=5, keys=[key])
    batch = np.stack([encode(s) for s in others[:2] + [target] + others[2:]])
    keys = ["chr1:0-250", "chr1:250-500", key, "chr3:5-255", "chr9:0-250"]
    inside = dinucleotide_shuffle(batch, 8, seed=5, keys=keys)
    assert inside[2].tobytes() == alone[0].tobytes()
    moved = dinucleotide_shuffle(batch[[2, 0]], 8, seed=5, keys=[key, "x"])
    assert moved[0].tobytes() == alone[0].tobytes()


# Shuffles drawn for a fixed seed, pinned so that no change of the walk, the draws or the per-region
# seeding alters a user's references silently: same seed, same bytes, across versions.
PINNED_SHORT = {
    ("ACGTTGCAAGCTAGCTTACG", "chr1:0-20"): ["ACAAGTTACTTGCTAGCGCG", "AGCGCTACGCTTAACAGTTG", "ACTTAGTTAACAGCGCTGCG"],
    ("ACGNNTTGCAGGCATTAGCA", "chr1:20-40"): ["ACGNNTTTATGCAGGCAGCA", "ACGNNTTTAGCATGGCAGCA", "ACGNNTGGCAGCATTTAGCA"],
    ("GATTACAGATTACAGATTAC", "chrX:5-25"): ["GATTAGACACATTTATAGAC", "GAGACATTAGATACATTTAC", "GATAGAGATACACATTTTAC"],
}
#: SHA-256 of dinucleotide_shuffle(big, 5, seed=123, ...) with region keys, and with the default keys.
PINNED_BIG_KEYED = "1f25ef2978cece3498e5d74ccd669eb8981b43af22ddad8a18fc0dc46fcd76c7"
PINNED_BIG_DEFAULT = "f578c28396b024eb2301042327445e7285368fefb8acd2cf4c8a9489a2b4c64d"


def big_batch() -> tuple[np.ndarray, list[str]]:
    """20 windows of 500 bases with about 3% N, and their region keys."""
    rng = np.random.default_rng(12)
    X = np.stack([encode(random_seq(rng, 500, 0.03)) for _ in range(20)])
    return X, [f"chr2:{500 * i}-{500 * i + 500}" for i in range(20)]


def test_pinned_shuffles_for_a_fixed_seed():
    seqs, keys = zip(*PINNED_SHORT)
    out = dinucleotide_shuffle(np.stack([encode(s) for s in seqs]), 3, seed=7, keys=list(keys))
    for i, expected in enumerate(PINNED_SHORT.values()):
        assert [decode(x) for x in out[i]] == expected
    X, keys = big_batch()
    assert hashlib.sha256(dinucleotide_shuffle(X, 5, seed=123, keys=keys).tobytes()).hexdigest() == PINNED_BIG_KEYED
    assert hashlib.sha256(dinucleotide_shuffle(X, 5, seed=123).tobytes()).hexdigest() == PINNED_BIG_DEFAULT


def test_same_bytes_whatever_the_chunking(monkeypatch):
    """Rows shuffled one chunk at a time, and uniforms gathered in small groups, give the same bytes."""
    X, keys = big_batch()
    monkeypatch.setattr(shuffle_module, "_CHUNK_WALK_BASES", 1)
    monkeypatch.setattr(shuffle_module, "_UNIFORM_GROUP", 3)
    assert hashlib.sha256(dinucleotide_shuffle(X, 5, seed=123, keys=keys).tobytes()).hexdigest() == PINNED_BIG_KEYED


def test_pathological_sequence_terminates_and_is_valid():
    """A sequence with one valid shuffle must not send the walk into endless rejections: it ends
    (a generous bound against a hang, not a timing test) and gives the sequence itself."""
    seq = "AC" * 100 + "G"
    box = []
    worker = threading.Thread(target=lambda: box.append(dinucleotide_shuffle(encode(seq)[None], 20, seed=0)),
                              daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert box, "dinucleotide_shuffle did not finish on a sequence with a single valid shuffle"
    out = box[0]
    for x in out[0]:
        assert_valid_shuffle(seq, decode(x))
    # C's last exit must be C->G, so the sequence is its only shuffle.
    assert count_dinucleotide_shuffles(seq) == 1
    seq2 = "AC" * 100 + "GT" + "AC" * 5 + "G"
    out = dinucleotide_shuffle(encode(seq2)[None], 20, seed=0)
    for x in out[0]:
        assert_valid_shuffle(seq2, decode(x))


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------


def test_errors():
    X = np.stack([encode("ACGTACGT")])
    for k in [0, -1, 2.5, True]:
        with pytest.raises(ReferencesError):
            dinucleotide_shuffle(X, k)
    with pytest.raises(ReferencesError):
        dinucleotide_shuffle(X[..., :3], 2)
    with pytest.raises(ReferencesError):
        dinucleotide_shuffle(X * 0.5, 2)
    with pytest.raises(ReferencesError):
        dinucleotide_shuffle(X, 2, keys=["a", "b"])
    with pytest.raises(ReferencesError):
        dinucleotide_shuffle(X, 2, seed=-1)
    with pytest.raises(ValueError):  # ReferencesError is also a ValueError
        dinucleotide_shuffle(X, 0)


# --------------------------------------------------------------------------
# The compiled walk, the per-region streams and the code-level entry point
# --------------------------------------------------------------------------


def sha_words(key: str) -> list[int]:
    return np.frombuffer(hashlib.sha256(key.encode("utf-8")).digest(), dtype="<u4").tolist()


@pytest.mark.parametrize("seed", [0, 1, 7, 2**31, 2**32 - 1, 2**32, 2**40 + 5, 2**64 - 1, 2**64, 2**100 + 12345])
def test_region_streams_are_numpys_default_rng(seed):
    """The generators seeded per region (built from their PCG64 state) are default_rng([seed, *words])."""
    from genolift.references import region_seed
    from genolift.references.seeding import region_generators

    keys = ["chr1:0-20", "", "chrÜ:3-9", "x" * 200, "chr2:1000-1250"]
    streams = []
    for rng in region_generators(seed, keys):  # one object re-seeded per key: draw before the next
        streams.append((rng.integers(0, np.array([[5], [10**12]]), size=(2, 3), dtype=np.int64), rng.random((7, 3))))
    for key, (ints, uniforms) in zip(keys, streams):
        for rng in (np.random.default_rng([seed, *sha_words(key)]), region_seed(seed, key)):
            assert np.array_equal(rng.integers(0, np.array([[5], [10**12]]), size=(2, 3), dtype=np.int64), ints)
            assert np.array_equal(rng.random((7, 3)), uniforms)


def test_scalar_and_array_bounds_draw_alike():
    """A row with one segment draws its arborescences with a scalar bound: numpy must give the same stream."""
    for tau in [1, 2, 3, 7, 1000, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**50, 2**62]:
        for k in [1, 2, 5, 10]:
            a, b = np.random.default_rng([tau, k]), np.random.default_rng([tau, k])
            assert np.array_equal(a.integers(0, tau, size=k, dtype=np.int64),
                                  b.integers(0, np.array([[tau]]), size=(1, k), dtype=np.int64)[0])
            assert np.array_equal(a.random(5), b.random(5))


def test_long_rows_with_ns_keep_counts_ends_and_ns():
    """Rows of 1000 bases with scattered Ns, runs of N and N ends, checked against the definitions."""
    rng = np.random.default_rng(21)
    seqs = [random_seq(rng, 1000, f) for f in (0.0, 0.01, 0.2)]
    seqs.append("N" * 10 + random_seq(rng, 400) + "N" * 190 + random_seq(rng, 399) + "N")
    seqs.append("".join(random_seq(rng, 3) + "N" for _ in range(250)))
    out = dinucleotide_shuffle(np.stack([encode(s) for s in seqs]), 6, seed=8)
    for i, s in enumerate(seqs):
        for j in range(6):
            assert_valid_shuffle(s, decode(out[i, j]))


def test_shuffle_codes_is_the_one_hot_shuffle():
    from genolift.references import shuffle_codes
    from genolift.sequences import codes_to_one_hot, one_hot_to_codes

    X, keys = big_batch()
    codes = one_hot_to_codes(X)
    out = shuffle_codes(codes, 5, seed=123, keys=keys)
    assert out.shape == (20, 5, 500) and out.dtype == np.int8
    assert hashlib.sha256(codes_to_one_hot(out).tobytes()).hexdigest() == PINNED_BIG_KEYED
    assert np.array_equal(shuffle_codes(codes.astype(np.int64), 5, seed=123, keys=keys), out)
    assert shuffle_codes(codes[:, :2], 3).shape == (20, 3, 2)
    for bad in [codes[None], codes.astype(np.float32), np.full((2, 5), 5), np.full((2, 5), -1)]:
        with pytest.raises(ReferencesError):
            shuffle_codes(bad, 2)


def test_threads_give_the_same_bytes():
    """The kernels release the GIL and keep no shared state: shuffling parts in threads changes nothing."""
    from concurrent.futures import ThreadPoolExecutor

    X, keys = big_batch()
    parts = [(0, 7), (7, 8), (8, 20)]
    with ThreadPoolExecutor(3) as pool:
        done = [pool.submit(dinucleotide_shuffle, X[a:b], 5, 123, keys[a:b]) for a, b in parts]
        out = np.concatenate([d.result() for d in done])
    assert hashlib.sha256(out.tobytes()).hexdigest() == PINNED_BIG_KEYED


def test_importing_the_package_does_not_load_numba():
    import subprocess
    import sys

    code = "import sys, genolift, genolift.references; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_codes_to_one_hot_is_the_table():
    from genolift.sequences import codes_to_one_hot

    table = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])
    rng = np.random.default_rng(3)
    for shape in [(), (0,), (3,), (2, 0, 4), (2, 5, 7), (100_003,)]:
        codes = rng.integers(0, 5, size=shape).astype(np.int8)
        for c in (codes, codes.astype(np.int64), codes.T):
            out = codes_to_one_hot(c)
            assert out.shape == c.shape + (4,) and out.dtype == np.float32 and out.flags.writeable
            assert np.array_equal(out, table[c])
    for bad in ([5], [-1]):
        with pytest.raises(IndexError):
            codes_to_one_hot(np.array(bad))


def test_one_hot_input_of_any_real_dtype_and_layout():
    X, keys = big_batch()
    expected = dinucleotide_shuffle(X, 2, seed=4, keys=keys)
    signed_zeros = np.where(X == 0, np.float32(-0.0), X)
    for Y in [X.astype(np.float64), X.astype(np.int32), X.astype(bool), X.astype(np.float16), signed_zeros,
              np.asfortranarray(X)]:
        assert np.array_equal(dinucleotide_shuffle(Y, 2, seed=4, keys=keys), expected)
    flipped = dinucleotide_shuffle(X[:, ::-1], 2, seed=4, keys=keys)
    assert np.array_equal(flipped, dinucleotide_shuffle(X[:, ::-1].copy(), 2, seed=4, keys=keys))
    for bad in [np.where(X == 0, np.nan, X), X - 1, X.astype(np.complex64), X.astype(object)]:
        with pytest.raises(ReferencesError):
            dinucleotide_shuffle(bad, 2)


def _shuffle_in_a_process(env: dict) -> list:
    """Run a shuffle in a fresh process under ``env``; the kernels' cache folders it used."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, numpy as np\n"
        "from numba.core import config\n"
        "from genolift.references import dinucleotide_shuffle, walk, codes, arborescences\n"
        "x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, 50)][None]\n"
        "dinucleotide_shuffle(x, 3, seed=1)\n"
        "mods = (walk, codes, arborescences)\n"
        "paths = {f._cache._cache_path for m in mods for f in vars(m).values() if hasattr(f, '_cache')}\n"
        "print(json.dumps([config.CACHE_DIR, sorted(paths)]))\n"
    )
    full = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | env
    done = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_kernels_cache_outside_the_package_folder(tmp_path):
    """numba's cache files are not the package's: next to installed sources they outlive an uninstall."""
    from pathlib import Path

    import genolift.references

    package = Path(genolift.references.__file__).parent
    before = {p: p.stat().st_mtime_ns for p in package.rglob("*.nb[ic]")}
    import numba

    setting, paths = _shuffle_in_a_process({"GENOLIFT_CACHE_DIR": str(tmp_path / "g")})
    assert setting == "", "numba's own setting must be left as it was"
    versions = tmp_path / "g" / "numba" / f"genolift-{genolift.__version__}-numba-{numba.__version__}"
    assert len(paths) == 1 and Path(paths[0]).parent == versions
    assert versions.stat().st_mode & 0o077 == 0, "the pickles' folder must be the user's only"
    assert list(versions.rglob("*.nbi")), "nothing was cached"
    assert {p: p.stat().st_mtime_ns for p in package.rglob("*.nb[ic]")} == before

    setting, paths = _shuffle_in_a_process({"GENOLIFT_CACHE_DIR": str(tmp_path / "h"),
                                            "NUMBA_CACHE_DIR": str(tmp_path / "user")})
    assert setting == str(tmp_path / "user") and Path(paths[0]).parent == tmp_path / "user"
    assert list((tmp_path / "user").rglob("*.nbi")) and not (tmp_path / "h" / "numba").exists()


def test_kernels_compile_where_no_cache_directory_is_writable(tmp_path, monkeypatch):
    """A cache folder that cannot be made: the kernel is compiled in the process, cached nowhere else."""
    from numba.core.caching import NullCache

    from genolift.references import jit

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("GENOLIFT_CACHE_DIR", str(blocked))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(jit.config, "CACHE_DIR", "")
    compiled = jit.kernel(lambda x: x + 1)
    assert compiled(1) == 2 and isinstance(compiled._cache, NullCache)
