"""Applying: refuse unsafe plans, ask once, make the writes, then record exactly what succeeded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from vaultsync.breaker import StateNotRecorded, connector_gone
from vaultsync.client import EdcClient
from vaultsync.commands.planning import Planned, plan_target, reference_refusals
from vaultsync.commands.runtime import Runtime, Target, locked, stop_on_signals
from vaultsync.engine import execute
from vaultsync.errors import Interrupted, UsageError, VaultsyncError
from vaultsync.lifecycle import execute as lc_execute
from vaultsync.lifecycle import record as lc_record
from vaultsync.model import DesiredSecret
from vaultsync.plan import Action, Outcome
from vaultsync.progress import ApplyProgress
from vaultsync.render import PlanReport
from vaultsync.state import fingerprint
from vaultsync.statestore import StateStore
from vaultsync.text import printable

Confirm = Callable[[str], Awaitable[bool]]


def _next_managed(
    planned: Planned,
    outcomes: Sequence[Outcome],
    secrets: Mapping[str, DesiredSecret] | None = None,
    renamed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The managed set after apply: exactly what succeeded, nothing that did not.

    ``secrets``: the desired secrets with the values apply generated; ``renamed``: fingerprints of renamed aliases.
    """
    key = planned.loaded.key
    managed = dict(planned.loaded.record.managed)
    results = {o.alias: o for o in outcomes if o.action is not Action.MOVE}
    secrets = planned.target.desired.secrets if secrets is None else secrets
    lc_record.apply_moves(managed, planned.plan, outcomes, renamed or {})
    for change in planned.plan.changes:
        alias = change.alias
        if change.action in (Action.CREATE, Action.UPDATE):
            if results.get(alias) is not None and results[alias].ok:
                managed[alias] = fingerprint(key, alias, secrets[alias].value)
        elif change.action is Action.DELETE:
            if results.get(alias) is not None and results[alias].ok:
                managed.pop(alias, None)
        elif change.forget:
            managed.pop(alias, None)
        elif change.action is Action.NOOP:
            stored = planned.observed.get(alias)
            if stored is not None:
                managed[alias] = fingerprint(key, alias, stored)
    return managed


def _next_flags(planned: Planned, managed: Mapping[str, str]) -> lc_record.Flags:
    return lc_record.next_flags(planned.loaded.record, managed, planned.target.desired.secrets, planned.plan)


def _state_differs(planned: Planned, managed: Mapping[str, str]) -> bool:
    """Whether ``managed`` must be written: it (or a flag) differs, or the fingerprint key is not stored yet."""
    record = planned.loaded.record
    return (
        dict(managed) != dict(record.managed)
        or _next_flags(planned, managed) != lc_record.flags_of(record)
        or (not planned.loaded.key_in_vault and bool(managed))
    )


def _needs_apply(planned: Planned) -> bool:
    """Writes to make, or a state to record (adoptions, forgotten aliases, fingerprints of no-ops
    whose value changed by hand to what the file wants: apply acknowledges that drift)."""
    return planned.plan.has_changes or _state_differs(planned, _next_managed(planned, []))


