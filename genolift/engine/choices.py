"""Compilations chosen by ``auto`` kept on disk, so every process of a run takes the same one.

``auto`` (:class:`~genolift.engine.compile.Step`) times plain and XLA on the
first batch of each shape; the two give results that differ by float
round-off, so two processes that chose differently (a resumed run, the shards
of one run, a workflow's jobs) would not give the same bits.  The first
process to measure a step therefore writes its choice to a small JSON record,
and every later process reads it instead of measuring.

A record is named by the SHA-256 of what decides the step's speed and
results (:func:`record_fields`): the model file's digest, the step's settings
and batch shape, its input shapes and dtypes, the device kind (the GPU model
or the CPU model and core count; not its index, so jobs on two GPUs of one
kind share a choice), the environment variables that change TensorFlow's
kernels (oneDNN, XLA flags, determinism), the backend and its, Keras's and
genolift's versions.
Records live in ``$GENOLIFT_CACHE_DIR/compile``, else
``$XDG_CACHE_HOME/genolift/compile``, else ``~/.cache/genolift/compile``;
deleting that folder makes ``auto`` measure again.

Writing is first-writer-wins and atomic: the record is written to a
temporary file in the same folder and hard-linked to its name, which fails
when the name exists (where hard links are not supported, the first process
to create ``<record>.claim`` with ``O_CREAT | O_EXCL`` renames its temporary
file to the name).  A process that measured but lost the race takes the
winner's choice (:func:`keep` returns it).  Records appear whole, so one that
cannot be read, or that names other fields (another version's), is broken:
it is ignored with one warning line naming it, removed, and the step measured
again and recorded anew; a folder that cannot be written never fails a run:
the choice is then kept for the process only (logged once).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from .. import __version__
from .._cache import cache_root, ignore_entry, keras_version, reason

log = logging.getLogger("genolift")

#: Version of the record layout: a record of another version is ignored.
FORMAT = 1
#: The compilations a record may name.
CHOICES = ("plain", "xla")
#: Environment variables that change TensorFlow's or XLA's kernels: part of what names a record.
KERNEL_ENVIRONMENT = ("TF_ENABLE_ONEDNN_OPTS", "TF_XLA_FLAGS", "XLA_FLAGS", "TF_DETERMINISTIC_OPS",
                      "TF_CUDNN_DETERMINISTIC")
#: Folders that could not be written, each logged once.
_UNWRITABLE: set = set()


def cache_folder() -> Path:
    """The folder of the records (read from the environment on every call)."""
    return cache_root() / "compile"


def lasting(key) -> bool:
    """Whether a step key can name a record: its first item is a model file's digest (a string).

    Keys of models built in memory start with the object's id, which means
    nothing to another process; their choices stay in the process.
    """
    return isinstance(key, tuple) and bool(key) and isinstance(key[0], str) and bool(key[0])


def device_kind(device: str | None, xp=None) -> str:
    """What a device is, for a record: ``GPU <name> <compute capability>`` or ``CPU <model> x<cores>``.

    ``device`` is a device name of backend ``xp`` (default: the default backend), or None
    for the backend's default device (the first GPU, else the CPU).  The index is left out.
    """
    if xp is None:
        from .backends import load

        xp = load()
    return _device_kind(device or xp.default_device(), xp.NAME)


@functools.lru_cache(maxsize=None)
def _device_kind(device: str, backend: str) -> str:
    from .backends import load

    xp = load(backend)
    if not xp.is_gpu(device):
        return f"CPU {_cpu_model()} x{os.cpu_count()}"
    return f"GPU {xp.gpu_name(device)}"


def _cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else the platform's processor or machine."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=None)
def _versions(backend: str) -> dict:
    from .backends import load

    return {"genolift": __version__, "backend": backend, backend: load(backend).version(), "keras": keras_version()}


def record_fields(key: tuple, signature: list, device: str | None, xp=None) -> dict:
    """What names a step's record: key (model digest, settings, shape), inputs, device kind, kernel
    environment (:data:`KERNEL_ENVIRONMENT`), backend and versions.

    Parameters
    ----------
    key : the step's key, its model digest first (:func:`lasting`).
    signature : the step's inputs, :class:`~genolift.engine.backends.Spec` each.
    device : the device of its first call (None: the backend's default).
    xp : the backend module (default: :func:`~genolift.engine.backends.default_backend`).
    """
    if xp is None:
        from .backends import load

        xp = load()
    inputs = [[list(spec.shape), spec.dtype] for spec in signature]
    environment = {name: os.environ[name] for name in KERNEL_ENVIRONMENT if name in os.environ}
    return {"format": FORMAT, "model": key[0], "step": repr(tuple(key[1:])), "inputs": inputs,
            "device": device_kind(device, xp), "environment": environment, **_versions(xp.NAME)}


def record_path(fields: dict, folder: Path | None = None) -> Path:
    """The record file of ``fields`` in ``folder`` (default :func:`cache_folder`)."""
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()
    return (folder or cache_folder()) / f"{digest[:40]}.json"


def recall(fields: dict) -> str | None:
    """The compilation recorded for ``fields``, or None (no record, or one that cannot be used).

    A record that cannot be read or parsed, or that names other fields, is
    reported in one warning line and removed (so that the next writer
    replaces it).
    """
    path = record_path(fields)
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            text = handle.read(1 << 16)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        ignore_entry(path, reason(exc), "measuring the compilations again")
        return None
    choice = _parsed(text, fields)
    if choice is None:
        ignore_entry(path, _fault(text, fields), "measuring the compilations again and replacing it")
        _discard(path, stat)
    return choice


def _parsed(text: bytes, fields: dict) -> str | None:
    """The choice of a record's text when it is a valid record of ``fields``, else None."""
    try:
        record = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("fields") != fields:
        return None
    choice = record.get("choice")
    return choice if choice in CHOICES else None


def _fault(text: bytes, fields: dict) -> str:
    """Why a record's text is not a usable record of ``fields``, in a few words."""
    try:
        record = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return f"not a whole JSON record ({len(text)} bytes)"
    if not isinstance(record, dict) or record.get("fields") != fields:
        return "a record of other fields (another version or setting)"
    return f"names no known compilation ({str(record.get('choice'))[:20]!r})"


def _discard(path: Path, stat: os.stat_result) -> None:
    """Remove the broken record at ``path`` (and its claim) if it is still the file read, not a replacement.

    Records appear whole (linked or renamed into place), so one that cannot
    be used is never one being written.
    """
    try:
        now = os.stat(path)
        if (now.st_ino, now.st_dev) == (stat.st_ino, stat.st_dev):
            os.unlink(path)
            _claim(path).unlink(missing_ok=True)
    except OSError:
        pass


def keep(fields: dict, choice: str, seconds: dict) -> str:
    """Record ``choice`` for ``fields`` unless a record exists; returns the choice that holds.

    Parameters
    ----------
    fields : :func:`record_fields` of the step.
    choice : the compilation this process measured as the faster.
    seconds : {compilation: seconds of its timed runs}, kept in the record for reading.

    Returns
    -------
    The recorded choice: ``choice`` when this process wrote the record, the
    existing record's choice when another process was first, and ``choice``
    when the folder cannot be written or the existing record cannot be read.
    """
    folder = cache_folder()
    text = json.dumps({"choice": choice, "seconds": seconds, "fields": fields}, indent=1, sort_keys=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = _write_once(record_path(fields, folder), text.encode("utf-8"))
    except OSError as exc:
        if str(folder) not in _UNWRITABLE:
            _UNWRITABLE.add(str(folder))
            log.info("compile: choices are kept for this process only: %s cannot be written (%s)", folder, exc)
        return choice
    if written:
        log.debug("compile: recorded %s in %s", choice, record_path(fields, folder))
        return choice
    return recall(fields) or choice


def _write_once(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically unless it exists; False when it existed.

    The data go to a temporary file in the same folder, hard-linked to
    ``path`` (the link fails when ``path`` exists); where the file system has
    no hard links, the temporary file is renamed to ``path`` by the process
    that claims it first (:func:`_claim_and_rename`).
    """
    fd, temporary = tempfile.mkstemp(prefix=".record-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
        return _claim_and_rename(path, temporary)
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _claim(path: Path) -> Path:
    """The claim file of a record, where hard links are missing."""
    return path.with_name(path.name + ".claim")


def _claim_and_rename(path: Path, temporary: str) -> bool:
    """Rename ``temporary`` to ``path`` if this process is the first to create the record's claim
    (``O_CREAT | O_EXCL``); False when another process claimed it."""
    try:
        os.close(os.open(_claim(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    os.replace(temporary, path)
    return True
