"""``drift``: changes made to managed secrets outside vaultsync (read-only)."""

from __future__ import annotations

from collections.abc import Sequence

from vaultsync import lock as vlock
from vaultsync.commands.planning import fingerprints, plan_target
from vaultsync.commands.runtime import Runtime, Target
from vaultsync.state import DriftItem, drift
from vaultsync.text import printable


async def drift_files(rt: Runtime, targets: Sequence[Target]) -> list[tuple[str, list[DriftItem], list[DriftItem]]]:
    results = []
    for target in targets:
        async with rt.client(target.conn) as client:
            # Read-only: a pending delete of a protected alias is reported as pending, not refused.
            planned = await plan_target(rt, target, client, adopt=False, refuse_protected=False)
            locked_by = await vlock.holder(client, rt.flags.lock_alias)
            if locked_by:
                rt.console.warn(
                    f"{printable(target.desired.path)}: the vault is locked by {locked_by}: an apply may be "
                    "under way, and drift seen now may be its unfinished work"
                )
            managed = planned.loaded.record.managed
            if not planned.loaded.key_in_vault:
                if managed:
                    rt.console.warn(
                        f"{printable(target.desired.path)}: no fingerprint key in the vault alias "
                        f"{printable(rt.flags.state_alias)}: only deletions can be detected, not changed values"
                    )
                managed = {a: "" for a in managed}
            observed_fps = fingerprints(planned.loaded.key, {a: v for a, v in planned.observed.items() if a in managed})
            pending = {c.alias: str(c.action) for c in planned.plan.changes if c.is_change}
            for warning in planned.refs.warnings if planned.refs else ():
                rt.console.warn(printable(f"{target.desired.path}: {warning.message}"))
            drifted, waiting = drift(managed, observed_fps, pending)
            results.append((target.desired.path, drifted, waiting))
    return results
