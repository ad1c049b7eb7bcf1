#!/usr/bin/env python
"""Write the datasets and attributes of docs/formats.md from the names genolift writes.

The names come from ``genolift/_constants.py`` (every dataset and attribute constant, ``SETTINGS``,
``OPTIONAL_SETTINGS``, ``PER_SHARD``), from :func:`genolift.run.provenance.attributes` and from
``genolift.downstream.average``; the words for each are here.  Rendering stops with an error naming
any name without words, and ``tests/test_docs.py`` fails when the section of docs/formats.md differs
from what this script writes: run it after adding a dataset or a setting.

Usage::

    python scripts/make_format_docs.py            # rewrite the section of docs/formats.md
    python scripts/make_format_docs.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "formats.md"
SCRIPT = "make_format_docs"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

#: Constants of ``_constants.py`` that are not names of a dataset or attribute.
NOT_NAMES = ("FORMAT_NAME", "PVAL_SUFFIX", "MEAN_SUFFIX")

SCORES = "score, hypothetical"
ALL_RUNS = "every run"
VARIANTS = "variants"

#: (group, [(constant or name, shape, dtype, written by, meaning)]).  † : float16 with --score-dtype float16.
DATASETS = [
    ("Sequences and scores", [
        ("INPUT_SEQS", "(N, L, 4)", "float32", "score, hypothetical, ism, occlusion",
         "one-hot sequences of the scored windows, channels A, C, G, T; N and every other letter is an all-zero "
         "row"),
        ("HYP_SCORES", "(N, L, 4)", "float32 †", SCORES,
         "hypothetical scores, mean over the K references (what `modisco motifs -i` reads with `input_seqs`)"),
        ("CONTRIB_SCORES", "(N, L, 4)", "float32 †", "score",
         "contribution scores, `hyp_scores · input_seqs` (zero at the absent bases)"),
        ("ISM_SCORES", "(N, L, 4)", "float32 †", "ism",
         "t(x with base b at l) − t(x); 0 at the observed base and outside `--window`"),
        ("OCCLUSION_SCORES", "(N, L)", "float32", "occlusion",
         "per position, the mean over the windows covering it of t(x) − t(x occluded); 0 where no window covers"),
    ]),
    ("Per region", [
        ("PREDICTIONS", "(N,)", "float32", "score, hypothetical, ism, occlusion", "the target t(x)"),
        ("REFERENCE_PREDICTIONS", "(N, K)", "float32", f"{SCORES}, variants", "the target of each reference, t(r_k)"),
        ("DELTAS", "(N, K)", "float32", SCORES,
         "per pair, t(x) − t(r_k) − Σ m_k·(x − r_k): the summation-to-delta error"),
        ("RESIDUALS", "(N,)", "float32", SCORES, "Σ contrib_scores − (t(x) − mean_k t(r_k)), from the stored scores"),
    ]),
    ("Coordinates (every file)", [
        ("COORDS_CHROM", "(N,)", "string", ALL_RUNS, "chromosome of the scored window (a FASTA record's name)"),
        ("COORDS_START", "(N,)", "int64", ALL_RUNS, "window start, 0-based"),
        ("COORDS_END", "(N,)", "int64", ALL_RUNS, "window end, exclusive (end − start = L)"),
        ("COORDS_NAME", "(N,)", "string", ALL_RUNS,
         "the region's name (BED column 4), else `chrom:start-end` of the input interval; a FASTA record's name"),
        ("COORDS_STRAND", "(N,)", "string", ALL_RUNS, "the region's strand (`+`, `-` or `.`); scores are forward"),
        ("REGION_LINE", "(N,)", "int64", ALL_RUNS,
         "1-based line of the region in the input (of its header line, for FASTA)"),
    ]),
    ("Alleles (`variants`)", [
        ("REF_SEQS", "(N, L, 4)", "float32", VARIANTS, "one-hot reference-allele windows, centred on the variant"),
        ("ALT_SEQS", "(N, L, 4)", "float32", VARIANTS, "one-hot alternate-allele windows (same left flank)"),
        ("REF_HYP_SCORES", "(N, L, 4)", "float32 †", VARIANTS, "hypothetical scores of the reference window"),
        ("ALT_HYP_SCORES", "(N, L, 4)", "float32 †", VARIANTS, "hypothetical scores of the alternate window"),
        ("REF_CONTRIB_SCORES", "(N, L, 4)", "float32 †", VARIANTS, "contribution scores of the reference window"),
        ("ALT_CONTRIB_SCORES", "(N, L, 4)", "float32 †", VARIANTS, "contribution scores of the alternate window"),
        ("REF_PREDICTIONS", "(N,)", "float32", VARIANTS, "t(ref)"),
        ("ALT_PREDICTIONS", "(N,)", "float32", VARIANTS, "t(alt)"),
        ("EFFECT", "(N,)", "float32", VARIANTS, "t(alt) − t(ref), the sum of alt − ref contributions"),
        ("REF_DELTAS", "(N, K)", "float32", VARIANTS, "per-pair summation-to-delta error of the reference window"),
        ("ALT_DELTAS", "(N, K)", "float32", VARIANTS, "per-pair summation-to-delta error of the alternate window"),
    ]),
    ("Variants and their windows (`variants`)", [
        ("VARIANT_CHROM", "(N,)", "string", VARIANTS, "CHROM"),
        ("VARIANT_POS", "(N,)", "int64", VARIANTS, "POS, 1-based as in the VCF"),
        ("VARIANT_ID", "(N,)", "string", VARIANTS, "ID (`chrom:pos:REF>ALT` where the input has none)"),
        ("VARIANT_REF", "(N,)", "string", VARIANTS, "REF"),
        ("VARIANT_ALT", "(N,)", "string", VARIANTS, "ALT (one row per ALT of a multi-allelic line)"),
        ("VARIANT_LINE", "(N,)", "int64", VARIANTS, "1-based line of the variant in the input"),
        ("ALLELE_START", "(N,)", "int64", VARIANTS, "index of the allele's first base in both windows (L // 2)"),
        ("REF_LEN", "(N,)", "int64", VARIANTS, "length of REF"),
        ("ALT_LEN", "(N,)", "int64", VARIANTS, "length of ALT"),
        ("SHIFT", "(N,)", "int64", VARIANTS,
         "alt_len − ref_len: right of the allele, alternate index i is reference index i − shift"),
    ]),
    ("Variant scores (`variants`; also the columns of `OUT.variant_scores.tsv`, defined in [variants.md]"
     "(variants.md#the-columns))", [
        ("ALLELE1_PRED_COUNTS", "(N,)", "float32", VARIANTS, "predicted counts of REF (exp of the log-counts head)"),
        ("ALLELE2_PRED_COUNTS", "(N,)", "float32", VARIANTS, "predicted counts of ALT"),
        ("LOGFC", "(N,)", "float32", VARIANTS, "log2(allele2_pred_counts / allele1_pred_counts)"),
        ("ABS_LOGFC", "(N,)", "float32", VARIANTS, "|logfc|"),
        ("JSD", "(N,)", "float32", VARIANTS, "Jensen–Shannon distance of the two profiles, realigned around indels"),
        ("ORIGINAL_JSD", "(N,)", "float32", VARIANTS, "the same without realignment"),
        ("LOGFC_X_JSD", "(N,)", "float32", VARIANTS, "logfc · jsd"),
        ("ABS_LOGFC_X_JSD", "(N,)", "float32", VARIANTS, "abs_logfc · jsd"),
        ("ALLELE1_QUANTILE", "(N,)", "float32", "variants --peaks", "quantile of REF's counts among the peaks'"),
        ("ALLELE2_QUANTILE", "(N,)", "float32", "variants --peaks", "quantile of ALT's counts among the peaks'"),
        ("ACTIVE_ALLELE_QUANTILE", "(N,)", "float32", "variants --peaks", "the larger of the two quantiles"),
        ("QUANTILE_CHANGE", "(N,)", "float32", "variants --peaks", "allele2_quantile − allele1_quantile"),
        ("ABS_QUANTILE_CHANGE", "(N,)", "float32", "variants --peaks", "|quantile_change|"),
        *((f"{score}_x_active_allele_quantile", "(N,)", "float32", "variants --peaks",
           f"{score} · active_allele_quantile") for score in ("logfc", "abs_logfc", "jsd", "logfc_x_jsd",
                                                              "abs_logfc_x_jsd")),
        ("ALLELE1_PRED", "(N,)", "float32", VARIANTS, "models without heads: the explained unit's value for REF"),
        ("ALLELE2_PRED", "(N,)", "float32", VARIANTS, "the same for ALT"),
        ("DIFF", "(N,)", "float32", VARIANTS, "allele2_pred − allele1_pred"),
        ("ABS_DIFF", "(N,)", "float32", VARIANTS, "|diff|"),
        ("NAME.pval", "(N,)", "float32", "variants --null", "empirical p-value of score NAME against the pooled null"),
        ("NAME.mean", "(N,)", "float32", "average", "mean of score NAME over the folds (`NAME.mean.pval`: the "
         "geometric mean of their p-values)"),
    ]),
    ("The null (`variants --null M`)", [
        ("NULL_ALLELE1", "(N, M)", "float32", "variants --null",
         "REF inside M flank shuffles: counts (profile models) or the unit's value; NaN where --null-total left "
         "an entry out"),
        ("NULL_ALLELE2", "(N, M)", "float32", "variants --null", "the same for ALT"),
        ("NULL_JSD", "(N, M)", "float32", "variants --null", "the two alleles' profile distance in each shuffle"),
        ("NULL_ALLELE1_QUANTILE", "(N, M)", "float32", "variants --null --peaks", "REF's quantile in each shuffle"),
        ("NULL_ALLELE2_QUANTILE", "(N, M)", "float32", "variants --null --peaks", "ALT's quantile in each shuffle"),
    ]),
]

#: (group, [(constant or name, meaning)]).
ATTRIBUTES = [
    ("The file", [
        ("FORMAT", "`genolift-scores`"),
        ("FORMAT_VERSION_ATTR", "version of this layout (1)"),
        ("genolift_version", "the genolift that wrote the file"),
        ("created", "UTC time the run started, ISO 8601 (not in a merged file)"),
        ("command_line", "the command as typed (not in a merged file)"),
        ("COMPLETE", "true once every row is written (a file under its final name is always complete)"),
        ("channel_order", "`ACGT`, the order of the last axis"),
    ]),
    ("Inputs", [
        ("model_file", "the model file's name (`mean of K models` in an average)"),
        ("model_sha256", "SHA-256 of the model file's bytes (of the sorted inputs' hashes in an average)"),
        ("regions_file", "the regions (or variants) file's name"),
        ("regions_sha256", "SHA-256 of the regions file's bytes"),
        ("genome_file", "the genome FASTA's name (none for FASTA regions)"),
        ("substituted_lambdas", "JSON list of the Lambda layers genolift replaced by its own operations "
         "(ChromBPNet's counts combiner)"),
        ("peaks_file", "`variants --peaks`: the peaks file's name"),
        ("peaks_sha256", "`variants --peaks`: SHA-256 of the peaks file"),
        ("peaks_scored", "`variants --peaks`: peak windows whose predictions rank the alleles"),
        ("peaks_skipped", "`variants --peaks`: peak windows left out (off a chromosome end, or repeated)"),
    ]),
    ("What was computed", [
        ("command", "`score`, `hypothetical`, `ism`, `occlusion` or `variants`"),
        ("rule", "the `--rule` (or `ism`, `occlusion`)"),
        ("steps", "integration steps of `integrated-gradients`"),
        ("ism_window", "`ism --window`: [start, end) of the mutated positions"),
        ("reference", "`dinucleotide-shuffle`, `gc-background`, or `zero` (occlusion `--fill zero`)"),
        ("shuffles", "K, references per sequence (1 for the GC background, 0 for ism)"),
        ("seed", "`--seed`; with each window's coordinates it seeds the window's references and draws"),
        ("gc", "GC fraction of the GC background"),
        ("gc_source", "where `gc` came from: `--gc`, or `scored sequences` (estimated from them)"),
        ("output", "name of the explained model output"),
        ("TASK", "the explained unit of that output (`--task`)"),
        ("target", "the target in words"),
        ("target_kind", "`task` (one unit, a logit), `profile` (exact profile target) or `profile-chrombpnet`"),
        ("revcomp", "true: averaged with the reverse complement (`--revcomp`)"),
        ("rules_version", "version of the rules: the same inputs give other multipliers in another version"),
        ("maxpool", "`--maxpool` of the DeepLIFT rules"),
        ("epsilon", "`--epsilon` of `lrp-epsilon`"),
        ("alpha", "`--alpha` of `lrp-alpha-beta`"),
        ("beta", "`--beta` of `lrp-alpha-beta`"),
        ("samples", "`--samples` of `smoothgrad` and `shapley-sampling`"),
        ("noise", "`--noise` of `smoothgrad`"),
        ("times_input", "`--times-input` of `smoothgrad` and `connection-weights`"),
        ("width", "`--width`: Shapley features or occlusion windows, in bases"),
        ("stride", "occlusion `--stride`"),
        ("fill", "occlusion `--fill`: `reference` or `zero`"),
        ("null", "`variants --null`: flank shuffles per variant"),
        ("null_total", "`variants --null-total`: cap of the pooled null"),
        ("heads", "`variants`: the profile and counts heads used for the table, `profile=NAME,counts=NAME` "
         "(`-` for none)"),
    ]),
    ("How it ran", [
        ("backend", "`tensorflow`, `jax` or `torch`"),
        ("backend_version", "that library's version"),
        ("device", "the device the engine ran on, as the backend names it"),
        ("precision", "`--precision`: float32 (IEEE, TensorFloat-32 off), bfloat16, float16 or float64"),
        ("compile", "`--compile`: plain, xla or auto"),
        ("batch_size", "(sequence, reference) pairs per device batch, the one used (auto's choice)"),
        ("chunk_size", "regions per chunk, as used (rounded down to whole device batches)"),
        ("score_dtype", "`--score-dtype`: storage of the score datasets marked †"),
        ("off_edge", "`--off-edge`: what happened to windows running off a chromosome end"),
        ("delta_warn_threshold", "the run warned about pairs with |delta| above this × (1 + |Δt|)"),
    ]),
    ("Results", [
        ("MAX_ABS_DELTA", "largest |delta| of the file"),
        ("skipped_windows", "windows left out because they run off a chromosome end (`--off-edge skip`)"),
        ("skipped_ref_mismatch", "`variants --ref-mismatch skip`: variants whose REF differs from the genome"),
        ("variant_table", "`variants`: `heads` (counts and profile scores) or `unit` (allele1_pred, ...)"),
        ("profile_output", "`variants`: the profile head of the table"),
        ("counts_output", "`variants`: the log-counts head of the table"),
        ("null_per_variant", "`variants --null`: M"),
        ("NULL_SIZE", "`variants --null`: entries of the pooled null the p-values were computed against"),
    ]),
    ("Shards, merges and averages", [
        ("SHARD", "`I/N` of a `--shard` run"),
        ("ROW_OFFSET", "the shard's first row in the whole run (0 in a whole or merged file)"),
        ("TOTAL_ROWS", "rows of the whole run"),
        ("MERGED_FROM", "`merge`: the shard files' names"),
        ("AVERAGED_FROM", "`average`: the input files' names"),
        ("AVERAGED_MODEL_SHA256", "`average`: each input's model hash"),
        ("AVERAGED_MODEL_FILE", "`average`: each input's model file name"),
        ("AVERAGED_MAX_ABS_DELTA", "`average`: each input's max |delta|"),
    ]),
    ("For the tools downstream", [
        ("WINDOW_LENGTH", "L, the width to give Fi-NeMo (`-w`, `-W`) and modisco (`-w`)"),
        ("SCORED_REGIONS", "the regions narrowPeak of the file's rows (line i = row i), relative to the file's "
         "folder"),
    ]),
]


def _name(key: str, constants) -> str:
    """A row's name: the value of a constant of ``_constants``/``downstream.average``, or the key itself."""
    return getattr(constants, key) if key.isupper() and hasattr(constants, key) else key


