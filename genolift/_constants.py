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
OCCLUSION_SCORES = "occlusion_scores"  # (N, L) float32: per-position occlusion scores
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

# The variant scores table (genolift.variants.scores): each column is also an (N,) float32 dataset of that name.
ALLELE1_PRED_COUNTS = "allele1_pred_counts"  # predicted counts of REF, ALT: exp of the log-counts head
ALLELE2_PRED_COUNTS = "allele2_pred_counts"
LOGFC = "logfc"  # log2(allele2_pred_counts / allele1_pred_counts)
ABS_LOGFC = "abs_logfc"
JSD = "jsd"  # Jensen-Shannon distance (base 2) of the two profiles, realigned around indels
ORIGINAL_JSD = "original_jsd"  # the same without realignment
LOGFC_X_JSD = "logfc_x_jsd"
ABS_LOGFC_X_JSD = "abs_logfc_x_jsd"
ALLELE1_QUANTILE = "allele1_quantile"  # with --peaks: max(fraction of peak counts below, 1 / peaks)
ALLELE2_QUANTILE = "allele2_quantile"
ACTIVE_ALLELE_QUANTILE = "active_allele_quantile"
QUANTILE_CHANGE = "quantile_change"
ABS_QUANTILE_CHANGE = "abs_quantile_change"
# Models without a profile head: the explained output unit's value for REF and ALT and its change.
ALLELE1_PRED = "allele1_pred"
ALLELE2_PRED = "allele2_pred"
DIFF = "diff"
ABS_DIFF = "abs_diff"
#: Suffix of the empirical p-value columns (``logfc.pval``), and of the fold means (``logfc.mean``).
PVAL_SUFFIX = ".pval"
MEAN_SUFFIX = ".mean"
# --null N: the alleles' values inside N shuffles of each variant's flanks, (N, null) float32, NaN where
# --null-total left an entry out.
NULL_ALLELE1 = "null_allele1"  # counts (profile models) or the unit's value
NULL_ALLELE2 = "null_allele2"
NULL_JSD = "null_jsd"
NULL_ALLELE1_QUANTILE = "null_allele1_quantile"
NULL_ALLELE2_QUANTILE = "null_allele2_quantile"
NULL_DATASETS = (NULL_ALLELE1, NULL_ALLELE2, NULL_JSD, NULL_ALLELE1_QUANTILE, NULL_ALLELE2_QUANTILE)
#: Root attribute: the size of the pooled null the file's p-values were computed against.
NULL_SIZE = "null_size"

#: Attributes that decide the scores: equal settings give identical files.  Recorded by the run, checked
#: by ``--resume`` (with the shard) and compared by ``merge``.
SETTINGS = (
    "model_sha256", "regions_sha256", "genome_file", "command", "rule", "steps", "ism_window",
    "substituted_lambdas", "reference", "shuffles", "seed", "gc", "output", "task", "target", "target_kind",
    "revcomp", "off_edge", "batch_size", "backend", "precision", "compile", "score_dtype", "chunk_size",
    "rules_version",
    "null", "null_total", "peaks_sha256", "heads",
    "maxpool", "epsilon", "alpha", "beta", "samples", "noise", "times_input", "width", "stride", "fill",
)
#: Settings only some commands or rules have (``variants``' null, peaks and heads; a rule's options, as
#: :meth:`genolift.engine.rule_names.Method.settings` gives them; occlusion's windows): None for the others.
OPTIONAL_SETTINGS = ("null", "null_total", "peaks_sha256", "heads", "maxpool", "epsilon", "alpha", "beta", "samples",
                     "noise", "times_input", "width", "stride", "fill")

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
