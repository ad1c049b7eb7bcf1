"""HDF5 score files, written incrementally in chunks of regions.

Layout (DESIGN §7); every array is indexed by region row i:

=========================  ==============  ==========================================
dataset                    shape, dtype    content
=========================  ==============  ==========================================
``input_seqs``             (N, L, 4) f4    one-hot input, channels A, C, G, T
``hyp_scores``             (N, L, 4) f4    hypothetical scores
``contrib_scores``         (N, L, 4) f4    hyp_scores · input_seqs (``score`` only)
``coords_chrom``           (N,) str        window chromosome (FASTA input: record name)
``coords_start/_end``      (N,) i8         window, 0-based half-open
``coords_name/_strand``    (N,) str        region name and strand from the input
``region_line``            (N,) i8         1-based line of the region in its file
``predictions``            (N,) f4         target t(x)
``reference_predictions``  (N, K) f4       target t(r_k)
``deltas``                 (N, K) f4       per-pair summation-to-delta error
``residuals``              (N,) f4         Σ contrib − (t(x) − mean_k t(r_k))
=========================  ==============  ==========================================

``input_seqs`` and ``hyp_scores`` at the root, channels last, are what
``modisco motifs -i FILE`` reads.  The file is written under
``NAME.partial`` and renamed to its final name only once complete.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from ..errors import OutputError
from ..regions import Window

FORMAT_NAME = "genolift-scores"
FORMAT_VERSION = 1
SCORE_DATASETS = ("input_seqs", "hyp_scores", "contrib_scores")
STRING_DATASETS = ("coords_chrom", "coords_name", "coords_strand")
INT_DATASETS = ("coords_start", "coords_end", "region_line")


def partial_path(path: str | Path) -> Path:
    """Where a file is written until it is complete."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


class ScoreWriter:
    """Create the datasets of an N-region file and fill them chunk by chunk.

    Parameters
    ----------
    path : final file name.
    n, length, k : regions, window length, references per region.
    with_contributions : also store ``contrib_scores``.
    attrs : provenance attributes written at the root.
    chunk_rows : HDF5 chunk height in regions.
    """

    def __init__(self, path, n: int, length: int, k: int, *, with_contributions: bool = True,
                 attrs: dict | None = None, chunk_rows: int = 64):
        self.path = Path(path)
        self.tmp = partial_path(self.path)
        self.n = n
        try:
            self.file = h5py.File(self.tmp, "w")
        except OSError as exc:
            raise OutputError(f"{self.tmp}: cannot create the output ({exc})") from None
        rows = max(1, min(chunk_rows, n))
        names = SCORE_DATASETS if with_contributions else SCORE_DATASETS[:2]
        for name in names:
            self.file.create_dataset(name, (n, length, 4), np.float32, chunks=(rows, length, 4),
                                     compression="gzip", compression_opts=1, shuffle=True)
        for name in STRING_DATASETS:
            self.file.create_dataset(name, (n,), h5py.string_dtype())
        for name in INT_DATASETS:
            self.file.create_dataset(name, (n,), np.int64)
        self.file.create_dataset("predictions", (n,), np.float32)
        self.file.create_dataset("residuals", (n,), np.float32)
        for name in ("reference_predictions", "deltas"):
            self.file.create_dataset(name, (n, k), np.float32)
        self.file.attrs.update({"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                                "rows_written": 0, "complete": False})
        self.file.attrs.update({k_: v for k_, v in (attrs or {}).items() if v is not None})

    def write(self, start: int, windows: Sequence[Window], arrays: dict[str, np.ndarray]) -> None:
        """Store rows ``start .. start + len(windows)``; ``arrays`` by dataset name."""
        stop = start + len(windows)
        f = self.file
        f["coords_chrom"][start:stop] = [w.chrom for w in windows]
        f["coords_name"][start:stop] = [w.name for w in windows]
        f["coords_strand"][start:stop] = [w.strand for w in windows]
        f["coords_start"][start:stop] = [w.start for w in windows]
        f["coords_end"][start:stop] = [w.end for w in windows]
        f["region_line"][start:stop] = [w.line for w in windows]
        for name, values in arrays.items():
            if name in f:
                f[name][start:stop] = values
        f.attrs["rows_written"] = stop
        f.flush()

    def finish(self, attrs: dict | None = None) -> Path:
        """Mark complete, close and move to the final name."""
        self.file.attrs.update({k: v for k, v in (attrs or {}).items() if v is not None})
        self.file.attrs["complete"] = True
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def close(self) -> None:
        """Close without finishing (the ``.partial`` file stays for inspection or resume)."""
        if self.file.id.valid:
            self.file.close()
