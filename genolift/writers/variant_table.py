"""The variant scores table: p-values from a file's pooled null, and ``OUT.variant_scores.tsv`` beside it.

A ``variants`` file holds each score column as an (N,) float32 dataset
(:mod:`genolift.variants.scores`) and, with ``--null``, the null's base values
(``null_allele1`` ... (N, m), NaN where ``--null-total`` left an entry out).
:func:`add_pvalues` derives the null of every score from those, pools its finite
entries over all rows of the file, and writes ``NAME.pval`` and the ``null_size``
attribute: the run calls it on the assembled file before renaming it, ``merge``
on the merged file (so a merged run's p-values use the null of every shard).

:func:`write_table` writes the TSV: one row per variant × ALT in the file's row
order, the columns ``chr pos allele1 allele2 variant_id`` (pos 1-based), the
scores in variant-scorer's order, then genolift's ``effect`` (t(alt) − t(ref) of
the explained target) and ``null_size``.  A file made by ``genolift average`` gets
``NAME.mean`` columns instead (and ``NAME.mean.pval``), as variant-scorer's summary
across folds names them.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from .. import _constants as C
from ..errors import OutputError
from ..variants.scores import FOLD_MEANS, SCORE_COLUMNS, derived_scores, pvalue_columns, table_columns

#: Suffix of the table beside an HDF5 file ``OUT.h5``.
TABLE_SUFFIX = ".variant_scores.tsv"
#: Leading columns of the table and the datasets they come from.
LEADING = (("chr", C.VARIANT_CHROM), ("pos", C.VARIANT_POS), ("allele1", C.VARIANT_REF),
           ("allele2", C.VARIANT_ALT), ("variant_id", C.VARIANT_ID))
#: Root attribute of files made by ``genolift average`` (their columns are fold means).
AVERAGED_FROM = "averaged_from"


def table_path(path: str | Path) -> Path:
    """``OUT.h5`` -> ``OUT.variant_scores.tsv`` (the suffix added to other names)."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".h5") + TABLE_SUFFIX)


def is_variant_file(f: h5py.File) -> bool:
    return f.attrs.get("command") == "variants" and C.VARIANT_POS in f


def _null_base(f: h5py.File) -> dict[str, np.ndarray]:
    """The null's base values by the score name they stand for."""
    first = C.ALLELE1_PRED_COUNTS if C.ALLELE1_PRED_COUNTS in f else C.ALLELE1_PRED
    second = C.ALLELE2_PRED_COUNTS if first == C.ALLELE1_PRED_COUNTS else C.ALLELE2_PRED
    names = {C.NULL_ALLELE1: first, C.NULL_ALLELE2: second, C.NULL_JSD: C.JSD,
             C.NULL_ALLELE1_QUANTILE: C.ALLELE1_QUANTILE, C.NULL_ALLELE2_QUANTILE: C.ALLELE2_QUANTILE}
    return {score: f[name][()] for name, score in names.items() if name in f}


def add_pvalues(path: str | Path) -> None:
    """Write ``NAME.pval`` of every score with a tail and the ``null_size`` attribute into the variants
    file ``path`` (opened for writing), from its null datasets pooled over all its rows; nothing without a null."""
    with h5py.File(path, "r+") as f:
        if C.NULL_ALLELE1 not in f:
            return
        null = derived_scores(_null_base(f))
        observed = {name: f[name][()] for name in SCORE_COLUMNS if name in f}
        for name, values in pvalue_columns(observed, null).items():
            if name in f:
                f[name][...] = values
            else:
                f.create_dataset(name, data=values.astype(np.float32))
        f.attrs[C.NULL_SIZE] = int(np.isfinite(f[C.NULL_ALLELE1][()]).sum())


def _text(values: np.ndarray) -> list[str]:
    if values.dtype.kind in "OSU":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    if values.dtype.kind in "iu":
        return [str(int(v)) for v in values]
    return ["nan" if not np.isfinite(v) else f"{float(v):.9g}" for v in values]


def _columns(f: h5py.File) -> list[tuple[str, str]]:
    """(column, dataset) of the table of ``f``, after the leading columns."""
    scores = [name for name in SCORE_COLUMNS if name in f]
    if AVERAGED_FROM in f.attrs:
        columns = []
        for name in (*FOLD_MEANS, C.EFFECT):
            if name in f:
                columns.append((name + C.MEAN_SUFFIX, name))
                if name + C.PVAL_SUFFIX in f:
                    columns.append((name + C.MEAN_SUFFIX + C.PVAL_SUFFIX, name + C.PVAL_SUFFIX))
        return columns
    columns = [(name, name) for name in table_columns(scores, pvalues=True) if name in f]
    return columns + [(C.EFFECT, C.EFFECT)]


def write_table(path: str | Path, out: str | Path | None = None) -> Path:
    """Write the table of the complete variants file ``path`` to ``out`` (default :func:`table_path`),
    through a temporary file renamed at the end, so a failure leaves any earlier table whole.

    Raises
    ------
    OutputError : the table cannot be written.
    """
    out = table_path(path) if out is None else Path(out)
    with h5py.File(path, "r") as f:
        columns = [*LEADING, *_columns(f)]
        values = [_text(f[dataset][()]) for _, dataset in columns]
        null_size = None if AVERAGED_FROM in f.attrs else f.attrs.get(C.NULL_SIZE)
    header = [name for name, _ in columns]
    if null_size is not None:
        header.append(C.NULL_SIZE)
        values.append([str(int(null_size))] * len(values[0]))
    tmp = out.with_name(out.name + ".tmp")
    try:
        with open(tmp, "w") as handle:
            handle.write("\t".join(header) + "\n")
            handle.writelines("\t".join(row) + "\n" for row in zip(*values))
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{out}: writing the variant scores table failed ({exc.strerror or exc})") from None
    return out
