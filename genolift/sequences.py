"""Sequences: the alphabet, letter codes, one-hot encoding, reverse complement, genome access.

This module is the one home of the alphabet: one-hot arrays are float32 of
shape (L, 4) or (N, L, 4), channels last in the order of :data:`ALPHABET`
(A, C, G, T).  Lowercase (soft-masked) bases are encoded like uppercase; N and
every other letter (IUPAC ambiguity codes included) become an all-zero row.
Letter codes are small integers, 0..3 for A, C, G, T and :data:`N_CODE` for N.
The genome FASTA is read through pyfaidx.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import GenomeError, ReferencesError, RegionError
from .regions import Window

ALPHABET = "ACGT"
#: Letter code of N (and of every other non-ACGT letter): one past the alphabet.
N_CODE = len(ALPHABET)
OFF_EDGE_POLICIES = ("skip", "pad", "fail")

_LOOKUP = np.full(256, N_CODE, dtype=np.int8)
for _i, _base in enumerate(ALPHABET):
    _LOOKUP[ord(_base)] = _i
    _LOOKUP[ord(_base.lower())] = _i
#: Row c is the one-hot row of letter code c; the last row (N) is all zeros.
_EYE = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])
_EYE.setflags(write=False)
#: The rows of _EYE, each as one complex128 (16 bytes), for :func:`codes_to_one_hot`.
_EYE_ROWS = _EYE.view(np.complex128).reshape(-1)
#: Codes expanded per np.take in :func:`codes_to_one_hot`.
_ONE_HOT_BLOCK = 1 << 14


def one_hot_encode(seq: str) -> np.ndarray:
    """One-hot encode a DNA string.

    Returns
    -------
    ndarray, shape (L, 4), float32 : A, C, G, T channels; zeros for other letters.
    """
    return codes_to_one_hot(_LOOKUP[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)])


def one_hot_encode_many(seqs: Sequence[str]) -> np.ndarray:
    """One-hot encode equal-length strings; returns (N, L, 4) float32."""
    if not seqs:
        return np.zeros((0, 0, 4), dtype=np.float32)
    return np.stack([one_hot_encode(s) for s in seqs])


def one_hot_to_codes(X: np.ndarray) -> np.ndarray:
    """Letter codes of one-hot sequences.

    Parameters
    ----------
    X : ndarray, shape (..., L, 4)
        One-hot, channels A, C, G, T; all-zero rows are N.

    Returns
    -------
    ndarray, shape (..., L), int8 : 0..3 for A, C, G, T and :data:`N_CODE` (4) for N.
    """
    X = np.asarray(X)
    if X.ndim < 1 or X.shape[-1] != 4:
        raise ReferencesError(f"one-hot sequences need 4 channels (A,C,G,T) last, got shape {X.shape}")
    codes = np.argmax(X, axis=-1).astype(np.int8)
    codes[~np.any(X > 0, axis=-1)] = N_CODE
    return codes


def codes_to_one_hot(codes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`one_hot_to_codes`.

    Parameters
    ----------
    codes : ndarray, shape (..., L), integer
        Letter codes in 0..4 (:data:`N_CODE` for N).

    Returns
    -------
    ndarray, shape (..., L, 4), float32 : a new array; all-zero rows at N.
    """
    codes = np.asarray(codes)
    if codes.size and (codes.min() < 0 or codes.max() > N_CODE):
        raise IndexError(f"letter codes must lie in 0..{N_CODE}, got {codes.min()}..{codes.max()}")
    flat = codes.reshape(-1)
    out = np.empty(flat.shape, dtype=np.complex128)
    # One row of the table (four float32) is one complex128, so each code is one 16-byte copy;
    # blocks keep numpy's intp copy of the indices in cache.
    for lo in range(0, flat.size, _ONE_HOT_BLOCK):
        np.take(_EYE_ROWS, flat[lo:lo + _ONE_HOT_BLOCK], out=out[lo:lo + _ONE_HOT_BLOCK], mode="clip")
    return out.view(np.float32).reshape(codes.shape + (4,))


def decode_one_hot(x: np.ndarray) -> str:
    """Inverse of :func:`one_hot_encode` for one (L, 4) array (all-zero rows → N)."""
    return "".join((ALPHABET + "N")[c] for c in one_hot_to_codes(x).tolist())


