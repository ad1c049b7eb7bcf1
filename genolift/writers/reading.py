"""Opening a finished score file for reading (``merge``, ``bigwig``, ``plot``), with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import h5py

from .. import _constants as C
from ..errors import OutputError


def open_scores(path: str | Path, needs: Sequence[str] = ()) -> h5py.File:
    """The complete genolift score file ``path``, open read-only.

    Parameters
    ----------
    path : a file written by ``score``, ``hypothetical``, ``ism`` or ``merge``.
    needs : datasets the caller reads (e.g. ``hyp_scores``); a file without them is refused.

    Raises
    ------
    OutputError : the file is missing, not HDF5, not a complete genolift score file, or lacks a dataset in ``needs``.
    """
    path = Path(path)
    if not path.exists():
        raise OutputError(f"{path}: no such score file")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise OutputError(f"{path}: not an HDF5 file; give a file written by genolift score or hypothetical") from None
    if f.attrs.get(C.FORMAT) != C.FORMAT_NAME or not f.attrs.get(C.COMPLETE) or C.COORDS_START not in f:
        f.close()
        raise OutputError(f"{path}: not a complete genolift score file")
    missing = [name for name in needs if name not in f]
    if missing:
        command = f.attrs.get("command", "another command")
        f.close()
        hint = ("; `genolift export --allele ref|alt` exports one allele, `genolift plot --variant ID` draws one"
                if command == "variants" else "")
        raise OutputError(f"{path}: has no {', '.join(missing)} (it was written by {command}); "
                          f"give a file written by genolift score or hypothetical{hint}")
    return f
