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

#: Attributes that decide the scores: equal settings give identical files.  Recorded by the run, checked
#: by ``--resume`` (with the shard) and compared by ``merge``.
SETTINGS = (
    "model_sha256", "regions_sha256", "genome_file", "command", "rule", "steps", "ism_window",
    "substituted_lambdas", "reference", "shuffles", "seed", "gc", "output", "task", "target", "target_kind",
    "revcomp", "off_edge", "batch_size", "precision", "chunk_size",
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

#: Attributes that differ from shard to shard of one run (not copied into a merged file as they are).
PER_SHARD = (SHARD, ROW_OFFSET, "created", "command_line", MAX_ABS_DELTA)
