"""Renderers: text for terminals, JSON for machines, Markdown for pull requests.

They read plans and outcomes and return strings; they never print and never
see a value (none reaches them: plans hold aliases and actions only).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vaultsync.console import Console
from vaultsync.plan import Action, Change, Outcome, Plan
from vaultsync.state import DriftItem
from vaultsync.text import printable

SENSITIVE = "(sensitive value)"
GITHUB_COMMENT_LIMIT = 65_535
SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.DELETE: ("-", "red"),
    Action.CONFLICT: ("!", "magenta"),
    Action.NOOP: ("=", "dim"),
}


@dataclass(frozen=True, slots=True)
class PlanReport:
    """One connector's plan, with where it came from."""

    file: str
    url: str
    api_version: str
    plan: Plan
    guard: str | None = None  # why the mass-deletion guard trips, if it does


def summary_line(summary: dict[str, int], prefix: str = "Plan") -> str:
    return (
        f"{prefix}: {summary['create']} to create, {summary['update']} to update, "
        f"{summary['delete']} to delete, {summary['unchanged']} unchanged."
    )


def total_summary(reports: Sequence[PlanReport]) -> dict[str, int]:
    total = {"create": 0, "update": 0, "delete": 0, "conflict": 0, "unchanged": 0}
    for report in reports:
        for key, value in report.plan.summary.items():
            total[key] += value
    return total


def _value_text(change: Change) -> str:
    if change.action is Action.CREATE:
        return f"= {SENSITIVE}"
    if change.action in (Action.UPDATE, Action.CONFLICT):
        return f"{SENSITIVE} -> {SENSITIVE}"
    return ""


def _text_change(console: Console, change: Change) -> str:
    symbol, color = SYMBOLS[change.action]
    label = (
        "adopt"
        if change.adopt and change.action is Action.NOOP
        else ("forget" if change.forget else str(change.action))
    )
    line = f"  {console.style(symbol, color, 'bold')} {label:<8} {printable(change.alias)}"
    value = _value_text(change)
    if value:
        line += f" {value}"
    if change.note:
        line += console.style(f"  # {printable(change.note)}", "dim")
    return line


def _banners(report: PlanReport) -> list[str]:
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
    return notes


def text_plan(console: Console, reports: Sequence[PlanReport], *, show_unchanged: bool = False) -> str:
    lines: list[str] = []
    for report in reports:
        plan = report.plan
        lines.append(
            console.style(f"{printable(report.file)} -> {printable(report.url)} ({report.api_version})", "bold")
        )
        shown = [c for c in plan.changes if c.is_change or c.adopt or c.forget or show_unchanged]
        if not shown:
            lines.append("  No changes. The vault matches the desired state.")
        lines.extend(_text_change(console, c) for c in shown)
        for banner in _banners(report):
            lines.append(console.style(f"  Warning: {banner}", "red" if "DELETE" in banner else "yellow", "bold"))
        lines.append(summary_line(plan.summary))
        if plan.conflicts:
            lines.append(f"{len(plan.conflicts)} in conflict.")
        lines.append("")
    if len(reports) > 1:
        lines.append(summary_line(total_summary(reports), prefix=f"All {len(reports)} connectors"))
    return "\n".join(lines).rstrip("\n")


def _json_change(change: Change) -> dict[str, Any]:
    doc: dict[str, Any] = {"alias": change.alias, "action": str(change.action)}
    if change.adopt:
        doc["adopt"] = True
    if change.forget:
        doc["forget"] = True
    if change.note:
        doc["note"] = change.note
    return doc


