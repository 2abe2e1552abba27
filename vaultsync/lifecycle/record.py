"""What the state records after an apply, beyond fingerprints: renames done, and per-alias flags."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence

from vaultsync.model import DesiredSecret
from vaultsync.plan import Action, Outcome, Plan
from vaultsync.state import StateRecord

Flags = tuple[frozenset[str], frozenset[str]]  # (protected, generated)


def apply_moves(
    managed: MutableMapping[str, str], plan: Plan, outcomes: Sequence[Outcome], fingerprints: Mapping[str, str]
) -> None:
    """Record each rename that happened: the new alias once written (or found written), the old one
    dropped once deleted. A rename whose delete failed keeps both, so the next apply finishes it."""
    done = {(o.alias, o.action) for o in outcomes if o.ok}
    for change in plan.changes:
        if change.action is not Action.MOVE:
            continue
        if (change.alias, Action.MOVE) in done and change.alias in fingerprints:
            managed[change.alias] = fingerprints[change.alias]
        if (change.source, Action.DELETE) in done:
            managed.pop(change.source, None)


def next_flags(
    record: StateRecord, managed: Mapping[str, str], desired: Mapping[str, DesiredSecret], plan: Plan
) -> Flags:
    """Flags of the aliases this plan looked at come from the file; the others' stay as recorded
    (a partial apply leaves what it did not select alone)."""
    protected = set(record.protected)
    generated = set(record.generated)
    for change in plan.changes:
        secret = desired.get(change.alias)
        if secret is None:
            continue
        protected.discard(change.alias)
        generated.discard(change.alias)
        if secret.protect:
            protected.add(change.alias)
        if secret.is_generated:
            generated.add(change.alias)
    return frozenset(protected) & managed.keys(), frozenset(generated) & managed.keys()


def flags_of(record: StateRecord) -> Flags:
    return record.protected, record.generated
