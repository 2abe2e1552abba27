"""Markdown for pull-request comments, kept under GitHub's size limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vaultsync.plan import Action, Change
from vaultsync.references import Checked
from vaultsync.render.report import GITHUB_COMMENT_LIMIT, SYMBOLS, PlanReport, total_summary
from vaultsync.text import printable

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
