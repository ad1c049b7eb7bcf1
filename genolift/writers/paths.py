"""Checks on output paths before anything is written: never clobber an input, never an output unasked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..errors import OutputError


def check_output(path: str | Path, force: bool) -> None:
    """Refuse to overwrite an existing output without ``force``, or to write where it cannot.

    Raises
    ------
    OutputError : ``path`` is a directory, exists (without ``force``), or its directory is missing or read-only.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; -o needs a file name")
    if path.exists() and not force:
        raise OutputError(f"{path}: exists already; pass --force to overwrite it or choose another -o")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: directory {parent} is not writable")


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the names it resolves to
        return a.resolve() == b.resolve()


def refuse_clobbering(outputs: Iterable[tuple[str, str | Path]],
                      inputs: Iterable[tuple[str, str | Path | None]]) -> None:
    """Refuse outputs that are one of the inputs, or one another, whatever ``--force`` says.

    Parameters
    ----------
    outputs : (option, path) of every file the run will write, e.g. ``("-o", "scores.h5")``.
    inputs : (what, path) of every file it reads, e.g. ``("the regions file", "peaks.bed")``; None paths skipped.

    Raises
    ------
    OutputError : naming the option and the input it would overwrite.
    """
    outputs = [(option, Path(path)) for option, path in outputs]
    inputs = [(what, Path(path)) for what, path in inputs if path is not None]
    for i, (option, path) in enumerate(outputs):
        for what, source in inputs:
            if _same(path, source):
                raise OutputError(f"{option} {path}: is {what}; it would be overwritten, so it is refused "
                                  "(--force or not); choose another output name")
        for other_option, other in outputs[:i]:
            if _same(path, other):
                raise OutputError(f"{option} {path}: is also the output of {other_option}; give each output "
                                  "its own name")
