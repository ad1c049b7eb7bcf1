"""Regions to score: BED, narrowPeak and FASTA-of-sequences input.

A region file is turned into a list of :class:`Window` records of exactly the
model's input length.  BED windows are centred on the narrowPeak summit
(column 10) when it is given and non-negative, else on the interval's centre:
for an even length ``L`` and centre ``c`` the window is ``[c - L//2, c - L//2 + L)``.
Coordinates are 0-based, half-open, as in BED.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Iterator, NamedTuple

from .errors import RegionError

HEADER_PREFIXES = ("#", "track", "browser")


class Window(NamedTuple):
    """One scored window.

    Attributes
    ----------
    chrom, start, end : the window on the genome (0-based, half-open);
        for FASTA input ``chrom`` is the record name and start/end span it.
    strand : ``+``, ``-`` or ``.`` as given in the input (``.`` if absent).
    name : the region's name (column 4, or ``chrom:start-end`` if absent).
    line : 1-based line number of the region in its source file.
    """

    chrom: str
    start: int
    end: int
    strand: str
    name: str
    line: int

    @property
    def key(self) -> str:
        """Stable text key used to seed this window's references."""
        return f"{self.chrom}:{self.start}-{self.end}"


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a text file, gzip-compressed or not, with universal newlines."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
    except FileNotFoundError:
        raise RegionError(f"{path}: no such file; check the regions path") from None
    except OSError as exc:
        raise RegionError(f"{path}: cannot be read ({exc.strerror})") from None
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def is_fasta(path: str | Path) -> bool:
    """True when the file's first non-empty line starts with ``>``."""
    with open_text(path) as handle:
        for line in handle:
            if line.strip():
                return line.lstrip().startswith(">")
    return False


def _parse_int(text: str, what: str, path: Path, lineno: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RegionError(
            f"{path}:{lineno}: {what} {text!r} is not an integer; BED columns 2 and 3 "
            "must be whole numbers"
        ) from None
    return value


def center_window(start: int, end: int, summit: int | None, length: int) -> tuple[int, int]:
    """Window of ``length`` bases around ``start + summit`` or the interval centre.

    Returns
    -------
    (int, int) : window start and end (0-based, half-open; start may be < 0).
    """
    centre = start + summit if summit is not None and summit >= 0 else (start + end) // 2
    left = centre - length // 2
    return left, left + length


def _parse_bed_line(fields: list[str], path: Path, lineno: int, length: int) -> Window:
    if len(fields) < 3:
        raise RegionError(
            f"{path}:{lineno}: {len(fields)} column(s), a BED line needs at least "
            "chrom, start and end separated by tabs"
        )
    chrom = fields[0]
    start = _parse_int(fields[1], "start", path, lineno)
    end = _parse_int(fields[2], "end", path, lineno)
    if start < 0:
        raise RegionError(f"{path}:{lineno}: negative start {start}; BED coordinates are >= 0")
    if end <= start:
        raise RegionError(f"{path}:{lineno}: end {end} is not after start {start}")
    name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else f"{chrom}:{start}-{end}"
    strand = fields[5] if len(fields) > 5 and fields[5] in ("+", "-", ".") else "."
    summit = None
    if len(fields) >= 10:
        summit = _parse_int(fields[9], "summit", path, lineno)
        if summit >= end - start:
            raise RegionError(
                f"{path}:{lineno}: summit offset {summit} lies outside the peak "
                f"({end - start} bp); column 10 is an offset from the start"
            )
    w_start, w_end = center_window(start, end, summit, length)
    return Window(chrom, w_start, w_end, strand, name, lineno)


def iter_bed(path: str | Path, length: int) -> Iterator[Window]:
    """Yield windows of ``length`` bases for each data line of a BED/narrowPeak file.

    Header lines (``#``, ``track``, ``browser``) and blank lines are skipped;
    fields are tab-separated (runs of spaces are accepted too).
    """
    path = Path(path)
    columns = None
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith(HEADER_PREFIXES):
                continue
            fields = text.split("\t") if "\t" in text else text.split()
            if columns is not None and len(fields) != columns and len(fields) >= 3:
                raise RegionError(
                    f"{path}:{lineno}: {len(fields)} columns where the first region has {columns}; "
                    "every line of a BED file needs the same columns"
                )
            columns = len(fields) if columns is None else columns
            yield _parse_bed_line(fields, path, lineno, length)


def read_bed(path: str | Path, length: int) -> list[Window]:
    """All windows of a BED/narrowPeak file; raises :class:`RegionError` if it has none."""
    try:
        windows = list(iter_bed(path, length))
    except UnicodeDecodeError:
        raise RegionError(f"{path}: not a text BED file") from None
    if not windows:
        raise RegionError(f"{path}: no regions found; the file is empty or holds only headers")
    return windows


def duplicates(windows: list[Window]) -> int:
    """Number of windows that repeat an earlier window's coordinates."""
    return len(windows) - len({w.key for w in windows})


def read_fasta_sequences(path: str | Path, length: int) -> tuple[list[Window], list[str]]:
    """Records of a FASTA of sequences, each of exactly ``length`` bases.

    Returns
    -------
    windows : list of Window, one per record (chrom = record name, 0..length).
    sequences : list of str, the sequences as written (case kept).
    """
    path = Path(path)
    names: list[tuple[str, int]] = []
    chunks: list[list[str]] = []
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.strip()
            if text.startswith(">"):
                names.append((text[1:].split()[0] if text[1:].strip() else f"seq{len(names)}", lineno))
                chunks.append([])
            elif text:
                if not chunks:
                    raise RegionError(f"{path}:{lineno}: sequence before the first '>' header")
                chunks[-1].append(text)
    if not names:
        raise RegionError(f"{path}: no FASTA records found")
    windows, sequences = [], []
    for (name, lineno), parts in zip(names, chunks):
        seq = "".join(parts)
        if len(seq) != length:
            raise RegionError(
                f"{path}:{lineno}: sequence {name!r} has {len(seq)} bases, the model "
                f"needs exactly {length}; trim or pad the FASTA records"
            )
        windows.append(Window(name, 0, length, "+", name, lineno))
        sequences.append(seq)
    return windows, sequences
