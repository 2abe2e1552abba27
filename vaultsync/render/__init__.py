"""Renderers: text for terminals, JSON for machines, Markdown for pull requests.

They read plans and outcomes and return strings; they never print and never
see a value (none reaches them: plans hold aliases and actions only).
One module per format; what they share (the plan report, counts, warnings) is in ``report``.
"""

from vaultsync.render.jsondoc import json_drift, json_plan
from vaultsync.render.markdown import MARKDOWN_BUDGET, markdown_plan
from vaultsync.render.report import (
    GITHUB_COMMENT_LIMIT,
    SENSITIVE,
    SYMBOLS,
    PlanReport,
    partial_note,
    summary_line,
    total_summary,
)
from vaultsync.render.text import text_drift, text_outcomes, text_outcomes_total, text_plan

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "MARKDOWN_BUDGET",
    "SENSITIVE",
    "SYMBOLS",
    "PlanReport",
    "json_drift",
    "json_plan",
    "markdown_plan",
    "partial_note",
    "summary_line",
    "text_drift",
    "text_outcomes",
    "text_outcomes_total",
    "text_plan",
    "total_summary",
]