def _constants():
    from genolift import _constants as C
    from genolift.downstream import average

    names = {k: getattr(C, k) for k in dir(C) if k.isupper() and isinstance(getattr(C, k), str)}
    names.update({k: getattr(average, k) for k in dir(average) if k.startswith("AVERAGED_")})
    return SimpleNamespace(**names), C


def required_names() -> set[str]:
    """Every dataset and attribute name genolift's code names: the page must describe each."""
    from genolift.run import provenance
    from genolift.variants.scores import SCORE_COLUMNS

    constants, C = _constants()
    names = {v for k, v in vars(constants).items() if k not in NOT_NAMES} | set(SCORE_COLUMNS)
    names |= set(C.SETTINGS) | set(C.OPTIONAL_SETTINGS) | set(C.PER_SHARD)
    cfg = SimpleNamespace(command_line="", model="m", regions="r", shard=None, extra_attrs={})
    names |= set(provenance.attributes(cfg, {}, None, 0, 0))
    return names


def _rows(groups, constants, columns: int) -> tuple[list[str], set[str]]:
    lines, seen = [], set()
    for title, rows in groups:
        lines += ["", f"**{title}**", ""]
        lines += (["| dataset | shape | dtype | written by | meaning |", "| --- | --- | --- | --- | --- |"]
                  if columns == 5 else ["| attribute | meaning |", "| --- | --- |"])
        for key, *rest in rows:
            name = _name(key, constants)
            seen.add(name)
            lines.append("| " + " | ".join([f"`{name}`", *rest]) + " |")
    return lines, seen


def render() -> str:
    """The generated section's text.

    Raises
    ------
    SystemExit : a name genolift writes has no words here.
    """
    constants, C = _constants()
    datasets, seen_d = _rows(DATASETS, constants, 5)
    attributes, seen_a = _rows(ATTRIBUTES, constants, 2)
    missing = sorted(required_names() - seen_d - seen_a)
    if missing:
        raise SystemExit(f"scripts/{SCRIPT}.py: no words for {', '.join(missing)}: add them to DATASETS or "
                         "ATTRIBUTES")
    head = ["### Datasets", "",
            "N rows (one per scored window, in the order of the regions file), L the window length, K the "
            "references per sequence. † float16 with `--score-dtype float16`."]
    settings = ", ".join(f"`{name}`" for name in C.SETTINGS)
    middle = ["", "### Attributes", "",
              "Attributes whose value would be None (a setting the command or rule does not have) are not "
              "written. The settings that decide the scores, which `merge` and `--resume` compare (and `average`, "
              f"all but the model, regions and genome and the batch and chunk sizes): {settings}."]
    return "\n".join(head + datasets + middle + attributes) + "\n"


if __name__ == "__main__":
    from docs_sections import main

    sys.exit(main(PAGE, SCRIPT, render, __doc__))
