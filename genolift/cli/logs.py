"""Logging of the run commands and the command line recorded in the files (used by every command)."""

from __future__ import annotations

import logging
import os
import shlex
import sys

import click


def log_to_files(message: str) -> None:
    """Copy a final error to the --log file, if one is open."""
    for handler in logging.getLogger("genolift").handlers:
        if isinstance(handler, logging.FileHandler):
            handler.stream.write(message + "\n")
            handler.flush()


def command_line() -> str:
    """The command as typed, for provenance attributes."""
    obj = click.get_current_context().find_root().obj or {}
    return shlex.join(["genolift", *obj.get("argv", sys.argv[1:])])


def setup_logging(quiet: bool, log_file=None) -> None:
    """Log to stderr (warnings always, progress and info unless --quiet) and to ``log_file``.

    The log file gets every message with a time stamp, whatever --quiet says.
    Also quiets TensorFlow's own start-up chatter (set before it is imported).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logger = logging.getLogger("genolift")
    for old in logger.handlers:
        old.close()
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("genolift: %(message)s"))
    handler.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.addHandler(handler)
    if log_file is not None:
        try:
            to_file = logging.FileHandler(log_file, mode="a")
        except OSError as exc:
            raise click.UsageError(f"--log {log_file}: cannot be written ({exc.strerror})") from None
        to_file.setFormatter(logging.Formatter("%(asctime)s genolift %(levelname)s: %(message)s"))
        logger.addHandler(to_file)
    logger.setLevel(logging.INFO)
    logger.propagate = False
