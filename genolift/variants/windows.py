"""Allele windows: the model-length sequences of the reference and alternate allele.

For a model of input length ``L`` and a variant at 0-based position
``p = pos - 1`` (``h = L // 2``):

- the **reference window** is the genome's ``[p - h, p - h + L)``, so REF starts
  at index ``h``;
- the **alternate window** is the same left flank ``[p - h, p)``, then ALT, then
  the genome from ``p + len(REF)`` onward, cut to ``L`` bases: the window of the
  same start on the alternate haplotype.  The right flank is thereby extended
  (deletions) or trimmed (insertions) so the window keeps ``L`` bases; SNVs and
  other equal-length substitutions swap bases in place.

Alleles are kept as written (a VCF indel keeps its anchor base at index ``h``);
an allele longer than ``L - h`` is cut at the window's end.  The alignment of
the two windows, stored per variant in :class:`AlleleWindows`, is: index ``i <
h`` is the same base in both; REF occupies ``[h, h + ref_len)`` of the
reference window and ALT ``[h, h + alt_len)`` of the alternate one; for ``i >=
h + alt_len`` the alternate base at ``i`` is the reference base at ``i - shift``
with ``shift = alt_len - ref_len``.  Per-base differences of scores compare
alternate index ``i`` with reference index ``i - shift`` right of the alleles.

Bases beyond a chromosome end are N; whether such windows are kept is decided
by :func:`filter_variants` with the ``skip``/``pad``/``fail`` policies of
:func:`genolift.sequences.filter_windows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..regions import Window
from ..sequences import Genome, filter_windows, one_hot_encode_many
from .reading import Variant


class AllelePair(NamedTuple):
    """The two window sequences of one variant, each of exactly ``L`` letters (flank case kept)."""

    ref: str
    alt: str


class AlleleWindows(NamedTuple):
    """One-hot allele windows of a batch of variants, with their alignment.

    Attributes
    ----------
    ref, alt : ndarray, shape (N, L, 4), float32
        One-hot reference and alternate windows (A, C, G, T; N is all zeros).
    windows : list of Window, length N
        The reference windows on the genome (0-based, half-open; name = variant ID,
        line = the variant's line).
    allele_start : ndarray, shape (N,), int64
        Index where both alleles start in their windows (``L // 2``).
    ref_len, alt_len : ndarray, shape (N,), int64
        ``len(REF)`` and ``len(ALT)`` as written (possibly longer than the window's right half).
    shift : ndarray, shape (N,), int64
        ``alt_len - ref_len``: alternate index ``i >= allele_start + alt_len`` holds the
        reference base at ``i - shift``.
    """

    ref: np.ndarray
    alt: np.ndarray
    windows: list[Window]
    allele_start: np.ndarray
    ref_len: np.ndarray
    alt_len: np.ndarray
    shift: np.ndarray


def variant_window(variant: Variant, length: int) -> Window:
    """The reference window ``[p - L//2, p - L//2 + L)`` of a variant (start may be < 0)."""
    start = variant.pos - 1 - length // 2
    return Window(variant.chrom, start, start + length, ".", variant.id, variant.line)


def genome_span(variant: Variant, length: int) -> Window:
    """The stretch of genome both allele windows read: the reference window, extended
    to the right where a deletion pulls in more right flank."""
    window = variant_window(variant, length)
    p = variant.pos - 1
    alt_end = p + len(variant.ref) + max(0, length - length // 2 - len(variant.alt))
    return window._replace(end=max(window.end, alt_end))


def filter_variants(
    variants: Sequence[Variant], genome: Genome, source: str | Path, length: int, policy: str = "skip"
) -> tuple[list[Variant], list[Variant]]:
    """Check chromosomes and apply the off-chromosome-end policy to the allele windows.

    Parameters
    ----------
    variants : the variants, e.g. from :func:`genolift.variants.read_variants`.
    genome : the genome the windows are read from.
    source : the variant file, named in messages.
    length : the model's input length L.
    policy : ``skip`` drops variants whose reference or alternate window runs off a
        chromosome end (they are returned), ``pad`` keeps them with N beyond the end,
        ``fail`` raises.

    Returns
    -------
    (kept variants, skipped variants)
    """
    return filter_windows(list(variants), genome, source, policy, span=lambda v: genome_span(v, length),
                          describe=lambda v: f"the {length}-bp windows of variant {v.id} run")


def allele_sequences(variant: Variant, genome: Genome, length: int) -> AllelePair:
    """Reference and alternate window of one variant as strings of ``length`` letters.

    Bases beyond a chromosome end are N; soft-masked (lowercase) flanks stay lowercase.
    """
    half = length // 2
    span = genome.fetch(genome_span(variant, length))
    alt = span[:half] + variant.alt + span[half + len(variant.ref):]
    return AllelePair(span[:length], alt[:length])


def allele_windows(variants: Sequence[Variant], genome: Genome, length: int) -> AlleleWindows:
    """One-hot reference and alternate windows of many variants, with their alignment.

    Parameters
    ----------
    variants : N variants whose chromosomes are in ``genome`` (see :func:`filter_variants`).
    genome : the genome the windows are read from.
    length : the model's input length L.

    Returns
    -------
    AlleleWindows : ``ref`` and ``alt`` of shape (N, L, 4) float32 and the per-variant alignment.
    """
    pairs = [allele_sequences(v, genome, length) for v in variants]
    ref_len = np.array([len(v.ref) for v in variants], dtype=np.int64)
    alt_len = np.array([len(v.alt) for v in variants], dtype=np.int64)
    return AlleleWindows(
        ref=_encode([p.ref for p in pairs], length),
        alt=_encode([p.alt for p in pairs], length),
        windows=[variant_window(v, length) for v in variants],
        allele_start=np.full(len(variants), length // 2, dtype=np.int64),
        ref_len=ref_len,
        alt_len=alt_len,
        shift=alt_len - ref_len,
    )


def _encode(seqs: list[str], length: int) -> np.ndarray:
    """(N, L, 4) float32 one-hot, also for N = 0."""
    return one_hot_encode_many(seqs) if seqs else np.zeros((0, length, 4), dtype=np.float32)
