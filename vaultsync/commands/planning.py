"""Planning a target: read the state and the vault, plan (pure, in lifecycle.planning), check references.

``plan_files`` is the plan command; ``plan --out`` saves what ``apply PLANFILE`` checks again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from vaultsync import assets, planfile
from vaultsync.client import EdcClient
from vaultsync.commands.runtime import Runtime, Target
from vaultsync.engine import read_values
from vaultsync.errors import VaultsyncError
from vaultsync.lifecycle import planning as lc_planning
from vaultsync.lifecycle.generate import comparable
from vaultsync.lifecycle.selection import Selection, unmatched
from vaultsync.lost_state import StateFacts, state_notices
from vaultsync.model import DesiredSecret
from vaultsync.plan import DeleteGuard, Plan, unsafe_deletes
from vaultsync.references import Checked
from vaultsync.render import PlanReport
from vaultsync.state import fingerprint
from vaultsync.statestore import Loaded, StateStore, write_atomically
from vaultsync.text import printable


@dataclass
class Planned:
    target: Target
    loaded: Loaded
    observed: dict[str, str | None] = field(repr=False)  # the vault's values
    plan: Plan
    guard: str | None
    selection: Selection = field(default_factory=Selection)
    refs: Checked | None = None  # what the connector's assets say about the plan (None: not read)

    def report(self) -> PlanReport:
        return PlanReport(
            self.target.desired.path,
            self.target.conn.url,
            self.target.conn.api_version,
            self.plan,
            self.guard,
            self.target.desired.paths,
            self.selection,
            self.refs,
            warnings=self.target.desired.warnings,
        )


async def plan_target(
    rt: Runtime, target: Target, client: EdcClient, *, adopt: bool, refuse_protected: bool = True
) -> Planned:
    # The version the client detected ("auto") is the one the plan shows and a saved plan keeps.
    target = replace(target, conn=replace(target.conn, api_version=client.api_version))
    store = rt.store(client)
    loaded = await store.load()  # first: a connector that cannot be reached or trusted fails here, alone
    aliases = lc_planning.aliases_to_read(target.desired, loaded.record, rt.selection)
    for pattern in unmatched(rt.selection, target.desired.secrets.keys() | loaded.record.managed.keys()):
        rt.console.warn(f"{printable(target.desired.path)}: --target {printable(pattern)!r} matches no alias")
    references = assets.start(client, rt.flags.references, rt.flags.assets_page_size)  # beside the GETs
    try:
        progress = rt.progress(f"reading {target.desired.path}", len(aliases))
        try:
            observed = await read_values(client, aliases, rt.flags.parallelism, progress, stop=rt.stop)
        finally:
            progress.close()
        plan = lc_planning.plan(target.desired, observed, loaded.record, rt.selection, adopt=adopt)
        _tell_about_state(rt, store, target, loaded, plan)
        if refuse_protected:
            _refuse_protected(target.desired.path, plan, loaded)
        refs = await _check_references(rt, references, client, target, plan, observed)
    finally:
        await assets.cancel(references)
    return Planned(target, loaded, observed, plan, unsafe_deletes(plan, DeleteGuard()), rt.selection, refs)


async def _check_references(
    rt: Runtime,
    task: asyncio.Task[assets.AssetIndex] | None,
    client: EdcClient,
    target: Target,
    plan: Plan,
    observed: Mapping[str, str | None],
) -> Checked | None:
    return await assets.finish(
        task,
        client,
        plan=plan,
        desired=target.desired.secrets,
        observed=observed,
        parallelism=rt.flags.parallelism,
        allow_dangling=rt.flags.allow_dangling,
        stop=rt.stop,
    )


def _tell_about_state(rt: Runtime, store: StateStore, target: Target, loaded: Loaded, plan: Plan) -> None:
    """No state, or fewer managed secrets than the vault suggests: say so, since the plan looks normal."""
    facts = StateFacts(
        target.desired.path,
        store.location,
        loaded.record.exists,
        len(loaded.record.managed),
        loaded.key_in_vault,
        store.path is not None,
        store.alias,
    )
    for notice in state_notices(facts, plan):
        (rt.console.warn if notice.warning else rt.console.info)(notice.text)


def _refuse_protected(where: str, plan: Plan, loaded: Loaded) -> None:
    found = lc_planning.protected_problems(plan, loaded.record)
    if found:
        raise VaultsyncError(lc_planning.protection_message(printable(where), found))


def reference_refusals(report: PlanReport) -> list[str]:
    """Why the plan must not run: it removes aliases that assets still reference (empty: it may)."""
    if report.refs is None or not report.refs.refusals:
        return []
    broken = "; ".join(r.message() for r in report.refs.refusals[:10])
    more = len(report.refs.refusals) - 10
    return [
        printable(
            f"{report.file}: {broken}{f' and {more} more' if more > 0 else ''}. Point the assets at another "
            "alias first, or pass --allow-dangling if that is intended"
        )
    ]


def fingerprints(key: bytes, values: Mapping[str, str | None]) -> dict[str, str | None]:
    return {a: (fingerprint(key, a, v) if v is not None else None) for a, v in values.items()}


async def plan_files(
    rt: Runtime, targets: Sequence[Target], *, adopt: bool, out: str | None, allow_mass_delete: bool = False
) -> list[PlanReport]:
    """Read-only (except that ``--out`` stores the fingerprint key on first use).

    ``adopt`` and ``allow_mass_delete`` are recorded in the saved plan: what was reviewed is what applies.
    """
    saved: list[planfile.SavedTarget] = []
    keys: list[bytes] = []
    reports = []
    for target in targets:
        async with rt.client(target.conn) as client:
            planned = await plan_target(rt, target, client, adopt=adopt)
            reports.append(planned.report())
            if out is not None:
                await rt.store(client).ensure_key(planned.loaded)
                inputs = _plan_inputs(rt, planned.target, adopt=adopt, allow_mass_delete=allow_mass_delete)
                saved.append(_saved_target(planned, inputs))
                keys.append(planned.loaded.key)
    if out is not None and not any(reference_refusals(r) for r in reports):  # a refused plan is not saved
        write_atomically(Path(out), planfile.encode(saved, keys))
    return reports


def _plan_inputs(rt: Runtime, target: Target, *, adopt: bool, allow_mass_delete: bool) -> planfile.PlanInputs:
    """What ``plan --out`` records for ``apply PLANFILE`` to compute the same plan again."""
    return planfile.PlanInputs(
        files=tuple(planfile.record_path(p) for p in target.desired.paths),
        api_version=target.conn.api_version,
        state_file=planfile.record_path(rt.flags.state_file) if rt.flags.state_file else None,
        state_alias=rt.flags.state_alias,
        lock_alias=rt.flags.lock_alias,
        adopt=adopt,
        allow_mass_delete=allow_mass_delete,
        selection=rt.selection,
        allow_dangling=rt.flags.allow_dangling,
    )


def _saved_target(planned: Planned, inputs: planfile.PlanInputs) -> planfile.SavedTarget:
    key = planned.loaded.key
    return planfile.SavedTarget(
        url=planned.target.conn.url,
        inputs=inputs,
        lineage=planned.loaded.record.lineage,
        serial=planned.loaded.record.serial,
        read=fingerprints(key, planned.observed),
        desired=desired_fingerprints(key, planned.target.desired.secrets, planned.selection),
        plan=planned.plan,
    )


def desired_fingerprints(key: bytes, secrets: Mapping[str, DesiredSecret], selection: Selection) -> dict[str, str]:
    """What a saved plan checks of the desired state: the selected aliases' values (a generate entry's recipe)."""
    return {a: fingerprint(key, a, comparable(s)) for a, s in secrets.items() if selection.matches(a)}
