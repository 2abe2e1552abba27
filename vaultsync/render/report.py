"""What every renderer shares: the plan report, its counts and the warnings it raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vaultsync.lifecycle.selection import Selection
from vaultsync.notices import PlanWarning
from vaultsync.plan import Action, Plan
from vaultsync.references import Checked

SENSITIVE = "(sensitive value)"
GITHUB_COMMENT_LIMIT = 65_535
SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.DELETE: ("-", "red"),
    Action.CONFLICT: ("!", "magenta"),
    Action.NOOP: ("=", "dim"),
    Action.MOVE: (">", "cyan"),
}


@dataclass(frozen=True, slots=True)
class PlanReport:
    """One connector's plan, with where it came from."""

    file: str
    url: str
    api_version: str
    plan: Plan
    guard: str | None = None  # why the mass-deletion guard trips, if it does
    files: tuple[str, ...] = ()  # every file merged for this connector (() : just ``file``)
    selection: Selection = field(default_factory=Selection)  # --target / --exclude: a partial plan says so
    refs: Checked | None = None  # references from the connector's assets (None: not read)
    warnings: tuple[PlanWarning, ...] = ()  # about the input (a value ending with a newline), never a value


def partial_note(selection: Selection) -> str:
    return (
        f"Partial plan: only aliases matching {selection.describe()}; "
        "other secrets are neither shown, changed nor deleted."
    )


def summary_line(summary: dict[str, int], prefix: str = "Plan") -> str:
    moves = f"{summary['move']} to move, " if summary.get("move") else ""
    return (
        f"{prefix}: {summary['create']} to create, {summary['update']} to update, {moves}"
        f"{summary['delete']} to delete, {summary['unchanged']} unchanged."
    )


def total_summary(reports: Sequence[PlanReport]) -> dict[str, int]:
    total = {"create": 0, "update": 0, "delete": 0, "conflict": 0, "unchanged": 0}
    for report in reports:
        for key, value in report.plan.summary.items():
            total[key] = total.get(key, 0) + value
    return total


def banners(report: PlanReport) -> list[str]:
    """The plan's warnings as sentences (deletions, conflicts, references), shared by text and JSON."""
    plan = report.plan
    notes = []
    if report.guard:
        notes.append(f"MASS DELETION: {report.guard}; apply refuses it without --allow-mass-delete.")
    elif plan.count(Action.DELETE):
        notes.append(f"{plan.count(Action.DELETE)} secret(s) will be DELETED from the vault.")
    if plan.conflicts:
        notes.append(
            f"{len(plan.conflicts)} conflict(s): unmanaged secrets hold other values. apply refuses the plan "
            "until they are imported (vaultsync import) or --adopt is given."
        )
    if report.refs is not None:
        notes.extend(f"REFUSED: {r.message()}; pass --allow-dangling if intended." for r in report.refs.refusals)
        notes.extend(f"{w.kind}: {w.message}" for w in report.refs.warnings)
    return notes
