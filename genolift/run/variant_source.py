"""Variants in, allele chunks out: the rows of a ``variants`` run.

A :class:`VariantSource` stands in for :class:`~genolift.run.source.RegionSource`:
its :attr:`~VariantSource.windows` are the variants' reference windows (each
carrying its variant), and a chunk's one-hot array holds both allele windows,
the reference windows first, so the input worker threads (:func:`.source.chunks`)
and the GC estimate (:func:`.source.estimate_gc`) work on it unchanged.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np

from ..errors import RegionError
from ..sequences import Genome
from ..variants import Variant, allele_windows, filter_variants, read_variants, variant_window
from .config import VariantsConfig

log = logging.getLogger("genolift")


class VariantWindow(NamedTuple):
    """A variant's reference window (the fields of :class:`~genolift.regions.Window`) and the variant.

    ``name`` is the variant's ID and ``line`` its line in the variants file.
    """

    chrom: str
    start: int
    end: int
    strand: str
    name: str
    line: int
    variant: Variant

    @property
    def key(self) -> str:
        """The variant's key ``chrom:pos:REF>ALT``: it seeds the references of both alleles."""
        return self.variant.key


class VariantSource:
    """The variants of a run, their windows on the genome and their one-hot allele windows.

    Variants whose windows run off a chromosome end are handled by
    ``cfg.off_edge`` and counted in :attr:`skipped`; those whose REF differs from
    the genome stop the run or, under ``cfg.ref_mismatch == "skip"``, are counted
    in :attr:`mismatched`.  Use as a context manager (closes the genome).
    """

    def __init__(self, cfg: VariantsConfig, length: int):
        if cfg.genome is None:
            raise RegionError(f"{cfg.regions}: variants need the genome FASTA; pass -g/--genome "
                              "or set the GENOLIFT_GENOME environment variable")
        self.length = length
        self.genome = Genome(cfg.genome)
        try:
            found = read_variants(cfg.regions, self.genome, cfg.ref_mismatch)
            kept, self.skipped_items = filter_variants(found.variants, self.genome, cfg.regions, length,
                                                       cfg.off_edge)
            self.skipped = len(self.skipped_items)
        except BaseException:
            self.close()
            raise
        self.mismatched = found.skipped_mismatch
        if self.mismatched:
            log.warning("%s: %d variant(s) whose REF differs from the genome were skipped (--ref-mismatch skip)",
                        cfg.regions, self.mismatched)
        if not kept:
            self.close()
            raise RegionError(f"{cfg.regions}: no variant left to score ({self.skipped} with windows off a "
                              f"chromosome end, {self.mismatched} REF mismatches); try --off-edge pad")
        self.windows = [VariantWindow(*variant_window(v, length), v) for v in kept]

    def __enter__(self) -> "VariantSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def one_hot(self, start: int, stop: int) -> np.ndarray:
        """(2n, L, 4) float32 for the n = stop − start variants: reference windows, then alternate windows."""
        alleles = allele_windows([w.variant for w in self.windows[start:stop]], self.genome, self.length)
        return np.concatenate([alleles.ref, alleles.alt])

    def close(self) -> None:
        if self.genome is not None:
            self.genome.close()
            self.genome = None
