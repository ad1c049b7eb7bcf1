"""Tests of genolift.references against definitions (brute force), not against itself."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

from genolift.errors import ReferencesError
from genolift.references import (
    count_dinucleotide_shuffles,
    degenerate_rows,
    dinucleotide_shuffle,
    gc_background,
    gc_fraction,
    one_hot_to_codes,
    region_seed,
)

LETTERS = "ACGT"


# --------------------------------------------------------------------------
# Helpers written from the definitions
# --------------------------------------------------------------------------


def encode(seq: str) -> np.ndarray:
    """One-hot (L, 4) float32, A C G T; anything else is an all-zero row."""
    out = np.zeros((len(seq), 4), dtype=np.float32)
    for i, c in enumerate(seq):
        if c in LETTERS:
            out[i, LETTERS.index(c)] = 1.0
    return out


def decode(x: np.ndarray) -> str:
    """Inverse of encode, with a strict check that every row is one-hot or zero."""
    chars = []
    for row in np.asarray(x):
        assert set(row.tolist()) <= {0.0, 1.0} and row.sum() <= 1
        chars.append(LETTERS[int(row.argmax())] if row.sum() == 1 else "N")
    return "".join(chars)


def pairs(seq: str) -> Counter:
    """Dinucleotide counts by a plain loop (N counts as a letter here)."""
    c = Counter()
    for i in range(len(seq) - 1):
        c[seq[i:i + 2]] += 1
    return c


def segments(seq: str) -> list[tuple[int, str]]:
    """Maximal ACGT runs as (start, text)."""
    out, i = [], 0
    while i < len(seq):
        if seq[i] == "N":
            i += 1
            continue
        j = i
        while j < len(seq) and seq[j] != "N":
            j += 1
        out.append((i, seq[i:j]))
        i = j
    return out


def brute_shuffles(seq: str) -> set[str]:
    """Every ACGT string with seq's dinucleotide counts, first and last base (DFS)."""
    if len(seq) <= 2:
        return {seq}
    left = Counter(pairs(seq))
    found: set[str] = set()

    def dfs(path: list[str]) -> None:
        if len(path) == len(seq):
            if path[-1] == seq[-1]:
                found.add("".join(path))
            return
        for b in LETTERS:
            key = path[-1] + b
            if left[key] > 0:
                left[key] -= 1
                path.append(b)
                dfs(path)
                path.pop()
                left[key] += 1

    dfs([seq[0]])
    return found


def random_seq(rng: np.random.Generator, length: int, n_frac: float = 0.0) -> str:
    s = "".join(rng.choice(list(LETTERS), size=length))
    if n_frac:
        s = "".join("N" if rng.random() < n_frac else c for c in s)
    return s


def assert_valid_shuffle(orig: str, shuf: str) -> None:
    """Same length, Ns in place, per-segment dinucleotides and end bases kept."""
    assert len(shuf) == len(orig)
    assert [i for i, c in enumerate(shuf) if c == "N"] == [i for i, c in enumerate(orig) if c == "N"]
    assert pairs(shuf) == pairs(orig)
    for start, text in segments(orig):
        part = shuf[start:start + len(text)]
        assert pairs(part) == pairs(text)
        assert part[0] == text[0] and part[-1] == text[-1]


# --------------------------------------------------------------------------
# Dinucleotide shuffle: validity
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
# Uniformity
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
# Exact counts and degenerate rows
# --------------------------------------------------------------------------


def test_count_matches_brute_force():
    rng = np.random.default_rng(2024)
    for length in [6, 7, 8, 9, 10, 11, 12, 12, 12]:
        s = random_seq(rng, length)
        assert count_dinucleotide_shuffles(s) == len(brute_shuffles(s)), s
    for s in ["AAAAAA", "ACGTACGTA", "ATATATA", "GGGCCCGG", "TTTTTTA"]:
        assert count_dinucleotide_shuffles(s) == len(brute_shuffles(s)), s
    assert count_dinucleotide_shuffles("ACCCACGATGATG") == 27
    assert count_dinucleotide_shuffles("ACTGACTGACTG") == 1
    assert count_dinucleotide_shuffles("AC") == 1 and count_dinucleotide_shuffles("") == 1
    a, b = "ACCCACGATGATG", "GATTAG"
    assert count_dinucleotide_shuffles(a + "NN" + b) == 27 * len(brute_shuffles(b))
    assert count_dinucleotide_shuffles("accc" + "acgatgatg") == 27


def test_degenerate_rows():
    seqs = ["ACTGACTGACTG", "ACCCACGATGATG"[:12], "ACGTTGCAAGCT"]
    X = np.stack([encode(s) for s in seqs])
    out = dinucleotide_shuffle(X, 10, seed=0)
    assert np.all(out[0] == X[0])
    assert degenerate_rows(X, out).tolist() == [True, False, False]
    # A row whose shuffles all happen to equal it is not flagged if others exist.
    fake = np.repeat(X[:, None], 10, axis=1)
    assert degenerate_rows(X, fake).tolist() == [True, False, False]


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


def test_region_seed_stable():
    a = region_seed(3, "chr1:100-1100").random(4)
    b = region_seed(3, "chr1:100-1100").random(4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, region_seed(3, "chr1:100-1101").random(4))
    assert not np.array_equal(a, region_seed(4, "chr1:100-1100").random(4))


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
# GC background and helpers
# --------------------------------------------------------------------------


def test_gc_background_values_and_ns():
    X = np.stack([encode("ACGNT"), encode("NNGGA")])
    ref = gc_background(X, 0.4)
    assert ref.shape == (2, 1, 5, 4) and ref.dtype == np.float32
    row = np.array([0.3, 0.2, 0.2, 0.3], np.float32)
    for i, s in enumerate(["ACGNT", "NNGGA"]):
        for j, c in enumerate(s):
            expected = np.zeros(4, np.float32) if c == "N" else row
            np.testing.assert_allclose(ref[i, 0, j], expected, rtol=1e-6)


def test_gc_fraction():
    X = np.stack([encode("ACGNT"), encode("NNGGA")])
    assert gc_fraction(X) == pytest.approx(4 / 7)
    with pytest.raises(ReferencesError):
        gc_fraction(np.stack([encode("NNN")]))


def test_one_hot_to_codes():
    assert one_hot_to_codes(encode("ACGTN")).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("gc", [0.0, 1.0, -0.1, 1.5, "x", None])
def test_gc_background_rejects_bad_gc(gc):
    with pytest.raises(ReferencesError):
        gc_background(np.stack([encode("ACGT")]), gc)


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
    with pytest.raises(ReferencesError):
        degenerate_rows(X, X)
    with pytest.raises(ValueError):  # ReferencesError is also a ValueError
        dinucleotide_shuffle(X, 0)
