"""One run per output: a lock file in the output's partial directory.

The file ``NAME.partial/lock`` is created with ``O_CREAT | O_EXCL`` (one
creator wins) and holds the process id, host name and start time of the run
that writes ``NAME``.  A second run on the same output refuses at once and
names the first.  A lock left by a run that died (its process id is gone on
this host) is taken over with a warning; a lock from another host is never
taken over, since this host cannot tell whether that run still lives.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import uuid
from pathlib import Path

from ..errors import OutputError

log = logging.getLogger("genolift")

LOCK_NAME = "lock"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class OutputLock:
    """The claim of this process on the partial directory ``directory`` (created if missing).

    Use as a context manager, or call :meth:`acquire` and :meth:`release`.
    :meth:`release` removes only this process's own lock, then the directory
    if nothing else is left in it.
    """

    def __init__(self, directory: str | Path, output: str | Path | None = None):
        self.dir = Path(directory)
        self.path = self.dir / LOCK_NAME
        self.output = Path(output) if output is not None else self.dir
        self.token = uuid.uuid4().hex
        self.held = False

    def __enter__(self) -> "OutputLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _content(self) -> str:
        since = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since, "token": self.token})

    def acquire(self) -> None:
        """Take the lock, or raise :class:`OutputError` naming the run that holds it."""
        try:
            self.dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.dir}: cannot be created ({exc.strerror})") from None
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if not self._stale(holder):
                    raise OutputError(self._refusal(holder)) from None
                log.warning("%s: taking over the lock of a run that is gone (pid %s on %s, since %s)",
                            self.output, holder["pid"], holder["host"], holder["since"])
                self.path.unlink(missing_ok=True)
                continue
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot be created ({exc.strerror})") from None
            with os.fdopen(fd, "w") as handle:
                handle.write(self._content())
                handle.flush()
                os.fsync(handle.fileno())
            self.held = True
            return
        raise OutputError(self._refusal(self.holder()))

    def holder(self) -> dict | None:
        """pid, host and since of the lock's holder; None if the lock cannot be read (or is gone)."""
        try:
            data = json.loads(self.path.read_text())
            return {"pid": int(data["pid"]), "host": str(data["host"]), "since": str(data["since"]),
                    "token": str(data.get("token", ""))}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _stale(holder: dict | None) -> bool:
        return holder is not None and holder["host"] == socket.gethostname() and not _alive(holder["pid"])

    def _refusal(self, holder: dict | None) -> str:
        if holder is None:
            who = "another genolift run"
        else:
            who = f"another genolift run (pid {holder['pid']} on {holder['host']}, since {holder['since']})"
        return (f"{self.output}: {who} is writing this output; wait for it to end or choose another -o "
                f"(if that run is gone, delete {self.path})")

    def release(self) -> None:
        """Remove this process's lock (never another's), then the directory if it is empty."""
        if not self.held:
            return
        self.held = False
        holder = self.holder()
        if holder is not None and holder["token"] == self.token:
            self.path.unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:  # chunks of an interrupted run stay for --resume
            pass