async def _execute_and_record(
    rt: Runtime, planned: Planned, client: EdcClient, stop: asyncio.Event
) -> tuple[list[Outcome], bool]:
    """Make the writes, then record exactly what succeeded. Returns the outcomes and whether state was written."""
    secrets = lc_execute.materialize(planned.target.desired.secrets, planned.plan)
    store = rt.store(client)
    renamed = await lc_execute.write_new_aliases(
        client, planned.plan, secrets, planned.loaded.key, rt.flags.parallelism, stop=stop
    )
    if renamed.deletes:  # the new aliases are recorded before the old ones go: an interruption loses nothing
        halfway = _next_managed(planned, renamed.outcomes, secrets, renamed.fingerprints)
        await _record(planned, store, halfway, renamed.outcomes)
    writes = [c for c in planned.plan.changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    writes += renamed.deletes
    progress = ApplyProgress(rt.console, f"applying {planned.target.desired.path}", len(writes))
    try:
        outcomes = await execute(
            client,
            writes,
            secrets,
            rt.flags.parallelism,
            stop=stop,
            progress=progress,
            on_outcome=progress.outcome,
        )
    finally:
        progress.close()
    connector_gone(rt.console, client.breaker, client.base_url, outcomes)
    outcomes = [*renamed.outcomes, *outcomes]
    managed = _next_managed(planned, outcomes, secrets, renamed.fingerprints)
    if not _state_differs(planned, managed):
        return outcomes, False
    await _record(planned, store, managed, outcomes)
    return outcomes, True


async def _record(planned: Planned, store: StateStore, managed: dict[str, str], outcomes: Sequence[Outcome]) -> None:
    """Save the state after (some of) the writes; a failure says which writes were made."""
    try:
        record = planned.loaded.record.with_managed(managed, *_next_flags(planned, managed))
        await store.save(planned.loaded, record)
    except VaultsyncError as exc:
        # The writes happened; say which, since the outcome list is never printed after this.
        done = [printable(f"{o.action} {o.alias}") for o in outcomes if o.ok]
        made = ", ".join(done[:10]) + (f" and {len(done) - 10} more" if len(done) > 10 else "")
        aftermath = (
            f"These changes WERE made in the vault: {made}. The next apply finds them there and records them "
            "(created or updated secrets that match the file are adopted, deleted ones forgotten)."
            if done
            else "No secret was written; apply again."
        )
        raise StateNotRecorded(
            f"the state could not be recorded in {store.location}: {exc}. {aftermath}", list(outcomes)
        ) from None


@dataclass
class ApplyResult:
    reports: list[PlanReport]
    outcomes: list[tuple[str, list[Outcome]]]
    interrupted: bool = False
    state_written: bool = False

    @property
    def failed(self) -> bool:
        return any(o.status != "done" for _, outs in self.outcomes for o in outs)


async def apply_each(
    result: ApplyResult,
    work: Sequence[tuple[Runtime, Planned, EdcClient]],
    stop: asyncio.Event,
    show_outcomes: Callable[[str, list[Outcome]], None],
) -> None:
    """Execute each target's plan in turn, recording its state and reporting its outcomes."""
    for rt, planned, client in work:
        try:
            outcomes, written = await _execute_and_record(rt, planned, client, stop)
        except StateNotRecorded as exc:
            show_outcomes(planned.target.desired.path, exc.outcomes)
            raise
        result.state_written |= written
        result.outcomes.append((planned.target.desired.path, outcomes))
        show_outcomes(planned.target.desired.path, outcomes)
    result.interrupted = stop.is_set()


def refuse_unsafe(planned: Sequence[Planned], allow_mass_delete: Sequence[bool], *, saved: bool = False) -> None:
    """Refuse the whole apply while a conflict remains or a target deletes too much (unless allowed)."""
    adopt_hint = (
        "plan again with --adopt (vaultsync plan FILE --adopt --out PLANFILE)" if saved else "apply with --adopt"
    )
    reasons = []
    for p, allowed in zip(planned, allow_mass_delete, strict=True):
        if p.plan.conflicts:
            names = ", ".join(printable(c.alias) for c in p.plan.conflicts[:10])
            reasons.append(
                f"{p.target.desired.path}: {len(p.plan.conflicts)} conflict(s) ({names}): these secrets exist in "
                "the vault with other values and are not managed. Import them (vaultsync import FILE ALIAS...) "
                f"or {adopt_hint} to overwrite them"
            )
        if p.guard and not allowed:
            reasons.append(f"{p.target.desired.path}: {p.guard}; pass --allow-mass-delete if that is intended")
        reasons.extend(reference_refusals(p.report()))
    if reasons:
        raise UsageError("apply refused, nothing was written:\n  " + "\n  ".join(reasons))


async def apply_files(
    rt: Runtime,
    targets: Sequence[Target],
    *,
    adopt: bool,
    allow_mass_delete: bool,
    confirm: Confirm | None,
    show: Callable[[list[PlanReport]], None],
    show_outcomes: Callable[[str, list[Outcome]], None],
) -> ApplyResult:
    """Plan every target under its lock, ask once, then apply each and record its state."""
    async with contextlib.AsyncExitStack() as stack:
        stop = await stack.enter_async_context(stop_on_signals(rt))
        planned: list[tuple[Planned, EdcClient]] = []
        for target in targets:
            client = await stack.enter_async_context(rt.client(target.conn))
            await stack.enter_async_context(locked(rt, client, f"apply {target.desired.path}", target.desired.path))
            planned.append((await plan_target(rt, target, client, adopt=adopt), client))
            if stop.is_set():
                raise Interrupted("interrupted before anything was written")
        reports = [p.report() for p, _ in planned]
        show(reports)
        refuse_unsafe([p for p, _ in planned], [allow_mass_delete] * len(planned))
        result = ApplyResult(reports, [])
        if not any(_needs_apply(p) for p, _ in planned):
            return result
        needs_approval = confirm is not None and any(p.plan.has_changes for p, _ in planned)
        question = "Do you want to apply these changes? Only 'yes' will be accepted: "
        if needs_approval and confirm is not None and not await confirm(question):
            if stop.is_set():
                raise Interrupted("apply cancelled, nothing was written")
            raise UsageError("apply cancelled, nothing was written")
        await apply_each(result, [(rt, p, client) for p, client in planned], stop, show_outcomes)
        return result
