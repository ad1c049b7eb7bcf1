"""References for DeepLIFT: dinucleotide shuffles and a uniform GC background.

One-hot arrays are float32, channels last, in the order of
:data:`genolift.sequences.ALPHABET` (A, C, G, T); a row of all zeros stands
for N (or any other non-ACGT base).  :func:`shuffle_codes` is the same
shuffle on letter codes, (N, L) int8 -> (N, k, L) int8, for callers that
expand to one-hot later.  The package holds no state: every random draw
comes from a generator seeded by ``(seed, key)`` where the key names one
region (:func:`region_seed`), so the references of a region never depend on
batch size, sharding, resuming or the other regions.

Modules
-------
seeding        the per-region random generator and the checks of seed, keys and count
shuffle        :func:`dinucleotide_shuffle` and :func:`shuffle_codes`, uniform over all valid shuffles
arborescences  the last-exit arborescences the shuffle draws first
walk           the walks that lay out the rest of each shuffle
codes          the checked letter codes of one-hot input
jit            the numba decorator of the kernels
counting       exact shuffle counts (BEST theorem) and :func:`degenerate_rows`
gc             :func:`gc_background` and :func:`gc_fraction`

arborescences, walk and codes are numba kernels that release the GIL; they
(and numba) are imported by the first shuffle, not with the package.
"""

from __future__ import annotations

from .counting import count_dinucleotide_shuffles, degenerate_rows
from .gc import gc_background, gc_fraction
from .seeding import region_seed
from .shuffle import dinucleotide_shuffle, shuffle_codes

__all__ = [
    "region_seed",
    "dinucleotide_shuffle",
    "shuffle_codes",
    "count_dinucleotide_shuffles",
    "degenerate_rows",
    "gc_background",
    "gc_fraction",
]
