"""Text for terminals: the plan, an apply's outcomes and drift."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from vaultsync import outcomegroups as groups
from vaultsync.console import Console
from vaultsync.lifecycle.generate import GENERATED
from vaultsync.plan import Action, Change, Outcome
from vaultsync.render.report import SENSITIVE, SYMBOLS, PlanReport, banners, partial_note, summary_line, total_summary
from vaultsync.state import DriftItem
from vaultsync.text import printable


def _value_text(change: Change) -> str:
    if change.action is Action.MOVE:
        return f"<- {printable(change.source)}"
    if change.generated:
        return f"= {GENERATED}" if change.action is Action.CREATE else f"{SENSITIVE} -> {GENERATED}"
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


def _text_references(console: Console, report: PlanReport, change: Change) -> list[str]:
    refs = report.refs.on(change.alias) if report.refs is not None else ()
    if not refs:
        return []
    used = ", ".join(printable(r.describe()) for r in refs[:5])
    more = f" and {len(refs) - 5} more" if len(refs) > 5 else ""
    return [console.style(f"             used by {used}{more}", "cyan")]


def text_plan(console: Console, reports: Sequence[PlanReport], *, show_unchanged: bool = False) -> str:
    lines: list[str] = []
    for report in reports:
        plan = report.plan
        lines.append(
            console.style(f"{printable(report.file)} -> {printable(report.url)} ({report.api_version})", "bold")
        )
        shown = [c for c in plan.changes if c.is_change or c.adopt or c.forget or c.note or show_unchanged]
        if not shown:
            lines.append("  No changes. The vault matches the desired state.")
        for change in shown:
            lines.append(_text_change(console, change))
            lines.extend(_text_references(console, report, change))
        for banner in banners(report):
            lines.append(
                console.style(f"  Warning: {printable(banner)}", "red" if "DELETE" in banner else "yellow", "bold")
            )
        if report.selection.partial:
            lines.append(console.style(f"  {partial_note(report.selection)}", "yellow"))
        lines.append(summary_line(plan.summary))
        if plan.conflicts:
            lines.append(f"{len(plan.conflicts)} in conflict.")
        lines.append("")
    if len(reports) > 1:
        total = total_summary(reports)
        line = summary_line(total, prefix=f"All {len(reports)} connectors")
        lines.append(line + (f" {total['conflict']} in conflict." if total["conflict"] else ""))
    return "\n".join(lines).rstrip("\n")


def text_outcomes(console: Console, outcomes: Sequence[Outcome], file: str) -> str:
    lines = []
    verbs = {Action.CREATE: "created", Action.UPDATE: "updated", Action.DELETE: "deleted", Action.MOVE: "moved"}
    for o in outcomes:
        if o.status == "done":
            extra = f" ({o.detail})" if o.detail else ""
            lines.append(f"  {console.style('✓', 'green')} {verbs[o.action]} {printable(o.alias)}{extra}")
    done = [o for o in outcomes if o.ok]
    failed = [o for o in outcomes if o.status == "failed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    lines += _grouped_lines(console, failed, skipped)
    counts = {a: sum(1 for o in done if o.action is a) for a in verbs}
    summary = (
        f"Apply {'complete' if not failed and not skipped else 'INCOMPLETE'} ({printable(file)}): "
        f"{counts[Action.CREATE]} created, {counts[Action.UPDATE]} updated, "
        + (f"{counts[Action.MOVE]} moved, " if counts[Action.MOVE] else "")
        + f"{counts[Action.DELETE]} deleted, "
        f"{len(failed)} failed"
    )
    if skipped:
        summary += f", {len(skipped)} not started"
    lines.append(summary + ".")
    if skipped:
        lines.append(
            "Running apply again converges: it plans afresh from what the vault holds now and makes only "
            "the changes still needed."
        )
    if failed:
        lines.append("Failed: " + groups.few(failed, 10))
    return "\n".join(lines)


def _grouped_lines(console: Console, failed: Sequence[Outcome], skipped: Sequence[Outcome]) -> list[str]:
    """Failures one line per cause (per alias when only a few share it); changes not started as counts."""
    lines = []
    cross, dots = console.style("✗", "red", "bold"), console.style("…", "yellow")
    for cause, group in groups.grouped(failed):
        if len(group) <= groups.SMALL:
            lines += [f"  {cross} {o.action} {printable(o.alias)} FAILED: {printable(o.detail)}" for o in group]
        else:
            lines.append(f"  {cross} {groups.changes(len(group))} FAILED: {groups.shown_cause(cause)}")
            lines.append(f"      ({groups.few(group)})")
    for cause, group in groups.grouped(skipped):
        if len(group) == 1:
            lines.append(f"  {dots} {group[0].action} {printable(group[0].alias)} skipped: {printable(cause)}")
        else:
            # Counts by action too: an interrupted apply may leave thousands of every kind.
            counts = ", ".join(f"{n} {action}" for action, n in Counter(str(o.action) for o in group).items())
            lines.append(
                f"  {dots} {groups.changes(len(group))} skipped, {printable(cause)}: {groups.few(group, 5)} ({counts})"
            )
    return lines


def text_outcomes_total(results: Sequence[tuple[str, Sequence[Outcome]]]) -> str:
    """One line over several connectors' apply outcomes."""
    outcomes = [o for _, outs in results for o in outs]
    done = {
        a: sum(1 for o in outcomes if o.ok and o.action is a) for a in (Action.CREATE, Action.UPDATE, Action.DELETE)
    }
    failed = sum(1 for o in outcomes if o.status == "failed")
    skipped = sum(1 for o in outcomes if o.status == "skipped")
    line = (
        f"All {len(results)} connectors: {done[Action.CREATE]} created, {done[Action.UPDATE]} updated, "
        f"{done[Action.DELETE]} deleted, {failed} failed"
    )
    return line + (f", {skipped} not started." if skipped else ".")


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
