"""Progress on stderr: a bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("genolift")


class Progress:
    """Regions done, pairs/s and ETA.

    Parameters
    ----------
    total : regions to score.
    pairs_per_region : K.
    enabled : False for ``--quiet`` (no bar; log lines still reach a --log file).
    every : seconds between log lines when stderr is not a terminal.
    """

    def __init__(self, total: int, pairs_per_region: int, enabled: bool = True, every: float = 30.0):
        self.total, self.k, self.every = total, pairs_per_region, every
        self.done = 0
        self.start = self.last = time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="region", file=sys.stderr, dynamic_ncols=True)

    def update(self, regions: int) -> None:
        self.done += regions
        now = time.perf_counter()
        rate = self.done * self.k / max(now - self.start, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix_str(f"{rate:,.0f} pairs/s", refresh=False)
            self.bar.update(regions)
        elif now - self.last >= self.every or self.done == self.total:
            self.last = now
            eta = (self.total - self.done) * self.k / max(rate, 1e-9)
            log.info("%d/%d regions, %.0f pairs/s, ETA %.0f s", self.done, self.total, rate, eta)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
