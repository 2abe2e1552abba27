"""Injected failures (status codes, delays, dropped connections, garbage bodies) for tests over real sockets."""

from __future__ import annotations

import fnmatch
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from vaultsync.devserver.vocab import VALUE_KEYS


@dataclass
class Fault:
    """One injected failure for the next ``times`` requests matching ``method`` and ``alias``.

    ``alias`` is a glob ("app-*"); for POST and PUT it is matched against the body's ``@id``.
    ``action`` says what happens (``delay`` seconds first, whatever the action):

    - a status code: answer with it (EDC's JSON error body for a 4xx, empty for a 5xx, or
      ``body``), adding ``Retry-After: retry_after`` when given; the request is not performed
    - "drop": close the connection without answering; not performed
    - "drop-after": perform the request, then close without answering (a lost answer)
    - "cut": perform the request, then send half of the answer and close
    - "truncated": perform the request, then answer 200 with cut-off JSON
    - "html": a proxy's 502 HTML error page; not performed
    - "no-value": answer 200 with a Secret document that has no value; not performed
    - "echo": answer 400 ValidationFailure quoting the sent value (as a careless server might)
    - "redirect": 302 to a login page; not performed
    - "delay": only the delay, then the normal answer
    """

    action: str | int
    method: str | None = None
    alias: str | None = None
    times: int = 1
    delay: float = 0.0
    retry_after: str | None = None
    body: str | None = None
    content_type: str = "application/json"

    def matches(self, method: str, alias: str | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.alias is None or (alias is not None and fnmatch.fnmatchcase(alias, self.alias))


@dataclass
class Faults:
    """The queue of pending faults; ``hits`` counts the requests a fault was applied to."""

    queue: deque[Fault] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self.lock)

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.queue.append(fault)

    def take(self, method: str, alias: str | None) -> Fault | None:
        with self.lock:
            for fault in self.queue:
                if fault.matches(method, alias):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.queue.remove(fault)
                    self.hits += 1
                    self._changed.notify_all()
                    return fault
        return None

    def wait_for_hits(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests met a fault (e.g. are inside a delay); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self.hits >= count, timeout)

    def clear(self) -> None:
        with self.lock:
            self.queue.clear()


def body_id(body: bytes) -> str | None:
    """The ``@id`` of a POST/PUT body, so faults can target one alias's writes."""
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return None
    alias = doc.get("@id") if isinstance(doc, dict) else None
    return alias if isinstance(alias, str) else None


def body_value(body: bytes) -> Any:
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    return next((doc[k] for k in VALUE_KEYS if k in doc), None)
