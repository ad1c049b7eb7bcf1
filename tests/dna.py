"""DNA written from the definitions, for the reference tests: encoding by loops, dinucleotide
counts, ACGT segments and every valid shuffle by brute force (no genolift code)."""

from __future__ import annotations

from collections import Counter

import numpy as np

LETTERS = "ACGT"


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
