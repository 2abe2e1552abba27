"""All terminal output goes through here: results to stdout, diagnostics to stderr."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

STYLES = {"green": "32", "yellow": "33", "red": "31", "magenta": "35", "bold": "1", "dim": "2", "cyan": "36"}


def wants_color(stream: TextIO, no_color_flag: bool) -> bool:
    if no_color_flag or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


class Console:
    def __init__(
        self,
        *,
        color: bool = False,
        quiet: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.color = color
        self.quiet = quiet

    def style(self, text: str, *names: str) -> str:
        if not self.color or not names:
            return text
        codes = ";".join(STYLES[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def result(self, text: str) -> None:
        """Program output (plans, lists): stdout, never silenced."""
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def info(self, text: str) -> None:
        """Progress and context for people: stderr, silenced by --quiet."""
        if not self.quiet:
            self.err.write(text + "\n")
            self.err.flush()

    def warn(self, text: str) -> None:
        self.err.write(self.style("Warning: ", "yellow", "bold") + text + "\n")
        self.err.flush()

    def error(self, text: str) -> None:
        self.err.write(self.style("Error: ", "red", "bold") + text + "\n")
        self.err.flush()


class Progress:
    """A one-line progress counter on stderr, only on a terminal and only for long runs."""

    MIN_TOTAL = 200
    INTERVAL = 0.1

    def __init__(self, console: Console, label: str, total: int) -> None:
        self.console = console
        self.label = label
        self.total = total
        self.done = 0
        self._last = 0.0
        self.enabled = total >= self.MIN_TOTAL and not console.quiet and console.err.isatty()

    def __call__(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= self.INTERVAL or self.done == self.total:
            self._last = now
            width = 30
            filled = width * self.done // max(1, self.total)
            bar = "#" * filled + "-" * (width - filled)
            self.console.err.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            self.console.err.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.console.err.write("\r\x1b[K")
            self.console.err.flush()
