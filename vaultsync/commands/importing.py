"""``import``: take existing vault secrets under management without changing them."""

from __future__ import annotations

from collections.abc import Sequence

from vaultsync.commands.runtime import Runtime, Target, locked, stop_on_signals
from vaultsync.engine import read_values
from vaultsync.errors import UsageError, VaultsyncError
from vaultsync.state import fingerprint
from vaultsync.text import printable


async def import_aliases(rt: Runtime, target: Target, aliases: Sequence[str]) -> list[str]:
    """Take existing vault secrets under management without changing them."""
    unknown = [a for a in aliases if a not in target.desired.secrets]
    if unknown:
        raise UsageError(
            f"not in {target.desired.path}: {', '.join(printable(a) for a in unknown)}; add them to the file first"
        )
    # Signals wait for the short critical section: the lock is always released.
    async with stop_on_signals(rt), rt.client(target.conn) as client, locked(rt, client, "import"):
        store = rt.store(client)
        loaded = await store.load()
        values = await read_values(client, aliases, rt.flags.parallelism)
        missing = [a for a, v in values.items() if v is None]
        if missing:
            raise VaultsyncError(
                "not in the vault, nothing to import (apply will create them): "
                + ", ".join(printable(a) for a in missing)
            )
        managed = dict(loaded.record.managed)
        for alias, value in values.items():
            assert value is not None
            managed[alias] = fingerprint(loaded.key, alias, value)
        await store.save(loaded, loaded.record.with_managed(managed))
    return list(aliases)
