"""Contribution logos of scored regions (logomaker on matplotlib, headless).

The top panel draws each base scaled by its projected contribution
(hyp[l, b] · x[l, b]): positive up, negative down, in the usual colours
(A green, C blue, G orange, T red).  Below it, optionally, the hypothetical
scores of all four bases as a logo or a heatmap.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from . import _constants as C
from .errors import OutputError, PlotError
from .writers.reading import open_scores

FORMATS = (".png", ".svg", ".pdf")


class Plotted(NamedTuple):
    """What was drawn: the row, its window, and the projected scores (W, 4)."""

    row: int
    start: int
    end: int
    projected: np.ndarray


def find_row(f: h5py.File, region: str) -> int:
    """Row of ``region``: an index, a region name, or ``chrom:start-end`` (window overlap)."""
    n = f[C.COORDS_START].shape[0]
    if region.isdigit():
        if int(region) >= n:
            raise PlotError(f"region index {region} is out of range: the file has {n} regions (0..{n - 1})")
        return int(region)
    names = [x.decode() if isinstance(x, bytes) else x for x in f[C.COORDS_NAME][()]]
    if region in names:
        return names.index(region)
    match = re.fullmatch(r"([^:]+):(\d+)-(\d+)", region.replace(",", ""))
    if match:
        chrom, lo, hi = match.group(1), int(match.group(2)), int(match.group(3))
        chroms = np.array([x.decode() if isinstance(x, bytes) else x for x in f[C.COORDS_CHROM][()]])
        hits = np.flatnonzero((chroms == chrom) & (f[C.COORDS_START][()] < hi) & (f[C.COORDS_END][()] > lo))
        if len(hits):
            return int(hits[0])
    raise PlotError(f"no region {region!r} in the file; give a row index, a region name or chrom:start-end")


def _window(spec: str | None, length: int) -> tuple[int, int]:
    if spec is None:
        return 0, length
    match = re.fullmatch(r"(\d+):(\d+)", spec)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)) <= length:
        raise PlotError(f"--window {spec!r}: expected START:END with 0 <= START < END <= {length}")
    return int(match.group(1)), int(match.group(2))


def plot_region(scores: str | Path, output: str | Path, region: str = "0", window: str | None = None,
                lower: str = "logo", width: float = 12.0, height: float | None = None,
                dpi: int = 100) -> Plotted:
    """Draw one region's contribution logo (and hypothetical panel) to PNG, SVG or PDF."""
    output = Path(output)
    logomaker, plt = plotting_modules(output)
    with open_scores(scores, needs=(C.HYP_SCORES, C.INPUT_SEQS)) as f:
        row = find_row(f, region)
        hyp, x = f[C.HYP_SCORES][row], f[C.INPUT_SEQS][row]
        chrom = f[C.COORDS_CHROM][row]
        chrom = chrom.decode() if isinstance(chrom, bytes) else chrom
        start = int(f[C.COORDS_START][row])
        name = f[C.COORDS_NAME][row]
        name = name.decode() if isinstance(name, bytes) else name
    lo, hi = _window(window, hyp.shape[0])
    projected = (hyp * x)[lo:hi]
    panels = 1 if lower == "none" else 2
    fig, axes = plt.subplots(panels, 1, figsize=(width, height or 2.2 * panels), dpi=dpi, squeeze=False)
    _logo(logomaker, axes[0, 0], projected, lo, f"{name}  {chrom}:{start + lo}-{start + hi}  contributions")
    if lower == "logo":
        _logo(logomaker, axes[1, 0], hyp[lo:hi], lo, "hypothetical scores")
    elif lower == "heatmap":
        _heatmap(fig, axes[1, 0], hyp[lo:hi], lo)
    fig.tight_layout()
    fig.savefig(output, dpi=dpi)
    plt.close(fig)
    return Plotted(row, start + lo, start + hi, projected)


def _logo(logomaker, ax, values: np.ndarray, offset: int, title: str) -> None:
    import pandas as pd

    frame = pd.DataFrame(values, columns=list("ACGT"), index=np.arange(offset, offset + len(values)))
    logomaker.Logo(frame, ax=ax, color_scheme="classic", flip_below=False)
    ax.axhline(0, color="0.6", linewidth=0.5)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlim(offset - 0.5, offset + len(values) - 0.5)


def _heatmap(fig, ax, values: np.ndarray, offset: int) -> None:
    limit = float(np.abs(values).max()) or 1.0
    image = ax.imshow(values.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                      extent=(offset - 0.5, offset + len(values) - 0.5, 3.5, -0.5), interpolation="nearest")
    ax.set_yticks(range(4), list("ACGT"))
    ax.set_title("hypothetical scores", fontsize=9, loc="left")
    fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)


def plotting_modules(output: Path):
    """(logomaker, matplotlib.pyplot) on the headless backend, after checking ``output``'s format."""
    if output.suffix.lower() not in FORMATS:
        raise OutputError(f"{output}: the file name must end in .png, .svg or .pdf")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import logomaker
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("genolift plot needs logomaker and matplotlib: pip install 'genolift[plot]'") from None
    return logomaker, plt
