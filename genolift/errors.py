"""Exceptions raised by genolift.

Every error subclasses :class:`GenoliftError` and the built-in exception it
refines, so callers can catch either.  Messages name the file, line, region or
layer at fault and say what to do; the command line prints them as one line.
"""


class GenoliftError(Exception):
    """Base class of every error genolift raises on purpose."""


class RegionError(GenoliftError, ValueError):
    """A region file (BED, narrowPeak, FASTA of sequences) cannot be used."""


class GenomeError(GenoliftError, ValueError):
    """The genome FASTA is missing, unreadable or lacks a chromosome."""


class ModelError(GenoliftError, ValueError):
    """A model file cannot be read or holds something genolift refuses."""


class UnsupportedLayerError(ModelError):
    """The model uses layers genolift has no rule for (all are listed)."""


class ReferencesError(GenoliftError, ValueError):
    """References cannot be built for the given sequences or options."""


class OutputError(GenoliftError, OSError):
    """The output cannot be written, or would overwrite an existing file."""


class TargetError(GenoliftError, ValueError):
    """The requested output or task does not exist or cannot be explained."""


class PlotError(GenoliftError, ValueError):
    """The region or window to plot does not exist, or plotting is not possible."""


class DeviceError(GenoliftError, ValueError):
    """A requested device or compute precision is not available on this machine."""


class InterruptedRun(GenoliftError):
    """SIGINT/SIGTERM stopped the run after a whole chunk; it can be resumed."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class MethodError(GenoliftError, ValueError):
    """An attribution method's options are out of range or do not fit the method."""
