"""The writer thread: chunk writes run beside the engine, at most one chunk behind it."""

from __future__ import annotations

import queue
import threading
from typing import Callable


class BackgroundWrites:
    """Jobs (chunk writes) on one thread of their own.

    A failed job's exception is raised by the next :meth:`submit` or
    :meth:`wait`; jobs after a failure are skipped.  :meth:`close` lets queued
    jobs finish, so every chunk scored before an interruption is kept.
    Use as a context manager (closes on exit).
    """

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def __enter__(self) -> "BackgroundWrites":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                if self.error is None:
                    job()
            except BaseException as exc:  # handed to the scoring thread
                self.error = exc
            finally:
                self.jobs.task_done()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job``; blocks while the previous one is still queued; raises an earlier job's error."""
        self._raise()
        self.jobs.put(job)

    def wait(self) -> None:
        """Block until every submitted job is done; raise a job's error."""
        self.jobs.join()
        self._raise()

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()
