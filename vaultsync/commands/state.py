"""``state list``, ``state rm`` and ``force-unlock``: the record of managed aliases and the lock."""

from __future__ import annotations

from collections.abc import Sequence

from vaultsync import lock as vlock
from vaultsync.commands.runtime import Runtime, locked, stop_on_signals
from vaultsync.config import Connection
from vaultsync.errors import VaultsyncError
from vaultsync.text import printable


async def state_list(rt: Runtime, conn: Connection) -> list[str]:
    async with rt.client(conn) as client:
        loaded = await rt.store(client).load()
    return sorted(loaded.record.managed)


async def state_rm(rt: Runtime, conn: Connection, aliases: Sequence[str]) -> list[str]:
    """Forget aliases without deleting them from the vault."""
    async with stop_on_signals(rt), rt.client(conn) as client, locked(rt, client, "state rm"):
        store = rt.store(client)
        loaded = await store.load()
        absent = [a for a in aliases if a not in loaded.record.managed]
        if absent:
            raise VaultsyncError("not managed: " + ", ".join(printable(a) for a in absent))
        managed = {a: fp for a, fp in loaded.record.managed.items() if a not in set(aliases)}
        await store.save(loaded, loaded.record.with_managed(managed))
    return list(aliases)


async def force_unlock(rt: Runtime, conn: Connection, lock_id: str) -> vlock.LockInfo | None:
    async with rt.client(conn) as client:
        return await vlock.force_unlock(client, rt.flags.lock_alias, lock_id)
