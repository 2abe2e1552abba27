"""Saved plans: what ``plan --out`` writes and ``apply PLANFILE`` verifies.

A saved plan is a claim, not an instruction. It holds the plan's *inputs*
(which files, which state, which decisions), the fingerprints of what the plan
read, and its changes (aliases and actions, never a value). ``apply PLANFILE``
computes the plan again from those inputs, the vault and the state, and refuses
unless the result is exactly the saved one. Plans travel between CI jobs as
artifacts: whoever can write an artifact must not be able to widen what apply
does, so nothing in the file is carried out because the file says so.

The URL is recorded only to be checked: apply goes where the desired files,
flags and environment point, never where the plan file points.

Each target is also sealed with the vault's fingerprint key (an HMAC over all
of it), which never leaves the vault: recorded decisions (``--adopt``,
``--allow-mass-delete``, and whatever inputs are added later) cannot be forged
by someone who can write the plan file but cannot read the vault.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultsync import __version__
from vaultsync.errors import InputError, Problem
from vaultsync.lifecycle.selection import Selection
from vaultsync.model import canonical_json
from vaultsync.plan import Action, Change, Plan
from vaultsync.state import fingerprint

PLAN_FORMAT = "vaultsync-plan"
# 2: inputs recorded in one object, paths relative to the working directory, sealed, verified by recomputation.
PLAN_VERSION = "2"
# The seal is a fingerprint under a name no alias can have (aliases cannot hold control characters).
_SEAL_NAME = "\x00vaultsync-plan"


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """Everything besides the vault, the environment and the flags given to apply that a plan was computed from.

    The one place where saved-plan inputs are recorded (``to_doc``) and read (``from_doc``):
    ``apply PLANFILE`` reuses them to compute the plan again. Decisions taken when planning
    belong here (a new one: a field, a key in both methods, and its use where the plan is
    computed). Permissions never do (``--allow-outside-files``, ``--allow-commands``): a plan
    file cannot grant them, they are given again to apply. Neither does the URL.
    """

    files: tuple[str, ...]  # desired-state files, as record_path() wrote them
    api_version: str
    state_file: str | None  # as record_path() wrote it
    state_alias: str
    lock_alias: str
    adopt: bool = False  # conflicts planned as updates (plan --adopt)
    allow_mass_delete: bool = False  # the reviewed plan may delete that much (plan --allow-mass-delete)
    selection: Selection = field(default_factory=Selection)  # --target / --exclude / --replace as planned
    allow_dangling: bool = False  # it may delete aliases that assets reference (plan --allow-dangling)

    def to_doc(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "api_version": self.api_version,
            "state_file": self.state_file,
            "state_alias": self.state_alias,
            "lock_alias": self.lock_alias,
            "adopt": self.adopt,
            "allow_mass_delete": self.allow_mass_delete,
            "selection": self.selection.to_doc(),
            "allow_dangling": self.allow_dangling,
        }

    @staticmethod
    def from_doc(doc: Mapping[str, Any]) -> PlanInputs:
        """Raises KeyError, TypeError or ValueError on a malformed record (decode() reports it)."""
        files = doc["files"]
        if not isinstance(files, list) or not files:
            # Several files for one connector are merged (vaultsync/lifecycle/files.py).
            raise ValueError("files")
        state_file = doc.get("state_file")
        if doc["api_version"] not in ("v3", "v4beta", "v4"):  # the version it was planned with, never "auto"
            raise ValueError("api_version")
        return PlanInputs(
            files=tuple(_text(f) for f in files),
            api_version=_text(doc["api_version"]),
            state_file=_text(state_file) if state_file is not None else None,
            state_alias=_text(doc["state_alias"]),
            lock_alias=_text(doc["lock_alias"]),
            adopt=_flag(doc.get("adopt", False)),
            allow_mass_delete=_flag(doc.get("allow_mass_delete", False)),
            selection=Selection.from_doc(doc.get("selection")),
            allow_dangling=_flag(doc.get("allow_dangling", False)),
        )


@dataclass(frozen=True, slots=True)
class SavedTarget:
    """One connector's saved plan: its inputs, what it read (as fingerprints), and its changes."""

    url: str  # checked against where apply resolves to; never used to send anything
    inputs: PlanInputs
    lineage: str
    serial: int
    read: Mapping[str, str | None]  # alias -> fingerprint of the vault value when planned (None: absent)
    desired: Mapping[str, str]  # alias -> fingerprint of the desired value when planned
    plan: Plan
    seal: str = ""  # read from a plan file: the HMAC it carries ...
    sealed: str = ""  # ... and the canonical text of what it covers

    def seal_holds(self, key: bytes) -> bool:
        """Whether the plan file's seal was made with ``key`` over exactly what the file holds now."""
        expected = fingerprint(key, _SEAL_NAME, self.sealed)
        # Bytes: compare_digest refuses str with non-ASCII characters, which a hand-edited file may hold.
        return bool(self.seal) and hmac.compare_digest(self.seal.encode("utf-8"), expected.encode("utf-8"))


def record_path(path: str, cwd: Path | None = None) -> str:
    """How a local path is written into a plan: relative to the working directory when inside it.

    A plan made in one checkout then applies from another checkout of the same repository
    (another CI job's workspace). A path outside the working directory stays absolute.
    """
    here = (cwd or Path.cwd()).resolve()
    full = Path(os.path.abspath(path))
    for candidate in (full, full.resolve()):
        if candidate.is_relative_to(here):
            return candidate.relative_to(here).as_posix() or "."
    return str(full)


