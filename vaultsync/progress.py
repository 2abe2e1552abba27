"""Progress of a long apply on stderr: a bar on a terminal, periodic counts elsewhere, failures as they happen.

A CI log has no terminal, so a bar redrawn in place would be noise there; a count line every few
seconds shows the job is alive and how far it got. Failures are told as they happen (a few, then
only counted: the result lists them grouped at the end). ``--quiet`` silences all of it. Nothing
here ever sees a value: outcomes carry aliases and value-free error messages only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vaultsync.console import Console, Progress
from vaultsync.plan import Outcome
from vaultsync.text import printable

CountLine = Callable[[int, int, int], str]


class ApplyProgress:
    """Called with the number of changes finished (like ``Progress``), and told of each outcome."""

    INTERVAL = 5.0  # seconds between count lines when stderr is not a terminal
    MIN_TOTAL = Progress.MIN_TOTAL  # shorter runs end before anyone wonders
    FAILURES_TOLD = 10  # failures printed as they happen; the rest are counted

    def __init__(
        self, console: Console, label: str, total: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.console = console
        self.label = label
        self.total = total
        self.done = 0
        self.failed = 0
        self._bar = Progress(console, label, total, clock=clock)
        self._clock = clock
        self._last = clock()
        self._counts = not self._bar.enabled and not console.quiet and total >= self.MIN_TOTAL

    def __call__(self, n: int) -> None:
        self.done += n
        self._bar(n)
        if self._counts:
            now = self._clock()
            if now - self._last >= self.INTERVAL and self.done < self.total:
                self._last = now
                self.console.info(self.count_line())

    def count_line(self) -> str:
        share = 100 * self.done // max(1, self.total)  # rounded down: 100 % only when all are done
        failed = f", {self.failed:,} failed" if self.failed else ""
        return f"{self.label}: {self.done:,}/{self.total:,} changes ({share} %){failed}"

    def outcome(self, outcome: Outcome) -> None:
        if outcome.status != "failed":
            return
        self.failed += 1
        if self.failed <= self.FAILURES_TOLD:
            self.console.info(f"FAILED: {outcome.action} {printable(outcome.alias)}: {printable(outcome.detail)}")
        if self.failed == self.FAILURES_TOLD:
            self.console.info("(further failures are counted, and listed by cause at the end)")

    def close(self) -> None:
        self._bar.close()
