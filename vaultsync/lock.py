"""The vault lock: a reserved alias taken with POST's create-only semantics."""

from __future__ import annotations

import getpass
import json
import os
import shlex
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from vaultsync.client import EdcClient
from vaultsync.errors import AlreadyExistsError, LockHeldError, VaultsyncError
from vaultsync.model import DEFAULT_LOCK_ALIAS
from vaultsync.text import printable

# The id to give force-unlock when the lock alias holds something that is not a vaultsync lock.
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class LockInfo:
    id: str
    user: str
    host: str
    pid: int
    started: str
    operation: str

    @staticmethod
    def mine(operation: str) -> LockInfo:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        started = datetime.now(UTC).isoformat(timespec="seconds")
        return LockInfo(str(uuid.uuid4()), user, socket.gethostname(), os.getpid(), started, operation)

    def encode(self) -> str:
        return json.dumps({"format": "vaultsync-lock", **asdict(self)}, sort_keys=True)

    def describe(self) -> str:
        return printable(
            f"{self.user}@{self.host} (pid {self.pid}) since {self.started}, "
            f"doing {self.operation!r}; lock id {self.id}"
        )


def parse_lock(raw: str) -> LockInfo | None:
    try:
        doc = json.loads(raw)
        return LockInfo(
            str(doc["id"]),
            str(doc["user"]),
            str(doc["host"]),
            int(doc["pid"]),
            str(doc["started"]),
            str(doc["operation"]),
        )
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


async def acquire(client: EdcClient, alias: str, operation: str) -> LockInfo:
    """Take the lock or fail fast naming its holder."""
    info = LockInfo.mine(operation)
    try:
        await client.create(alias, info.encode())
    except AlreadyExistsError:
        raw = await client.get(alias)
        raise LockHeldError(refusal(alias, raw)) from None
    return info


def refusal(alias: str, raw: str | None) -> str:
    """Why apply cannot take the lock: always the lock alias and the command that releases it."""
    flag = "" if alias == DEFAULT_LOCK_ALIAS else f" --lock-alias {printable(shlex.quote(alias))}"
    name = printable(alias)
    if raw is None:  # released between our POST and our GET
        return f"the lock alias {name} was held a moment ago and is free now; run the command again"
    holder = parse_lock(raw)
    if holder is None:
        return (
            f"the vault is locked: the lock alias {name} holds data vaultsync did not write (another tool, or "
            f"someone by hand, created a secret under that alias). If nothing else uses it, remove it with "
            f"`vaultsync force-unlock {UNREADABLE} FILE{flag}` (FILE: your desired-state file), or give "
            "vaultsync another lock alias with --lock-alias"
        )
    return (
        f"the vault is locked by {holder.describe()} (lock alias {name}). If that run is gone, remove the lock "
        f"with `vaultsync force-unlock {printable(holder.id)} FILE{flag}` (FILE: your desired-state file)"
    )


async def holder(client: EdcClient, alias: str) -> str | None:
    """Who holds the lock now (None: nobody), for read-only commands that want to say so."""
    raw = await client.get(alias)
    if raw is None:
        return None
    held = parse_lock(raw)
    return (
        held.describe()
        if held
        else f"an unknown holder (the lock alias {printable(alias)} holds data vaultsync did not write)"
    )


async def release(client: EdcClient, alias: str, info: LockInfo) -> None:
    """Delete the lock if it is still ours (never someone else's)."""
    raw = await client.get(alias)
    held = parse_lock(raw) if raw is not None else None
    if held is not None and held.id == info.id:
        await client.delete(alias)


async def force_unlock(client: EdcClient, alias: str, lock_id: str) -> LockInfo | None:
    """Remove a stale lock by its id. Returns the removed holder (None if the alias held no lock data)."""
    raw = await client.get(alias)
    if raw is None:
        raise VaultsyncError("the vault is not locked")
    held = parse_lock(raw)
    if held is None and lock_id == UNREADABLE:
        await client.delete(alias)
        return None
    if held is None or held.id != lock_id:
        current = held.describe() if held else f"unreadable lock data (force-unlock {UNREADABLE} removes it)"
        raise VaultsyncError(f"lock id {printable(lock_id)} does not match the current lock: {current}")
    await client.delete(alias)
    return held