def json_plan(reports: Sequence[PlanReport]) -> str:
    """The spec's JSON plan document; ``targets`` adds the per-connector breakdown."""
    doc = {
        "format_version": "1",
        "changes": [_json_change(c) for r in reports for c in r.plan.changes],
        "summary": total_summary(reports),
        "targets": [
            {
                "file": r.file,
                "url": r.url,
                "api_version": r.api_version,
                "changes": [_json_change(c) for c in r.plan.changes],
                "summary": r.plan.summary,
                "warnings": _banners(r),
            }
            for r in reports
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _md(text: str) -> str:
    """Markdown-safe inline text: HTML-escaped, pipes escaped, printable."""
    return html.escape(printable(text), quote=False).replace("|", "\\|").replace("`", "&#96;")


def _md_rows(changes: Sequence[Change]) -> list[str]:
    rows = []
    for change in changes:
        symbol, _ = SYMBOLS[change.action]
        label = "adopt" if change.adopt and change.action is Action.NOOP else str(change.action)
        rows.append(f"| {symbol} | {label} | <code>{_md(change.alias)}</code> | {_md(change.note)} |")
    return rows


def markdown_plan(reports: Sequence[PlanReport], limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """A pull-request comment: counts first, banners, details collapsed, always under ``limit``."""
    total = total_summary(reports)
    head = ["### vaultsync plan", "", f"**{summary_line(total)}**"]
    if total["conflict"]:
        head[-1] += f" **{total['conflict']} in conflict.**"
    banners = [f"{_md(r.file)}: {_md(b)}" for r in reports for b in _banners(r)]
    if banners:
        head += ["", "> [!WARNING]", *[f"> {b}  " for b in banners]]
    if len(reports) > 1:
        head += [
            "",
            "| connector | create | update | delete | conflict | unchanged |",
            "|---|---|---|---|---|---|",
        ]
        for r in reports:
            s = r.plan.summary
            head.append(
                f"| <code>{_md(r.file)}</code> | {s['create']} | {s['update']} | {s['delete']} "
                f"| {s['conflict']} | {s['unchanged']} |"
            )
    sections: list[list[str]] = []
    for r in reports:
        shown = [c for c in r.plan.changes if c.is_change or c.adopt or c.forget]
        title = f"{_md(r.file)} → {_md(r.url)} ({len(shown)} change{'s' if len(shown) != 1 else ''})"
        rows = (
            ["", "| | action | alias | note |", "|---|---|---|---|", *_md_rows(shown)] if shown else ["", "No changes."]
        )
        sections.append([f"<details><summary>{title}</summary>", *rows, "", "</details>"])
    footer = ["", "_Values are never shown: vaultsync prints aliases and actions only._"]
    text = "\n".join(head + [line for s in sections for line in s] + footer)
    if len(text) <= limit:
        return text
    # Too long for one comment: keep the counts and banners, cut rows, say so.
    note = (
        "\n\n> [!NOTE]\n> The change list was truncated to fit a comment "
        "(GitHub allows 65,535 characters); run `vaultsync plan` for the full list."
    )
    budget = limit - len("\n".join(head)) - len(note) - len("\n".join(footer)) - 200
    body: list[str] = []
    used = 0
    for section in sections:
        for line in section:
            if used + len(line) + 1 > budget:
                break
            body.append(line)
            used += len(line) + 1
        else:
            continue
        body += ["", "</details>"]
        break
    return "\n".join(head + body + footer) + note


def text_outcomes(console: Console, outcomes: Sequence[Outcome], file: str) -> str:
    lines = []
    verbs = {Action.CREATE: "created", Action.UPDATE: "updated", Action.DELETE: "deleted"}
    for o in outcomes:
        alias = printable(o.alias)
        if o.status == "done":
            extra = f" ({o.detail})" if o.detail else ""
            lines.append(f"  {console.style('✓', 'green')} {verbs[o.action]} {alias}{extra}")
        elif o.status == "failed":
            lines.append(f"  {console.style('✗', 'red', 'bold')} {o.action} {alias} FAILED: {printable(o.detail)}")
        else:
            lines.append(f"  {console.style('…', 'yellow')} {o.action} {alias} skipped: {o.detail}")
    done = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if o.status == "failed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    counts = {a: sum(1 for o in done if o.action is a) for a in verbs}
    summary = (
        f"Apply {'complete' if not failed and not skipped else 'INCOMPLETE'} ({printable(file)}): "
        f"{counts[Action.CREATE]} created, {counts[Action.UPDATE]} updated, {counts[Action.DELETE]} deleted, "
        f"{len(failed)} failed"
    )
    if skipped:
        summary += f", {len(skipped)} not started"
    lines.append(summary + ".")
    if failed:
        lines.append("Failed: " + ", ".join(printable(o.alias) for o in failed))
    return "\n".join(lines)


def text_drift(console: Console, file: str, drifted: Sequence[DriftItem], pending: Sequence[DriftItem]) -> str:
    lines = [console.style(f"{printable(file)}", "bold")]
    if drifted:
        lines.append(
            console.style(f"  Drift: {len(drifted)} managed secret(s) changed outside vaultsync", "red", "bold")
        )
        lines += [f"    ! {printable(d.alias)}: {d.detail}" for d in drifted]
    else:
        lines.append("  No drift: every managed secret is as vaultsync left it.")
    if pending:
        lines.append(f"  Pending: {len(pending)} change(s) in the desired-state file not applied yet")
        lines += [f"    ~ {printable(p.alias)}: {p.detail}" for p in pending]
    return "\n".join(lines)


def json_drift(results: Sequence[tuple[str, Sequence[DriftItem], Sequence[DriftItem]]]) -> str:
    doc = {
        "format_version": "1",
        "drift": any(d for _, d, _ in results),
        "targets": [
            {
                "file": file,
                "drifted": [{"alias": d.alias, "kind": d.kind, "detail": d.detail} for d in drifted],
                "pending": [{"alias": p.alias, "detail": p.detail} for p in pending],
            }
            for file, drifted, pending in results
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)
