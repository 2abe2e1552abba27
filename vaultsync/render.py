"""Renderers: text for terminals, JSON for machines, Markdown for pull requests.

They read plans and outcomes and return strings; they never print and never
see a value (none reaches them: plans hold aliases and actions only).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vaultsync import __version__
from vaultsync import outcomegroups as groups
from vaultsync.console import Console
from vaultsync.lifecycle.generate import GENERATED
from vaultsync.lifecycle.selection import EVERYTHING, Selection
from vaultsync.notices import PlanWarning
from vaultsync.plan import Action, Change, Outcome, Plan
from vaultsync.references import Checked
from vaultsync.state import DriftItem
from vaultsync.text import printable, printable_json

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
    if report.refs is not None:
        notes.extend(f"REFUSED: {r.message()}; pass --allow-dangling if intended." for r in report.refs.refusals)
        notes.extend(f"{w.kind}: {w.message}" for w in report.refs.warnings)
    return notes


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
        for banner in _banners(report):
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


def _json_change(change: Change, refs: Checked | None = None) -> dict[str, Any]:
    doc = change.to_doc()
    used = refs.on(change.alias) if refs is not None else ()
    if used:  # only where assets name the alias: most changes have none
        doc["references"] = [r.to_doc() for r in used]
    return doc


def _json_warnings(reports: Sequence[PlanReport]) -> list[dict[str, str | None]]:
    refs = [w.to_doc() for r in reports if r.refs is not None for w in r.refs.warnings]
    return refs + [w.to_doc() for r in reports for w in r.warnings]


def _json_selection(selection: Selection) -> dict[str, Any]:
    doc: dict[str, Any] = {"partial": selection.partial}
    if selection.partial:
        doc["selection"] = {"target": list(selection.targets), "exclude": list(selection.excludes)}
    return doc


def json_plan(reports: Sequence[PlanReport]) -> str:
    """The spec's JSON plan document; ``targets`` adds the per-connector breakdown."""
    doc = {
        "format_version": "1",
        "tool": {"name": "vaultsync", "version": __version__},
        "changes": [_json_change(c, r.refs) for r in reports for c in r.plan.changes],
        "summary": total_summary(reports),
        **_json_selection(reports[0].selection if reports else EVERYTHING),
        "warnings": _json_warnings(reports),
        "targets": [
            {
                "file": r.file,
                "files": list(r.files or (r.file,)),
                "url": r.url,
                "api_version": r.api_version,
                "changes": [_json_change(c, r.refs) for c in r.plan.changes],
                "summary": r.plan.summary,
                "warnings": _banners(r) + [w.message for w in r.warnings],
            }
            for r in reports
        ],
    }
    return printable_json(doc)


# -- Markdown (pull-request comments) ---------------------------------------------------------

# GitHub refuses a comment body over 65,535 characters. The default budget stays below it by
# enough for the marker and footer a CI job typically wraps around the plan (examples/ci/).
MARKDOWN_BUDGET = GITHUB_COMMENT_LIMIT - 1_535
# Destructive and blocking changes first, so that a truncated comment still lists them.
_MD_ORDER = {Action.DELETE: 0, Action.CONFLICT: 1, Action.MOVE: 2, Action.UPDATE: 3, Action.CREATE: 4, Action.NOOP: 5}


def _md(text: str) -> str:
    """Untrusted text (aliases, paths, URLs, notes) as inert inline code in GitHub Markdown.

    Every character but ASCII letters, digits and `` -/,;`` becomes a numeric character
    reference, so no emphasis, link, autolink, table pipe, HTML tag or emoji can form; inside
    ``<code>`` GitHub makes no @mention or #reference either. The result is pure ASCII, so its
    length is the same in every unit GitHub might count.
    """
    escaped = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in " -/,;") else f"&#{ord(ch)};" for ch in printable(text)
    )
    return f"<code>{escaped}</code>" if escaped else ""


def _label(change: Change) -> str:
    if change.adopt and change.action is Action.NOOP:
        return "adopt"
    if change.forget:
        return "forget"
    label = str(change.action) + (" (adopt)" if change.adopt else "")
    return label + (" (generated value)" if change.generated else "")


def _md_row(change: Change, refs: Checked | None = None) -> str:
    symbol, _ = SYMBOLS[change.action]
    note = _md(change.note)
    used = refs.on(change.alias) if refs is not None else ()
    if used:
        more = f" and {len(used) - 5} more" if len(used) > 5 else ""
        note += (" " if note else "") + "used by " + ", ".join(_md(r.describe()) for r in used[:5]) + more
    return f"| {symbol} | {_label(change)} | {_md(change.alias)} | {note} |"


def _md_counts(summary: dict[str, int]) -> str:
    moves = f"{summary['move']} to move, " if summary.get("move") else ""
    text = (
        f"{summary['create']} to create, {summary['update']} to update, {moves}"
        f"{summary['delete']} to delete, {summary['unchanged']} unchanged"
    )
    return text + (f", {summary['conflict']} in conflict" if summary["conflict"] else "")


@dataclass(frozen=True, slots=True)
class _Block:
    """Lines of the comment that are kept or cut together: ``rows`` may be cut, ``opening``/``closing`` not."""

    opening: tuple[str, ...]
    rows: tuple[str, ...]
    closing: tuple[str, ...] = ()
    changes: int = 0  # how many of ``rows`` are change rows (for the truncation note)


