"""Logos of one variant of a ``variants`` file: reference allele, alternate allele and their difference.

Three panels share the window's index axis: the reference window's
contributions, the alternate window's contributions (in its own positions:
right of an indel's allele they are the reference positions + ``shift``), and
the difference alt − ref on the reference positions
(:func:`genolift.variants.alt_on_reference`).  The allele is shaded in each.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from . import _constants as C
from .errors import PlotError
from .plot import _logo, _window, plotting_modules
from .variants.alignment import alt_on_reference
from .writers.reading import open_scores

NEEDS = (C.REF_CONTRIB_SCORES, C.ALT_CONTRIB_SCORES, C.VARIANT_ID, C.ALLELE_START, C.REF_LEN, C.ALT_LEN)


class PlottedVariant(NamedTuple):
    """What was drawn: the row, its window's positions [start, end) on the genome, and the delta (W, 4)."""

    row: int
    start: int
    end: int
    delta: np.ndarray


def _text(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def find_variant(f: h5py.File, variant: str) -> int:
    """Row of ``variant``: a row index, a variant ID, or its key ``chrom:pos:REF>ALT``."""
    n = f[C.VARIANT_ID].shape[0]
    if variant.isdigit():
        if int(variant) >= n:
            raise PlotError(f"variant index {variant} is out of range: the file has {n} variants (0..{n - 1})")
        return int(variant)
    ids = _text(f[C.VARIANT_ID][()])
    if variant in ids:
        return ids.index(variant)
    keys = [f"{c}:{p}:{r}>{a}" for c, p, r, a in zip(_text(f[C.VARIANT_CHROM][()]), f[C.VARIANT_POS][()],
                                                       _text(f[C.VARIANT_REF][()]), _text(f[C.VARIANT_ALT][()]))]
    if variant in keys:
        return keys.index(variant)
    raise PlotError(f"no variant {variant!r} in the file; give a row index, a variant ID or chrom:pos:REF>ALT")


def _read(scores: str | Path, variant: str) -> dict:
    with open_scores(scores, needs=NEEDS) as f:
        if f.attrs.get("command") != "variants":
            raise PlotError(f"{scores}: --variant needs a file written by genolift variants")
        row = find_variant(f, variant)
        values = {name: f[name][row] for name in (C.REF_CONTRIB_SCORES, C.ALT_CONTRIB_SCORES, C.ALLELE_START,
                                                  C.REF_LEN, C.ALT_LEN, C.VARIANT_POS, C.COORDS_START,
                                                  C.REF_PREDICTIONS, C.ALT_PREDICTIONS)}
        for name in (C.VARIANT_ID, C.VARIANT_CHROM, C.VARIANT_REF, C.VARIANT_ALT):
            values[name] = _text([f[name][row]])[0]
    values["row"] = row
    return values


def _shade(ax, start: int, length: int, lo: int, hi: int) -> None:
    a, b = max(start, lo), min(start + length, hi)
    if b > a:
        ax.axvspan(a - 0.5, b - 0.5, color="gold", alpha=0.3, zorder=0, linewidth=0)


def plot_variant(scores: str | Path, output: str | Path, variant: str = "0", window: str | None = None,
                 width: float = 12.0, height: float | None = None, dpi: int = 100) -> PlottedVariant:
    """Draw one variant's reference, alternate and delta logos to PNG, SVG or PDF.

    Parameters
    ----------
    scores : a file written by ``genolift variants``.
    variant : row index, variant ID or ``chrom:pos:REF>ALT``.
    window : ``START:END`` positions of the window to draw (0-based, default all).
    """
    output = Path(output)
    logomaker, plt = plotting_modules(output)
    v = _read(scores, variant)
    ref, alt = v[C.REF_CONTRIB_SCORES], v[C.ALT_CONTRIB_SCORES]
    h, rl, al = int(v[C.ALLELE_START]), int(v[C.REF_LEN]), int(v[C.ALT_LEN])
    delta = alt_on_reference(alt[None], np.array([h]), np.array([rl]), np.array([al]))[0] - ref
    lo, hi = _window(window, ref.shape[0])
    start = int(v[C.COORDS_START])
    name = f"{v[C.VARIANT_ID]}  {v[C.VARIANT_CHROM]}:{v[C.VARIANT_POS]} {v[C.VARIANT_REF]}>{v[C.VARIANT_ALT]}"
    effect = float(v[C.ALT_PREDICTIONS] - v[C.REF_PREDICTIONS])
    shift = f" (right of the allele: reference position + {al - rl})" if al != rl else ""
    panels = [(ref[lo:hi], f"{name}  reference allele, t = {float(v[C.REF_PREDICTIONS]):.3f}", rl),
              (alt[lo:hi], f"alternate allele, t = {float(v[C.ALT_PREDICTIONS]):.3f}{shift}", al),
              (delta[lo:hi], f"alt - ref on reference positions (sum = effect {effect:+.3f})", rl)]
    fig, axes = plt.subplots(3, 1, figsize=(width, height or 6.6), dpi=dpi, squeeze=False, sharex=True)
    for ax, (values, title, allele) in zip(axes[:, 0], panels):
        _logo(logomaker, ax, values, lo, title)
        _shade(ax, h, allele, lo, hi)
    limits = [min(axes[i, 0].get_ylim()[0] for i in (0, 1)), max(axes[i, 0].get_ylim()[1] for i in (0, 1))]
    for i in (0, 1):
        axes[i, 0].set_ylim(*limits)
    axes[2, 0].set_xlabel(f"position in the window (genome {v[C.VARIANT_CHROM]}:{start + lo}-{start + hi}, "
                          f"variant at {h})", fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=dpi)
    plt.close(fig)
    return PlottedVariant(int(v["row"]), start + lo, start + hi, delta[lo:hi])
