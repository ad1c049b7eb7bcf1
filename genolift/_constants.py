"""Names of the score files' datasets and attributes, kept once.

The run writes them, the HDF5 writer lays them out, ``merge`` compares and
joins them, ``plot`` and ``bigwig`` read them.  A new setting that decides
the scores goes into :data:`SETTINGS`: the run then records it (in the
file's attributes and the partial run's manifest) and ``merge`` refuses
shards that differ in it.
"""

from __future__ import annotations

FORMAT_NAME = "genolift-scores"
FORMAT_VERSION = 1

#: Version of the attribution rules: bumped when the same inputs get different multipliers, so that
#: ``--resume`` and ``merge`` never join scores of two versions (2: the max-pool limit at Δx = 0).
RULES_VERSION = 2

# Datasets: (N, L, 4) float32 scores, channels A, C, G, T.
INPUT_SEQS = "input_seqs"
HYP_SCORES = "hyp_scores"
CONTRIB_SCORES = "contrib_scores"
ISM_SCORES = "ism_scores"
SCORE_DATASETS = (INPUT_SEQS, HYP_SCORES, CONTRIB_SCORES)

# Datasets: per-region values, float32.
PREDICTIONS = "predictions"  # (N,)
REFERENCE_PREDICTIONS = "reference_predictions"  # (N, K)
DELTAS = "deltas"  # (N, K)
RESIDUALS = "residuals"  # (N,)

# Datasets: coordinates of the scored windows.
COORDS_CHROM = "coords_chrom"
COORDS_START = "coords_start"
COORDS_END = "coords_end"
COORDS_NAME = "coords_name"
COORDS_STRAND = "coords_strand"
REGION_LINE = "region_line"
STRING_DATASETS = (COORDS_CHROM, COORDS_NAME, COORDS_STRAND)
INT_DATASETS = (COORDS_START, COORDS_END, REGION_LINE)

# Datasets of ``variants`` files: each allele's (N, L, 4) windows and scores (modisco-ready, channels last).
REF_SEQS = "ref_seqs"
ALT_SEQS = "alt_seqs"
REF_HYP_SCORES = "ref_hyp_scores"
ALT_HYP_SCORES = "alt_hyp_scores"
REF_CONTRIB_SCORES = "ref_contrib_scores"
ALT_CONTRIB_SCORES = "alt_contrib_scores"
#: One-hot datasets: float32 whatever ``--score-dtype`` says.
SEQUENCE_DATASETS = (INPUT_SEQS, REF_SEQS, ALT_SEQS)
VARIANT_SCORE_DATASETS = (REF_SEQS, ALT_SEQS, REF_HYP_SCORES, ALT_HYP_SCORES, REF_CONTRIB_SCORES,
                          ALT_CONTRIB_SCORES)
# Per-variant float32 values; reference_predictions (N, K) is shared by both alleles.
REF_PREDICTIONS = "ref_predictions"  # (N,) t(ref)
ALT_PREDICTIONS = "alt_predictions"  # (N,) t(alt)
EFFECT = "effect"  # (N,) t(alt) − t(ref)
REF_DELTAS = "ref_deltas"  # (N, K)
ALT_DELTAS = "alt_deltas"  # (N, K)
# The variants and the alignment of their windows (see genolift.variants.windows).
VARIANT_CHROM = "variant_chrom"
VARIANT_ID = "variant_id"
VARIANT_REF = "variant_ref"
VARIANT_ALT = "variant_alt"
VARIANT_POS = "variant_pos"  # 1-based, as in VCF
VARIANT_LINE = "variant_line"
ALLELE_START = "allele_start"
REF_LEN = "ref_len"
ALT_LEN = "alt_len"
SHIFT = "shift"
VARIANT_STRINGS = (VARIANT_CHROM, VARIANT_ID, VARIANT_REF, VARIANT_ALT)
VARIANT_INTS = (VARIANT_POS, VARIANT_LINE, ALLELE_START, REF_LEN, ALT_LEN, SHIFT)

#: Attributes that decide the scores: equal settings give identical files.  Recorded by the run, checked
#: by ``--resume`` (with the shard) and compared by ``merge``.
SETTINGS = (
    "model_sha256", "regions_sha256", "genome_file", "command", "rule", "steps", "ism_window",
    "substituted_lambdas", "reference", "shuffles", "seed", "gc", "output", "task", "target", "target_kind",
    "revcomp", "off_edge", "batch_size", "precision", "compile", "score_dtype", "chunk_size", "rules_version",
)

# Attributes of a file's place in a sharded run and of its completion.
FORMAT = "format"
FORMAT_VERSION_ATTR = "format_version"
COMPLETE = "complete"
SHARD = "shard"
ROW_OFFSET = "row_offset"
TOTAL_ROWS = "total_rows"
MAX_ABS_DELTA = "max_abs_delta"
MERGED_FROM = "merged_from"
TASK = "task"

# Attributes for the tools downstream: the window length L (Fi-NeMo's -w/-W, modisco's -w), and the name of
# the regions narrowPeak whose line i is the window of row i (beside the file; genolift.downstream.regions_file).
WINDOW_LENGTH = "window_length"
SCORED_REGIONS = "scored_regions_file"

#: Attributes that differ from shard to shard of one run (not copied into a merged file as they are).
PER_SHARD = (SHARD, ROW_OFFSET, "created", "command_line", MAX_ABS_DELTA, SCORED_REGIONS)
