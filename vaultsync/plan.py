"""The planner: a pure function from (desired, observed, managed) to a Plan.

No I/O here: no httpx, no click, no environment, no files. Everything the
planner knows arrives as arguments, so every case is a one-line table test.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vaultsync.model import DesiredSecret
from vaultsync.text import percent


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "no-op"
    CONFLICT = "conflict"
    MOVE = "move"


CHANGING = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE, Action.CONFLICT, Action.MOVE})


@dataclass(frozen=True, slots=True)
class Change:
    """What happens to one alias. ``adopt``: apply records it in state; ``forget``: apply drops it from state."""

    alias: str
    action: Action
    managed: bool = False
    adopt: bool = False
    forget: bool = False
    note: str = ""
    # Lifecycle: the old alias of a move; a value apply generates; a move that writes the desired value;
    # a move whose POST already happened (an interrupted apply) and whose old alias remains to delete.
    source: str = ""
    generated: bool = False
    rewrite: bool = False
    resume: bool = False

    def to_doc(self) -> dict[str, Any]:
        """The change as JSON (plan output, saved plans): alias, action and flags, never a value."""
        doc: dict[str, Any] = {"alias": self.alias, "action": str(self.action)}
        if self.source:
            doc["from"] = self.source
        if self.adopt:
            doc["adopt"] = True
        if self.forget:
            doc["forget"] = True
        if self.generated:
            doc["generated"] = True
        if self.rewrite:
            doc["rewrite"] = True
        if self.resume:
            doc["resume"] = True
        if self.note:
            doc["note"] = self.note
        return doc

    @property
    def is_change(self) -> bool:
        return self.action in CHANGING

    @property
    def touches_state(self) -> bool:
        return self.adopt or self.forget or (self.action is not Action.CONFLICT and self.action is not Action.NOOP)


@dataclass(frozen=True, slots=True)
class Plan:
    """An ordered, immutable list of changes (sorted by alias; apply decides execution order)."""

    changes: tuple[Change, ...]
    managed_before: int = 0

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(c.action for c in self.changes)
        summary = {
            "create": counts[Action.CREATE],
            "update": counts[Action.UPDATE],
            "delete": counts[Action.DELETE],
            "conflict": counts[Action.CONFLICT],
            "unchanged": counts[Action.NOOP],
        }
        if counts[Action.MOVE]:  # only when there are moves: documents without any keep their five counts
            summary["move"] = counts[Action.MOVE]
        return summary

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.changes)

    @property
    def conflicts(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is Action.CONFLICT)

    @property
    def state_changes(self) -> bool:
        return any(c.touches_state for c in self.changes)


@dataclass(frozen=True, slots=True)
class Outcome:
    alias: str
    action: Action
    status: str  # "done" | "failed" | "skipped"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "done"


def json_equal(a: Any, b: Any) -> bool:
    """JSON document equality: 1 == 1.0, but true != 1 and "1" != 1 (unlike Python's ==)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _parse_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def same_value(desired: DesiredSecret, stored: str) -> bool:
    """Whether the vault already holds what ``desired`` wants."""
    if stored == desired.value:
        return True
    if not desired.is_json:
        return False
    ok, doc = _parse_json(stored)
    return ok and json_equal(doc, json.loads(desired.value))


def json_change_note(desired: DesiredSecret, stored: str) -> str:
    """For a json entry: which paths of the document differ (names only, never values)."""
    ok, old = _parse_json(stored)
    if not ok:
        return "stored value is not JSON"
    from deepdiff import DeepDiff  # lazy: only needed when a json document changed

    paths = sorted(
        str(p) for p in DeepDiff(old, json.loads(desired.value), ignore_numeric_type_changes=True).affected_paths
    )
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return f"JSON document changes at {shown}" if paths else ""


def diff(
    desired: Mapping[str, DesiredSecret],
    observed: Mapping[str, str | None],
    managed: Collection[str],
    *,
    adopt: bool = False,
) -> Plan:
    """Compare what the file wants with what the vault holds.

    ``observed`` maps every alias in ``desired`` and in ``managed`` to its stored
    value, or None when the vault does not have it. ``managed`` is the set of
    aliases recorded in state. With ``adopt`` an unmanaged alias holding another
    value is updated instead of reported as a conflict.
    """
    managed_set = frozenset(managed)
    changes: list[Change] = []
    for alias in sorted(desired.keys() | managed_set):
        want = desired.get(alias)
        have = observed.get(alias)
        is_managed = alias in managed_set
        if want is None:
            if have is None:
                changes.append(Change(alias, Action.NOOP, True, forget=True, note="already deleted outside vaultsync"))
            else:
                changes.append(Change(alias, Action.DELETE, True))
        elif have is None:
            note = "was deleted outside vaultsync" if is_managed else ""
            changes.append(Change(alias, Action.CREATE, is_managed, note=note))
        elif same_value(want, have):
            note = "" if is_managed else "exists with the same value: adopted into state without a write"
            changes.append(Change(alias, Action.NOOP, is_managed, adopt=not is_managed, note=note))
        else:
            note = json_change_note(want, have) if want.is_json else ""
            if is_managed:
                changes.append(Change(alias, Action.UPDATE, True, note=note))
            elif adopt:
                changes.append(Change(alias, Action.UPDATE, False, adopt=True, note="adopted (--adopt)"))
            else:
                changes.append(
                    Change(
                        alias,
                        Action.CONFLICT,
                        False,
                        note="exists in the vault with another value and is not managed by vaultsync; "
                        "import it or apply with --adopt to overwrite",
                    )
                )
    return Plan(tuple(changes), managed_before=len(managed_set))


@dataclass(frozen=True, slots=True)
class DeleteGuard:
    """octoDNS-style safety: refuse to delete too much of what is managed at once."""

    max_fraction: float = 0.3
    min_managed: int = 10


def unsafe_deletes(plan: Plan, guard: DeleteGuard = DeleteGuard()) -> str | None:
    """Why the plan deletes too much, or None when it is within the guard."""
    deletes = plan.count(Action.DELETE)
    managed = plan.managed_before
    if deletes == 0 or managed == 0:
        return None
    if deletes >= managed:
        return f"this plan deletes all {managed} managed secrets"
    if managed >= guard.min_managed and deletes / managed > guard.max_fraction:
        return (
            f"this plan deletes {deletes} of {managed} managed secrets "
            f"({percent(deletes, managed)}, above the {guard.max_fraction:.0%} threshold)"
        )
    return None
