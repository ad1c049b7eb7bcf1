"""Variants: VCF/TSV input and the reference/alternate allele windows scored for them."""

from .alignment import alt_on_reference
from .reading import REF_MISMATCH_POLICIES, Variant, VariantSet, read_variants, variant_key
from .windows import (
    AllelePair,
    AlleleWindows,
    allele_sequences,
    allele_windows,
    filter_variants,
    genome_span,
    variant_window,
)

__all__ = [
    "REF_MISMATCH_POLICIES",
    "AllelePair",
    "AlleleWindows",
    "Variant",
    "VariantSet",
    "allele_sequences",
    "alt_on_reference",
    "allele_windows",
    "filter_variants",
    "genome_span",
    "read_variants",
    "variant_key",
    "variant_window",
]
