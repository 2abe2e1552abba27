"""Saying when the state is missing or smaller than the vault suggests. Pure: facts in, sentences out.

EDC cannot list secrets, so the state is vaultsync's only memory of what it manages. When the state
alias is deleted by hand (or a state file is lost, or an older copy restored), the next plan sees
the file's secrets already in the vault, adopts them as if new, and forgets for ever the aliases it
managed that are gone from the file: they are never deleted. Nothing in a plan looks wrong, so it
must be said.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultsync.plan import Action, Plan
from vaultsync.text import printable

# Like the mass-deletion guard: below this many, unmanaged secrets already in the vault are ordinary
# adoptions (or what an apply killed before recording its state left behind), not a shrunken state.
SHRINK_MIN = 10
SHRINK_FRACTION = 0.3


@dataclass(frozen=True, slots=True)
class StateFacts:
    """What was read: where the state lives and what it held."""

    file: str  # the desired-state file
    location: str  # "vault alias vaultsync-state" or "file state.json"
    record_exists: bool
    managed: int
    key_in_vault: bool
    file_backend: bool
    state_alias: str


@dataclass(frozen=True, slots=True)
class StateNotice:
    warning: bool  # False: for information only (silenced by --quiet)
    text: str


def _recovery(file: str) -> str:
    return (
        "Aliases it managed that are no longer in the file will never be deleted by vaultsync. To clean them "
        f"up: add them back to {file} (its history lists them), run `vaultsync import {file} ALIAS...`, then "
        "remove them from the file and apply"
    )


def state_notices(facts: StateFacts, plan: Plan) -> list[StateNotice]:
    """What to tell the user about the state before they act on ``plan`` (empty: nothing unusual)."""
    file = printable(facts.file)
    location = printable(facts.location)
    # Desired aliases the vault already holds; those not managed are adopted or in conflict.
    present = [c for c in plan.changes if c.action in (Action.NOOP, Action.UPDATE, Action.CONFLICT) and not c.forget]
    unmanaged = [c for c in present if not c.managed]
    wanted = sum(1 for c in plan.changes if c.action is not Action.DELETE and not c.forget)
    conflicts = sum(1 for c in unmanaged if c.action is not Action.NOOP)  # in conflict, or updated by --adopt
    same = len(unmanaged) - conflicts
    found = (
        f"{len(unmanaged)} of the {wanted} secrets in {file} already exist in the vault "
        f"({same} with the desired value, {conflicts} with another)"
    )
    if not facts.record_exists:
        if unmanaged:
            return [
                StateNotice(
                    True,
                    f"no state found in {location}, yet {found}. If vaultsync managed this connector before, "
                    "its state was lost (deleted or replaced by hand?) and apply starts a new one, adopting "
                    f"what matches. {_recovery(file)}.",
                )
            ]
        if facts.file_backend and facts.key_in_vault:
            return [
                StateNotice(
                    True,
                    f"no state found in {location}, but the vault alias {printable(facts.state_alias)} holds "
                    "vaultsync's fingerprint key: vaultsync was used with this connector before. If this is "
                    "not the state file it used (check --state-file), or that file was lost, apply starts a "
                    f"new state. {_recovery(file)}.",
                )
            ]
        return [StateNotice(False, f"no state found in {location}: nothing is managed yet; apply starts a new state")]
    if not unmanaged:
        return []
    if facts.managed == 0 or (len(unmanaged) >= SHRINK_MIN and len(unmanaged) > SHRINK_FRACTION * len(present)):
        recorded = "records no managed secret" if facts.managed == 0 else f"records {facts.managed} managed secrets"
        return [
            StateNotice(
                True,
                f"the state in {location} {recorded}, yet {found} without being in it: the managed set is "
                "smaller than the vault suggests. After an apply that was killed or could not record its state "
                "this is expected (apply adopts them). Otherwise the state lost them (edited by hand, or "
                f"restored from an older copy). {_recovery(file)}.",
            )
        ]
    return []
