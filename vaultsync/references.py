"""Which connector assets name which vault alias, and what a plan does to them. Pure: no I/O.

An asset's data address names vault aliases in a few properties (``keyName``; ``secretName`` for
``HttpData``; ``oauth2:clientSecretKey`` and ``oauth2:privateKeyName`` for OAuth2). EDC answers them
compacted (``keyName``), prefixed (``edc:keyName``) or as full IRIs under its namespace, as a string, a
``{"@value": ...}`` object or a list of those; every form is read the same way.

From an index of those references and a plan, :func:`check` says which removals must be refused and
which warnings to give (references that would dangle, S3 credentials of the wrong shape).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vaultsync.model import DesiredSecret
from vaultsync.notices import PlanWarning
from vaultsync.plan import Action, Change, Plan

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
REFERENCE_PROPERTIES = ("keyName", "secretName", "oauth2:clientSecretKey", "oauth2:privateKeyName")
S3_TYPE = "AmazonS3"
S3_FIELDS = ("accessKeyId", "secretAccessKey")

# The one place that says which changes take an alias out of the vault, and which alias: a delete takes its
# own. When moves exist, their ``from`` is added here and is refused and warned about like a delete.
REMOVES: dict[Action, Callable[[Change], str | None]] = {
    Action.DELETE: lambda change: change.alias,
    Action.MOVE: lambda change: change.source or None,  # a rename takes its old alias away
}


@dataclass(frozen=True, slots=True, order=True)
class Reference:
    """One asset property naming an alias. ``address_type``: the data address's ``type`` (e.g. AmazonS3)."""

    asset: str
    property: str
    address_type: str = ""

    def to_doc(self) -> dict[str, str]:
        return {"asset": self.asset, "property": self.property}

    def describe(self) -> str:
        return f"asset {self.asset} ({self.property})"


Index = Mapping[str, tuple[Reference, ...]]


def _local_name(key: str) -> str | None:
    for prefix in (EDC_NS, "edc:"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key if key in REFERENCE_PROPERTIES else None


def _strings(raw: Any) -> list[str]:
    """The string values of a JSON-LD property: a string, ``{"@value": s}``, or a list of those."""
    items = raw if isinstance(raw, list) else [raw]
    found: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("@value")
        if isinstance(item, str) and item:
            found.append(item)
    return found


def _one(doc: Mapping[str, Any], name: str) -> Any:
    for key in (name, "edc:" + name, EDC_NS + name):
        if key in doc:
            return doc[key]
    return None


def asset_references(asset: Any) -> list[tuple[str, Reference]]:
    """(alias, reference) for every alias an asset's data address names. Anything unreadable is skipped."""
    if isinstance(asset, list) and len(asset) == 1:
        asset = asset[0]
    if not isinstance(asset, dict):
        return []
    ids = _strings(asset.get("@id"))
    address = _one(asset, "dataAddress")
    if isinstance(address, list) and len(address) == 1:
        address = address[0]
    if not ids or not isinstance(address, dict):
        return []
    types = _strings(_one(address, "type"))
    kind = types[0] if types else ""
    found: list[tuple[str, Reference]] = []
    for key, raw in address.items():
        name = _local_name(key) if isinstance(key, str) else None
        if name is not None:
            found.extend((alias, Reference(ids[0], name, kind)) for alias in _strings(raw))
    return found


def build_index(assets: Iterable[Any]) -> dict[str, tuple[Reference, ...]]:
    """alias -> the references naming it, sorted (by asset, then property)."""
    collected: dict[str, set[Reference]] = {}
    for asset in assets:
        for alias, ref in asset_references(asset):
            collected.setdefault(alias, set()).add(ref)
    return {alias: tuple(sorted(refs)) for alias, refs in collected.items()}


def describe(refs: Sequence[Reference], limit: int = 5) -> str:
    shown = ", ".join(r.describe() for r in refs[:limit])
    return shown + (f" and {len(refs) - limit} more" if len(refs) > limit else "")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A removal of an alias that assets still reference."""

    alias: str
    action: Action
    references: tuple[Reference, ...]

    def message(self) -> str:
        return f"{self.action} of {self.alias} would break {describe(self.references)}"


@dataclass(frozen=True, slots=True)
class Checked:
    """What the references say about one plan."""

    index: Index
    refusals: tuple[Refusal, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    read: bool = True  # False: the assets could not be read (one "unchecked" warning says why)

    def on(self, alias: str) -> tuple[Reference, ...]:
        return self.index.get(alias, ())


def removed_aliases(plan: Plan) -> list[tuple[str, Change]]:
    """(alias, change) for every alias the plan takes out of the vault."""
    removed = []
    for change in plan.changes:
        pick = REMOVES.get(change.action)
        alias = pick(change) if pick is not None else None
        if alias is not None:
            removed.append((alias, change))
    return removed


def _s3_shape_ok(value: str) -> bool:
    try:
        doc = json.loads(value)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and all(isinstance(doc.get(name), str) for name in S3_FIELDS)


def check(
    index: Index,
    plan: Plan,
    desired: Mapping[str, DesiredSecret],
    present: Iterable[str],
    *,
    allow_dangling: bool = False,
) -> Checked:
    """Refusals and warnings for ``plan`` given the references in ``index``.

    ``present``: the aliases known to be in the vault now (read for the plan, or read because an asset
    names them). A referenced alias is dangling when it will not exist after the apply: it is not
    desired and either absent now or removed by the plan. With ``allow_dangling`` a referenced removal
    is not refused, only warned about.
    """
    removed = removed_aliases(plan)
    refusals = tuple(
        Refusal(alias, change.action, index[alias])
        for alias, change in removed
        if index.get(alias) and not allow_dangling
    )
    gone = {alias for alias, _ in removed}
    after = (set(present) - gone) | set(desired)
    warnings: list[PlanWarning] = []
    for alias in sorted(index):
        refs = index[alias]
        if alias not in after:
            why = "the plan removes it" if alias in gone else "it is not in the vault"
            warnings.extend(
                PlanWarning(
                    "dangling",
                    alias,
                    f"{ref.describe()} names {alias}, which will not exist after the apply ({why}): "
                    "transfers of that asset will fail",
                    ref.asset,
                    ref.property,
                )
                for ref in refs
            )
        wanted = desired.get(alias)
        if wanted is None:
            continue
        for ref in refs:
            if ref.property == "keyName" and ref.address_type == S3_TYPE and not _s3_shape_ok(wanted.value):
                warnings.append(
                    PlanWarning(
                        "shape",
                        alias,
                        f"{ref.describe()} is an AmazonS3 address, so {alias} must hold a JSON document with "
                        'string "accessKeyId" and "secretAccessKey" (write {"json": {...}} in the file); '
                        "its desired value is not one, and the connector would fail the transfer",
                        ref.asset,
                        ref.property,
                    )
                )
    return Checked(index, refusals, tuple(warnings))


def unchecked(reason: str) -> Checked:
    """No index: the assets API was not available. One warning, and nothing refused."""
    return Checked(
        {},
        (),
        (PlanWarning("unchecked", None, f"references from assets were not checked: {reason}"),),
        read=False,
    )
