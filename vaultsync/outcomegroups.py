"""Failed and not-started changes told in groups: one line per cause, not one per alias.

A connector that dies mid-apply, or a policy that refuses every write, fails thousands of changes
for one reason; a line per alias buries that reason. Changes that failed alike (the same message
once the alias and the retry count are set aside) share a line with their count and a few aliases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from vaultsync.plan import Outcome
from vaultsync.text import printable

SHOWN = 3  # aliases named on a group's line
SMALL = 3  # a group this small keeps one line per alias, with its own message
_RETRY_NOTE = re.compile(r" \((gave up after \d+ attempts|not retried: [^()]*|not sent: [^()]*)\)")
ALIAS = "\x00"  # stands for the alias while messages are compared


def cause(outcome: Outcome) -> str:
    """The outcome's message with its alias and its retry count left out, to compare with others'."""
    text = outcome.detail
    for form in {quote(outcome.alias, safe=""), outcome.alias}:
        if form:
            text = text.replace(form, ALIAS)
    return _RETRY_NOTE.sub("", text)


def grouped(outcomes: Sequence[Outcome]) -> list[tuple[str, list[Outcome]]]:
    """Outcomes by cause, largest group first (ties in the order first seen)."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(cause(outcome), []).append(outcome)
    return sorted(groups.items(), key=lambda item: -len(item[1]))


def few(outcomes: Sequence[Outcome], shown: int = SHOWN) -> str:
    """A few aliases and how many more: ``a, b, c and 1,231 more``."""
    names = ", ".join(printable(o.alias) for o in outcomes[:shown])
    rest = len(outcomes) - shown
    return names + (f" and {rest:,} more" if rest > 0 else "")


def shown_cause(text: str) -> str:
    return printable(text.replace(ALIAS, "…"))


def changes(count: int) -> str:
    return f"{count:,} change{'s' if count != 1 else ''}"
