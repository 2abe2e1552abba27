"""All terminal output goes through here: results to stdout, diagnostics to stderr."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

STYLES = {"green": "32", "yellow": "33", "red": "31", "magenta": "35", "bold": "1", "dim": "2", "cyan": "36"}


def wants_color(stream: TextIO, no_color_flag: bool) -> bool:
    """Colour only on a terminal, never with --no-color, a non-empty NO_COLOR (no-color.org) or TERM=dumb."""
    if no_color_flag or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


class Console:
    """``color`` styles results (stdout); ``err_color`` diagnostics (stderr), since either may be piped alone."""

    def __init__(
        self,
        *,
        color: bool = False,
        quiet: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        err_color: bool | None = None,
    ):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.color = color
        self.err_color = color if err_color is None else err_color
        self.quiet = quiet
        self.bar_shown = False  # a progress bar is on the last line of stderr (no newline after it)

    def clear_bar(self) -> None:
        """Erase the progress bar so a message starts on a clean line; the bar redraws on its next update."""
        if self.bar_shown:
            self.bar_shown = False
            self.err.write("\r\x1b[K")
            self.err.flush()

    def style(self, text: str, *names: str) -> str:
        """``text`` styled for stdout (plain unless stdout is a colour terminal)."""
        return _styled(text, names) if self.color else text

    def result(self, text: str) -> None:
        """Program output (plans, lists): stdout, never silenced."""
        self.clear_bar()
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def info(self, text: str) -> None:
        """Progress and context for people: stderr, silenced by --quiet."""
        if not self.quiet:
            self.clear_bar()
            self.err.write(text + "\n")
            self.err.flush()

    def log(self, text: str) -> None:
        """Request logs the user asked for with -v: stderr, even with --quiet."""
        self.clear_bar()
        self.err.write(text + "\n")
        self.err.flush()

    def warn(self, text: str) -> None:
        prefix = _styled("Warning: ", ("yellow", "bold")) if self.err_color else "Warning: "
        self.clear_bar()
        self.err.write(prefix + text + "\n")
        self.err.flush()

    def error(self, text: str) -> None:
        prefix = _styled("Error: ", ("red", "bold")) if self.err_color else "Error: "
        self.clear_bar()
        self.err.write(prefix + text + "\n")
        self.err.flush()


def _styled(text: str, names: tuple[str, ...]) -> str:
    if not names:
        return text
    return f"\x1b[{';'.join(STYLES[n] for n in names)}m{text}\x1b[0m"


class Progress:
    """A one-line progress bar on stderr: only on a terminal, without --quiet, and only for long runs.

    A run is long when it has at least ``MIN_TOTAL`` steps and is still going after ``DELAY``
    seconds; a quick run shows nothing. Redraws at most every ``INTERVAL`` seconds.
    """

    MIN_TOTAL = 200
    DELAY = 0.5
    INTERVAL = 0.1

    def __init__(
        self, console: Console, label: str, total: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.console = console
        self.label = label
        self.total = total
        self.done = 0
        self._clock = clock
        self._started = clock()
        self._last = float("-inf")
        self.enabled = total >= self.MIN_TOTAL and not console.quiet and _isatty(console.err)

    def __call__(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = self._clock()
        if now - self._started < self.DELAY:
            return
        if now - self._last >= self.INTERVAL or self.done == self.total:
            self._last = now
            width = 30
            filled = width * self.done // max(1, self.total)
            bar = "#" * filled + "-" * (width - filled)
            self.console.err.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            self.console.err.flush()
            self.console.bar_shown = True

    def close(self) -> None:
        self.console.clear_bar()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream is not a terminal
        return False