def _change_doc(change: Change) -> dict[str, Any]:
    return {**change.to_doc(), "managed": change.managed}


def _target_doc(t: SavedTarget) -> dict[str, Any]:
    return {
        "url": t.url,
        "inputs": t.inputs.to_doc(),
        "state": {"lineage": t.lineage, "serial": t.serial},
        "managed_before": t.plan.managed_before,
        "read": dict(sorted(t.read.items())),
        "desired": dict(sorted(t.desired.items())),
        "changes": [_change_doc(c) for c in t.plan.changes],
    }


def encode(targets: Sequence[SavedTarget], keys: Sequence[bytes]) -> str:
    """The plan file; each target sealed with its vault's fingerprint key (``keys``, in the same order)."""
    docs = []
    for target, key in zip(targets, keys, strict=True):
        doc = _target_doc(target)
        docs.append({**doc, "seal": fingerprint(key, _SEAL_NAME, canonical_json(doc))})
    doc = {
        "format": PLAN_FORMAT,
        "format_version": PLAN_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "vaultsync_version": __version__,
        "targets": docs,
    }
    return json.dumps(doc, indent=1, sort_keys=False) + "\n"


def looks_like_plan(data: bytes) -> bool:
    head = data[:4096].decode("utf-8", "replace")
    return f'"format": "{PLAN_FORMAT}"' in head or f'"format":"{PLAN_FORMAT}"' in head


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("not a count")
    return value


def _change(doc: Mapping[str, Any]) -> Change:
    return Change(
        _text(doc["alias"]),
        Action(doc["action"]),
        _flag(doc.get("managed", False)),
        _flag(doc.get("adopt", False)),
        _flag(doc.get("forget", False)),
        _text(doc.get("note", "")),
        source=_text(doc.get("from", "")),
        generated=_flag(doc.get("generated", False)),
        rewrite=_flag(doc.get("rewrite", False)),
        resume=_flag(doc.get("resume", False)),
    )


def _fingerprint_map(doc: Any) -> dict[str, str | None]:
    if not isinstance(doc, dict):
        raise TypeError("not an object")
    return {_text(k): (_text(v) if v is not None else None) for k, v in doc.items()}


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
        raise bad(
            f"saved plan format {doc.get('format_version')!r} is not supported by this vaultsync "
            f"(it reads format {PLAN_VERSION!r}): plan again with `vaultsync plan FILE --out PLANFILE`"
        )
    try:
        targets = []
        for t in doc["targets"]:
            serial, managed_before = _count(t["state"]["serial"]), _count(t["managed_before"])
            desired = _fingerprint_map(t["desired"])
            if any(v is None for v in desired.values()):
                raise TypeError("desired")
            targets.append(
                SavedTarget(
                    url=_text(t["url"]),
                    inputs=PlanInputs.from_doc(t["inputs"]),
                    lineage=_text(t["state"]["lineage"]),
                    serial=serial,
                    read=_fingerprint_map(t["read"]),
                    desired={a: v for a, v in desired.items() if v is not None},
                    plan=Plan(tuple(_change(c) for c in t["changes"]), managed_before=managed_before),
                    seal=_text(t["seal"]),
                    sealed=canonical_json({k: v for k, v in t.items() if k != "seal"}),
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise bad("the saved plan is incomplete or corrupt") from None
    if not targets:
        raise bad("the saved plan names no connector")
    return targets


def staleness(
    saved: SavedTarget,
    *,
    lineage: str,
    serial: int,
    read_now: Mapping[str, str | None],
    desired_now: Mapping[str, str],
    plan_now: Plan,
) -> list[str]:
    """Every reason the saved plan is not the plan computed now (empty: it is). Aliases only, no values.

    Reasons of the world moving (state, vault, desired values) come first; when none holds and the
    changes still differ, the plan file itself says something the inputs do not give.
    """
    reasons = []
    if (lineage, serial) != (saved.lineage, saved.serial):
        reasons.append("the state changed since planning (another apply ran)")
    moved = sorted(a for a in saved.read.keys() & read_now.keys() if saved.read[a] != read_now[a])
    if moved:
        reasons.append("changed in the vault since planning: " + _names(moved))
    unread = sorted(saved.read.keys() ^ read_now.keys())
    if unread:
        reasons.append("the plan computed now does not read the same aliases: " + _names(unread))
    changed = sorted(a for a in saved.desired.keys() | desired_now.keys() if saved.desired.get(a) != desired_now.get(a))
    if changed:
        reasons.append("desired values changed since planning: " + _names(changed))
    differ = changed_aliases(saved.plan, plan_now)
    if differ:
        reasons.append(
            "its changes are not the plan computed now from the desired files, the vault and the state "
            f"({_names(differ)}): the plan file was edited, or made from other inputs"
        )
    elif saved.plan.managed_before != plan_now.managed_before:
        reasons.append("its count of managed secrets is not the one computed now: the plan file was edited")
    return reasons


def changed_aliases(saved: Plan, now: Plan) -> list[str]:
    """Aliases whose change (action, flags or note) differs between two plans, or that only one plan has."""
    before = {c.alias: c for c in saved.changes}
    after = {c.alias: c for c in now.changes}
    differ = {a for a in before.keys() | after.keys() if before.get(a) != after.get(a)}
    if not differ and len(saved.changes) != len(now.changes):  # the same alias listed twice
        differ = {c.alias for c in saved.changes}
    return sorted(differ)


def _names(aliases: list[str], limit: int = 10) -> str:
    shown = ", ".join(aliases[:limit])
    return shown + (f" and {len(aliases) - limit} more" if len(aliases) > limit else "")
