"""A circuit breaker shared by every request of one client: a connector that is gone stops the run.

Each request retries on its own, so without a shared view a connector that dies mid-apply costs
every pending change its full retry budget: thousands of changes, ten connection attempts a
second, for as long as the CI job lets it run. The breaker counts connection failures in a row
across all workers (refused or reset connections, connect timeouts; never an HTTP answer, which
proves the connector is there) and, after a short streak, trips: no request is sent or retried
any more, and the engine starts no further change.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from vaultsync.console import Console
from vaultsync.errors import TransportError, VaultsyncError
from vaultsync.plan import Outcome
from vaultsync.text import printable

STREAK = 8  # failures in a row, across all requests: a whole --parallelism wave and then some
PROBE_CONNECT_TIMEOUT = 5.0  # seconds to connect once tripped: a host that drops packets must not hold the exit


class ConnectorDown(TransportError):
    """A request not sent (or not retried) because the breaker tripped."""


class Breaker:
    """Trips after ``threshold`` connection failures in a row; any HTTP answer resets the count.

    The threshold is never below one request's own attempts (``--max-retries`` + 1), so a single
    request keeps its full retry budget: the breaker only ends runs where many requests fail.
    """

    def __init__(self, threshold: int = STREAK) -> None:
        self.threshold = max(1, threshold)
        self.streak = 0
        self.reason: str | None = None  # set when tripped: the last failure, in words
        self.failures = 0  # connection failures seen while tripped or on the way there (for the summary)
        self.probing = False  # let through after a trip, to find out whether the connector is back

    @property
    def tripped(self) -> bool:
        return self.reason is not None

    def failure(self, reason: str) -> None:
        self.streak += 1
        self.failures += 1
        if self.streak >= self.threshold and self.reason is None:
            self.reason = reason

    def success(self) -> None:
        self.streak = 0
        self.reason = None
        self.probing = False

    def probe(self) -> None:
        """Let requests through again (to record the state and release the lock if the connector is
        back), but trip again at the first connection failure, without retrying it."""
        self.reason = None
        self.streak = self.threshold - 1
        self.probing = True

    def check(self, method: str, url: str) -> None:
        """Refuse to send while tripped."""
        if self.reason is not None:
            raise ConnectorDown(f"{method} {url}: {self.reason} (not sent: {self.describe()})")

    def describe(self) -> str:
        return f"the connector stopped answering: {self.threshold} connection failures in a row"


def connection_failure(exc: Exception) -> bool:
    """Whether ``exc`` says the connector is unreachable: refused, reset or closed connections and
    connect timeouts. Not read timeouts (a slow connector is there) and not TLS failures (retrying
    does not help; they fail on their own)."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return True
    return isinstance(exc, httpx.ConnectError) and "SSL" not in str(exc)


class StateNotRecorded(VaultsyncError):
    """The writes ended but the state could not be written; carries their outcomes to show."""

    def __init__(self, message: str, outcomes: Sequence[Outcome]) -> None:
        super().__init__(message)
        self.outcomes = list(outcomes)


def connector_gone(console: Console, breaker: Breaker, url: str, outcomes: Sequence[Outcome]) -> None:
    """If the breaker stopped the run, say so once, then let one attempt through to record the state."""
    if not breaker.tripped:
        return
    waiting = sum(1 for o in outcomes if o.status == "skipped")
    console.warn(
        f"the connector at {printable(url)} stopped answering ({breaker.threshold} connection failures in a row, "
        f"the last: {breaker.reason}): no further change was started ({waiting:,} not started). "
        "Trying once to record the state and release the lock"
    )
    breaker.probe()
