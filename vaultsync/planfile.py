"""Saved plans: what ``plan --out`` writes and ``apply PLANFILE`` checks and carries out.

A saved plan holds aliases, actions and keyed fingerprints (see state.py),
never a value. Applying it re-reads everything it read and refuses when
anything moved: the vault, the desired values, the state, or the URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vaultsync import __version__
from vaultsync.errors import InputError, Problem
from vaultsync.plan import Action, Change, Plan

PLAN_FORMAT = "vaultsync-plan"
PLAN_VERSION = "1"


@dataclass(frozen=True, slots=True)
class SavedTarget:
    desired_path: str
    url: str
    api_version: str
    state_file: str | None
    state_alias: str
    lock_alias: str
    lineage: str
    serial: int
    read: Mapping[str, str | None]  # alias -> fingerprint of the vault value when planned (None: absent)
    desired: Mapping[str, str]  # alias -> fingerprint of the desired value when planned
    plan: Plan
    adopt: bool  # planned with --adopt (conflicts became updates)
    allow_mass_delete: bool = False  # planned with --allow-mass-delete: the reviewed plan may delete that much
    allow_dangling: bool = False  # planned with --allow-dangling: it may remove aliases that assets reference


def _change_doc(change: Change) -> dict[str, Any]:
    return {**change.to_doc(), "managed": change.managed}


def encode(targets: list[SavedTarget]) -> str:
    doc = {
        "format": PLAN_FORMAT,
        "format_version": PLAN_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "vaultsync_version": __version__,
        "targets": [
            {
                "desired_path": t.desired_path,
                "url": t.url,
                "api_version": t.api_version,
                "state": {
                    "file": t.state_file,
                    "alias": t.state_alias,
                    "lineage": t.lineage,
                    "serial": t.serial,
                },
                "lock_alias": t.lock_alias,
                "adopt": t.adopt,
                "allow_mass_delete": t.allow_mass_delete,
                "allow_dangling": t.allow_dangling,
                "managed_before": t.plan.managed_before,
                "read": dict(sorted(t.read.items())),
                "desired": dict(sorted(t.desired.items())),
                "changes": [_change_doc(c) for c in t.plan.changes],
            }
            for t in targets
        ],
    }
    return json.dumps(doc, indent=1, sort_keys=False) + "\n"


def looks_like_plan(data: bytes) -> bool:
    head = data[:4096].decode("utf-8", "replace")
    return f'"format": "{PLAN_FORMAT}"' in head or f'"format":"{PLAN_FORMAT}"' in head


def decode(data: bytes, where: str) -> list[SavedTarget]:
    def bad(message: str) -> InputError:
        return InputError([Problem(where, message)])

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("not a readable saved plan (invalid JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT:
        raise bad("not a vaultsync saved plan")
    if doc.get("format_version") != PLAN_VERSION:
        raise bad(f"saved plan format {doc.get('format_version')!r} is not supported by this vaultsync")
    try:
        targets = []
        for t in doc["targets"]:
            changes = tuple(
                Change(
                    str(c["alias"]),
                    Action(c["action"]),
                    bool(c.get("managed", False)),
                    bool(c.get("adopt", False)),
                    bool(c.get("forget", False)),
                    str(c.get("note", "")),
                )
                for c in t["changes"]
            )
            state = t["state"]
            targets.append(
                SavedTarget(
                    desired_path=str(t["desired_path"]),
                    url=str(t["url"]),
                    api_version=str(t["api_version"]),
                    state_file=state.get("file"),
                    state_alias=str(state["alias"]),
                    lock_alias=str(t["lock_alias"]),
                    lineage=str(state["lineage"]),
                    serial=int(state["serial"]),
                    read={str(k): (str(v) if v is not None else None) for k, v in t["read"].items()},
                    desired={str(k): str(v) for k, v in t["desired"].items()},
                    plan=Plan(changes, managed_before=int(t.get("managed_before", 0))),
                    adopt=bool(t.get("adopt", False)),
                    allow_mass_delete=bool(t.get("allow_mass_delete", False)),
                    allow_dangling=t.get("allow_dangling", False) is True,
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise bad("the saved plan is incomplete or corrupt") from None
    return targets


def staleness(
    saved: SavedTarget,
    *,
    url: str,
    lineage: str,
    serial: int,
    read_now: Mapping[str, str | None],
    desired_now: Mapping[str, str],
) -> list[str]:
    """Every reason the saved plan no longer holds (empty: still valid). Aliases only, no values."""
    reasons = []
    if url != saved.url:
        reasons.append(f"it was made for {saved.url}, not {url}")
    if (lineage, serial) != (saved.lineage, saved.serial):
        reasons.append("the state changed since planning (another apply ran)")
    moved = sorted(a for a in saved.read if read_now.get(a) != saved.read[a])
    if moved:
        reasons.append("changed in the vault since planning: " + _names(moved))
    changed = sorted(a for a in saved.desired.keys() | desired_now.keys() if saved.desired.get(a) != desired_now.get(a))
    if changed:
        reasons.append("desired values changed since planning: " + _names(changed))
    return reasons


def _names(aliases: list[str], limit: int = 10) -> str:
    shown = ", ".join(aliases[:limit])
    return shown + (f" and {len(aliases) - limit} more" if len(aliases) > limit else "")