def _md_alerts(reports: Sequence[PlanReport]) -> list[_Block]:
    def where(r: PlanReport) -> str:
        return f"{_md(r.file)}: " if len(reports) > 1 else ""

    caution: list[str] = []
    warning: list[str] = []
    for r in reports:
        for refusal in r.refs.refusals if r.refs else ():
            caution.append(f"> {where(r)}**Refused:** {_md(refusal.message())}; `--allow-dangling` allows it.")
        for w in r.refs.warnings if r.refs else ():
            warning.append(f"> {where(r)}**{w.kind}:** {_md(w.message)}")
        for note in r.warnings[:10]:  # input warnings (newline): a few, then a count
            warning.append(f"> {where(r)}**{note.kind}:** {_md(note.message)}")
        if len(r.warnings) > 10:
            warning.append(f"> {where(r)}and {len(r.warnings) - 10} more warnings (`plan --format json` lists them)")
        deletes = r.plan.count(Action.DELETE)
        if r.guard:
            caution.append(f"> {where(r)}**Mass deletion:** {r.guard}; apply refuses it without `--allow-mass-delete`.")
        elif deletes:
            caution.append(
                f"> {where(r)}**{deletes} secret{'s' if deletes != 1 else ''} will be DELETED** from the vault."
            )
        if r.plan.conflicts:
            n = len(r.plan.conflicts)
            what = "an unmanaged secret holds another value" if n == 1 else "unmanaged secrets hold other values"
            warning.append(
                f"> {where(r)}**{n} conflict{'s' if n != 1 else ''}:** {what}. apply refuses the plan until "
                f"{'it is' if n == 1 else 'they are'} imported (`vaultsync import FILE ALIAS...`) "
                "or `--adopt` is given."
            )
    blocks = []
    for kind, lines in (("CAUTION", caution), ("WARNING", warning)):
        if lines:
            # Two trailing spaces: a line break inside the alert.
            blocks.append(_Block(("", f"> [!{kind}]"), tuple(line + "  " for line in lines)))
    return blocks


def _md_connectors(reports: Sequence[PlanReport]) -> _Block:
    rows = []
    for r in reports:
        s = r.plan.summary
        rows.append(
            f"| {_md(r.file)} | {_md(r.url)} | {s['create']} | {s['update']} | {s['delete']} "
            f"| {s['conflict']} | {s['unchanged']} |"
        )
    header = (
        "",
        "| connector | target | create | update | delete | conflict | unchanged |",
        "|---|---|--:|--:|--:|--:|--:|",
    )
    return _Block(header, tuple(rows))


def _md_details(report: PlanReport) -> _Block:
    shown = sorted(
        (c for c in report.plan.changes if c.is_change or c.adopt or c.forget),
        key=lambda c: (_MD_ORDER[c.action], c.alias),
    )
    summary = (
        f"<details><summary>{_md(report.file)} &rarr; {_md(report.url)} "
        f"({report.api_version}): {_md_counts(report.plan.summary)}</summary>"
    )
    if not shown:
        return _Block(("", summary, ""), ("No changes. The vault matches the desired state.",), ("", "</details>"))
    opening = ("", summary, "", "| | action | alias | note |", "|---|---|---|---|")
    return _Block(opening, tuple(_md_row(c, report.refs) for c in shown), ("", "</details>"), changes=len(shown))


def markdown_plan(reports: Sequence[PlanReport], limit: int = MARKDOWN_BUDGET) -> str:
    """A pull-request comment: counts first, alerts for deletes and conflicts, details collapsed.

    Never longer than ``limit`` characters: when the change list does not fit, rows are cut
    (additions and adoptions first, deletes and conflicts last), the counts stay complete,
    and a note says how much is missing. Holds aliases and actions, never a value.
    """
    total = total_summary(reports)
    noun = f" ({len(reports)} connectors)" if len(reports) > 1 else ""
    head = ["### vaultsync plan", "", f"**Plan{noun}: {_md_counts(total)}.**"]
    if reports and reports[0].selection.partial:
        head += [
            "",
            f"**Partial plan:** only aliases matching {_md(reports[0].selection.describe())}; "
            "other secrets are neither shown, changed nor deleted.",
        ]
    blocks = _md_alerts(reports)
    if len(reports) > 1:
        blocks.append(_md_connectors(reports))
    blocks += [_md_details(r) for r in reports]
    footer = ["", "_Values are never shown: vaultsync prints aliases and actions only._"]
    full = "\n".join(head + [line for b in blocks for line in (*b.opening, *b.rows, *b.closing)] + footer)
    if len(full) <= limit:
        return full
    return _md_truncated(head, blocks, footer, limit)


def _md_truncated(head: list[str], blocks: list[_Block], footer: list[str], limit: int) -> str:
    out = list(head)
    used = len("\n".join(head))
    listed = 0
    reserve = len("\n".join(footer)) + 400  # the note, with room for its numbers
    for block in blocks:
        fixed = sum(len(line) + 1 for line in (*block.opening, *block.closing))
        if used + fixed > limit - reserve:
            break
        out.extend(block.opening)
        used += sum(len(line) + 1 for line in block.opening)
        room = limit - reserve - sum(len(line) + 1 for line in block.closing)
        kept = 0
        for row in block.rows:
            if used + len(row) + 1 > room:
                break
            out.append(row)
            used += len(row) + 1
            kept += 1
        out.extend(block.closing)
        used += sum(len(line) + 1 for line in block.closing)
        listed += min(kept, block.changes)
        if kept < len(block.rows):
            break
    changes = sum(b.changes for b in blocks)
    note = [
        "",
        "> [!NOTE]",
        f"> Truncated to fit a GitHub comment: {listed} of {changes} changes are listed (deletes and conflicts "
        "first); the counts above are complete. Run `vaultsync plan` to see every change.",
    ]
    return "\n".join(out + footer + note)


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
    return printable_json(doc)
