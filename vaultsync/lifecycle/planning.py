"""The lifecycle-aware planner: the plain diff plus generated values, --replace, renames, protection
and targeting. Pure: data in, a Plan out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from vaultsync.lifecycle.selection import EVERYTHING, Selection
from vaultsync.model import DesiredSecret, DesiredState, Move
from vaultsync.plan import Action, Change, Plan, diff, same_value
from vaultsync.state import StateRecord
from vaultsync.text import printable


def selected_moves(desired: DesiredState, selection: Selection) -> list[Move]:
    """Moves are matched by their ``to``."""
    return [m for m in desired.moved if selection.matches(m.dest)]


def aliases_to_read(desired: DesiredState, record: StateRecord, selection: Selection) -> list[str]:
    """One GET each: the selected desired and managed aliases, and both ends of the selected moves."""
    wanted = desired.secrets.keys() | record.managed.keys()
    if selection.partial:
        wanted = {a for a in wanted if selection.matches(a)}
    for move in selected_moves(desired, selection):
        wanted |= {move.source, move.dest}
    return sorted(wanted)


def plan(
    desired: DesiredState,
    observed: Mapping[str, str | None],
    record: StateRecord,
    selection: Selection = EVERYTHING,
    *,
    adopt: bool = False,
) -> Plan:
    """Compare the desired state with the vault for the selected aliases only.

    Unselected aliases are not in the plan at all, so apply leaves them (and their state) alone.
    """
    partial = selection.partial
    secrets = {a: s for a, s in desired.secrets.items() if not partial or selection.matches(a)}
    renamed = {m.source for m in desired.moved}
    managed = {a for a in record.managed if (not partial or selection.matches(a)) and a not in renamed}
    changes = {c.alias: c for c in diff(secrets, observed, managed, adopt=adopt).changes}
    for alias, secret in secrets.items():
        changes[alias] = _lifecycle(changes[alias], secret, observed.get(alias), selection, record)
    for move in selected_moves(desired, selection):
        changes.update(_move(move, secrets[move.dest], observed, record, selection))
    return Plan(tuple(changes[a] for a in sorted(changes)), managed_before=len(record.managed))


def _lifecycle(
    change: Change, secret: DesiredSecret, have: str | None, selection: Selection, record: StateRecord
) -> Change:
    """Generated values, forced rewrites and flag changes on one desired alias's plain diff."""
    alias = change.alias
    if secret.is_generated:
        if have is None:
            change = replace(change, generated=True)
        elif change.action in (Action.UPDATE, Action.CONFLICT, Action.NOOP):
            # Never compared: whatever the vault holds is the generated value.
            managed = alias in record.managed
            note = "" if managed else "exists: a generated secret is never compared; adopted into state without a write"
            change = Change(alias, Action.NOOP, managed, adopt=not managed, note=note)
    if alias in selection.replace and change.action is Action.NOOP and have is not None:
        why = "forced by --replace" + (": a new random value" if secret.is_generated else "")
        change = Change(
            alias, Action.UPDATE, change.managed, adopt=not change.managed, note=why, generated=secret.is_generated
        )
    elif alias in selection.replace and change.action is Action.UPDATE:
        change = replace(change, note=_join(change.note, "forced by --replace"))
    if change.action is Action.NOOP and alias in record.managed:
        flags = _flag_note(alias, secret, record)
        if flags:
            change = replace(change, note=_join(change.note, flags))
    return change


def _flag_note(alias: str, secret: DesiredSecret, record: StateRecord) -> str:
    if not (secret.protect or record.protected or record.generated):
        return ""  # the common case, kept cheap: 100,000 aliases pass here
    notes = []
    if secret.protect and alias not in record.protected:
        notes.append("protect recorded in state")
    if not secret.protect and alias in record.protected:
        notes.append("protection lifted (recorded in state)")
    if alias in record.generated and not secret.is_generated:
        notes.append("no longer generated (recorded in state)")
    return "; ".join(notes)


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _move(
    move: Move,
    secret: DesiredSecret,
    observed: Mapping[str, str | None],
    record: StateRecord,
    selection: Selection,
) -> dict[str, Change]:
    """The changes one rename makes: a ``move`` of ``to`` (or what remains of one), or nothing to do."""
    src, dest = move.source, move.dest
    old, new = observed.get(src), observed.get(dest)
    src_managed, dest_managed = src in record.managed, dest in record.managed
    out: dict[str, Change] = {}
    if old is None:  # done (or nothing left to move): ``to`` is an ordinary entry, ``from`` is forgotten
        if src_managed:
            note = f"renamed to {printable(dest)}: gone from the vault"
            out[src] = Change(src, Action.NOOP, True, forget=True, note=note)
        return out
    if not src_managed and new is not None:  # done earlier: an unmanaged alias of the old name is not ours
        return out
    if not src_managed:
        note = (
            f"cannot rename from {printable(src)}: it is in the vault but not managed by vaultsync; "
            "import it first (vaultsync import FILE ALIAS, with it in the file) or drop the moved entry"
        )
        out[dest] = Change(dest, Action.CONFLICT, dest_managed, note=note)
        return out
    replaced = dest in selection.replace
    if new is None:
        rewrite = replaced or (not secret.is_generated and not same_value(secret, old))
        note = f"renamed from {printable(src)}" + (", with the new entry's value" if rewrite else ", keeping its value")
        out[dest] = Change(
            dest, Action.MOVE, False, note=note, source=src, rewrite=rewrite, generated=secret.is_generated and rewrite
        )
        return out
    holds_it = new == old or (not secret.is_generated and same_value(secret, new))
    if dest_managed or holds_it:  # an interrupted rename: the new alias was written, the old one remains
        rewrite = replaced or (not secret.is_generated and not same_value(secret, new))
        note = f"finishing the rename from {printable(src)} (interrupted earlier): {printable(src)} is deleted"
        out[dest] = Change(
            dest,
            Action.MOVE,
            dest_managed,
            adopt=not dest_managed,
            note=note,
            source=src,
            rewrite=rewrite,
            resume=True,
            generated=secret.is_generated and rewrite,
        )
        return out
    note = (
        f"cannot rename {printable(src)} to it: it exists in the vault with another value and is not managed "
        "by vaultsync; import it or delete it first"
    )
    out[dest] = Change(dest, Action.CONFLICT, False, note=note)
    return out


def protected_problems(plan_: Plan, record: StateRecord) -> list[str]:
    """Every protected alias the plan would delete or rename away (empty: none)."""
    found = []
    for change in plan_.changes:
        if change.action is Action.DELETE and change.alias in record.protected:
            found.append(f"{printable(change.alias)} (deleted: it is no longer in the file)")
        elif change.action is Action.MOVE and change.source in record.protected:
            found.append(f"{printable(change.source)} (renamed to {printable(change.alias)})")
    return found


def protection_message(where: str, found: Iterable[str]) -> str:
    return (
        f"{where}: this plan would remove protected secrets: {', '.join(found)}. Nothing was written. "
        'To remove one on purpose, first delete "protect": true from its entry (keeping the entry) and apply '
        "that on its own; then remove or rename it"
    )
