"""The shuffled null of the variant scores: each variant's alleles inside dinucleotide shuffles of its flanks.

As variant-scorer builds its null, the stretch of genome both allele windows read
(the reference window, extended to the right where a deletion pulls in more flank:
:func:`~genolift.variants.windows.genome_span`) is dinucleotide-shuffled as a whole,
then REF and ALT are written at the variant's index ``L // 2`` of the shuffled
stretch exactly as they are into the genome's (same left flank, the allele, the
rest cut to ``L``).  The ``m`` shuffles of a variant come from genolift's uniform
shuffle seeded by ``(seed, "KEY/null")`` with KEY the variant's ``chrom:pos:REF>ALT``,
so batch size, sharding and resuming never change them, and they differ from the
variant's references.

``--null-total M`` caps the pooled null: of the ``total × m`` (variant, shuffle)
entries of the whole run, a seeded draw of M without replacement is scored
(:func:`null_selection`), the same in every shard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..references.seeding import region_seed
from ..references.shuffle import shuffle_codes
from ..sequences import Genome
from .reading import Variant
from .windows import genome_span

#: The key suffix of the null's shuffles (beside the variant's key).
NULL_KEY = "/null"

_CODES = np.full(256, 4, dtype=np.int8)
for _code, _base in enumerate("ACGT"):
    _CODES[ord(_base)] = _code
    _CODES[ord(_base.lower())] = _code


class NullWindows(NamedTuple):
    """The null windows of n variants, as letter codes (0..3 for A, C, G, T; 4 for N).

    ref, alt : (n, m, L) int8, allele 1 and allele 2 inside each of m shuffles.
    selected : (n, m) bool, the entries scored (all but those ``--null-total`` leaves out).
    """

    ref: np.ndarray
    alt: np.ndarray
    selected: np.ndarray


def codes(text: str) -> np.ndarray:
    """(len(text),) int8 letter codes of a DNA string (case-insensitive; other letters are N)."""
    return _CODES[np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)]


def null_selection(total: int, per_variant: int, cap: int | None, seed: int) -> np.ndarray:
    """(total, per_variant) bool: the entries of the pooled null that are scored.

    All of them, or (``cap`` < total·per_variant) ``cap`` of them drawn without replacement
    by a generator seeded from ``seed`` alone, so every shard of a run draws the same.
    """
    chosen = np.ones((total, per_variant), dtype=bool)
    if cap is None or cap >= chosen.size:
        return chosen
    rng = region_seed(seed, "genolift null-total")
    chosen[:] = False
    chosen.reshape(-1)[rng.choice(chosen.size, size=cap, replace=False)] = True
    return chosen


def _place(shuffled: np.ndarray, allele: np.ndarray, ref_len: int, length: int) -> np.ndarray:
    """(m, S) shuffled stretches -> (m, L): the left flank, ``allele``, the stretch after REF, cut to L."""
    half = length // 2
    m = len(shuffled)
    joined = np.concatenate([shuffled[:, :half], np.broadcast_to(allele, (m, len(allele))),
                             shuffled[:, half + ref_len:]], axis=1)
    out = np.full((m, length), 4, dtype=np.int8)
    out[:, : min(length, joined.shape[1])] = joined[:, :length]
    return out


def null_windows(variants: Sequence[Variant], genome: Genome, length: int, per_variant: int, seed: int,
                 selected: np.ndarray) -> NullWindows:
    """The null windows of ``variants`` (their rows of :func:`null_selection` in ``selected``, (n, m)).

    Stretches of equal length are shuffled together; each row's shuffles depend only on its
    key and its stretch, so the grouping changes nothing.
    """
    n = len(variants)
    ref = np.empty((n, per_variant, length), dtype=np.int8)
    alt = np.empty((n, per_variant, length), dtype=np.int8)
    stretches = [codes(genome.fetch(genome_span(v, length))) for v in variants]
    for size in sorted({len(s) for s in stretches}):
        rows = [i for i, s in enumerate(stretches) if len(s) == size]
        shuffled = shuffle_codes(np.stack([stretches[i] for i in rows]), per_variant, seed,
                                 keys=[variants[i].key + NULL_KEY for i in rows])
        for row, shuffles in zip(rows, shuffled):
            v = variants[row]
            ref[row] = _place(shuffles, codes(v.ref), len(v.ref), length)
            alt[row] = _place(shuffles, codes(v.alt), len(v.ref), length)
    return NullWindows(ref, alt, np.asarray(selected, dtype=bool))