def reverse_complement(X: np.ndarray) -> np.ndarray:
    """Reverse complement of one-hot sequences (..., L, 4): flip length and channels."""
    return X[..., ::-1, ::-1]


class Genome:
    """A genome FASTA opened through pyfaidx (the ``.fai`` index is built if missing)."""

    def __init__(self, path: str | Path):
        import pyfaidx

        self.path = Path(path)
        if not self.path.exists():
            raise GenomeError(f"{self.path}: no such genome FASTA; check the -g/--genome path")
        try:
            self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=False,
                                        rebuild=True, build_index=True)
        except PermissionError:
            raise GenomeError(
                f"{self.path}: its index {self.path}.fai is missing or stale and cannot be written here; "
                "index the FASTA where you can write (samtools faidx) or copy it to a writable directory"
            ) from None
        except Exception as exc:  # pyfaidx raises several unrelated types
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if _is_plain_gzip(self.path):
                text = "gzip-compressed; recompress it with bgzip, which pyfaidx can index"
            raise GenomeError(f"{self.path}: cannot be read as a FASTA ({text})") from None
        self.sizes = {name: len(rec) for name, rec in self._fasta.records.items()}

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> "Genome":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_chromosome(self, window: Window, source: str | Path) -> None:
        """Raise :class:`RegionError` naming close matches if the chromosome is absent."""
        if window.chrom in self.sizes:
            return
        alt = window.chrom[3:] if window.chrom.startswith("chr") else "chr" + window.chrom
        close = [alt] if alt in self.sizes else []
        close += [c for c in difflib.get_close_matches(window.chrom, self.sizes, n=3) if c not in close]
        hint = f"; did you mean {', '.join(close)}?" if close else "; check the genome build"
        raise RegionError(
            f"{source}:{window.line}: chromosome {window.chrom!r} is not in {self.path}{hint}"
        )

    def fetch(self, window: Window) -> str:
        """Sequence of a window; positions beyond the chromosome ends become N."""
        size = self.sizes[window.chrom]
        lo, hi = max(window.start, 0), min(window.end, size)
        seq = self._fasta[window.chrom][lo:hi] if hi > lo else ""
        return "N" * (lo - window.start) + seq + "N" * (window.end - hi)


def _is_plain_gzip(path: Path) -> bool:
    """True for a gzip file that is not BGZF (BGZF has the 'BC' extra field)."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    return head[:2] == b"\x1f\x8b" and head[12:14] != b"BC"


def off_edge(window: Window, sizes: dict[str, int]) -> bool:
    """True when the window runs past either end of its chromosome."""
    return window.start < 0 or window.end > sizes[window.chrom]


def filter_windows(
    windows: list, genome: Genome, source: str | Path, policy: str = "skip", span=None, describe=None
) -> tuple[list, int]:
    """Check chromosomes and apply the off-chromosome-end policy.

    Parameters
    ----------
    windows : windows, or other items (variants) whose genome span ``span(item)`` gives.
    policy : ``skip`` drops windows running off a chromosome end (the count is
        returned), ``pad`` keeps them with N beyond the end, ``fail`` raises.
    span : item → the :class:`Window` that must fit the chromosome (default: the item itself).
    describe : item → the subject of the ``fail`` message (default ``window KEY runs``).

    Returns
    -------
    (kept items, skipped items), in input order.
    """
    if policy not in OFF_EDGE_POLICIES:
        raise RegionError(f"off-edge policy must be one of {', '.join(OFF_EDGE_POLICIES)}, got {policy!r}")
    span = span or (lambda item: item)
    describe = describe or (lambda item: f"window {item.key} runs")
    kept, skipped = [], []
    for item in windows:
        window = span(item)
        genome.check_chromosome(window, source)
        if off_edge(window, genome.sizes):
            if policy == "fail":
                raise RegionError(
                    f"{source}:{item.line}: {describe(item)} off the end of "
                    f"{window.chrom} ({genome.sizes[window.chrom]} bp); use --off-edge skip or pad"
                )
            if policy == "skip":
                skipped.append(item)
                continue
        kept.append(item)
    return kept, skipped
