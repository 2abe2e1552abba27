"""JSON for machines: the plan document (``plan --format json``) and the drift report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vaultsync import __version__
from vaultsync.lifecycle.selection import EVERYTHING, Selection
from vaultsync.plan import Change
from vaultsync.references import Checked
from vaultsync.render.report import PlanReport, banners, total_summary
from vaultsync.state import DriftItem
from vaultsync.text import printable_json


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
                "warnings": banners(r) + [w.message for w in r.warnings],
            }
            for r in reports
        ],
    }
    return printable_json(doc)


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
