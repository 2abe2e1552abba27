"""Where the state record lives: in the vault (default) or in a local file.

The fingerprint key always lives in the vault, in the state alias, so a state
file committed by mistake holds nothing a value could be recovered from.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from vaultsync import statecodec
from vaultsync.client import EdcClient
from vaultsync.engine import read_values
from vaultsync.errors import AlreadyExistsError, InputError, Problem, VaultsyncError
from vaultsync.state import StateRecord, StoredState, decode, encode_file, encode_vault_value, key_id, new_key


@dataclass
class Loaded:
    """The state as read, plus what is needed to write it back.

    ``key`` is always set: read from the vault, or freshly generated and not yet
    stored (``key_in_vault`` False) until the first save or ``ensure_key``.
    """

    record: StateRecord
    key: bytes = field(repr=False)
    key_in_vault: bool
    alias_exists: bool
    shards: list[str] = field(default_factory=list)  # the shard aliases the stored head names


class StateStore:
    """State in the vault under ``alias``; or, with ``path``, in that file (key still in the vault)."""

    def __init__(self, client: EdcClient, alias: str, path: str | None = None) -> None:
        self.client = client
        self.alias = alias
        self.path = Path(path) if path else None

    @property
    def location(self) -> str:
        return f"file {self.path}" if self.path else f"vault alias {self.alias}"

    async def load(self) -> Loaded:
        raw = await self.client.get(self.alias)
        where = f"vault alias {self.alias}"
        shards = statecodec.shards_named(raw, where) if raw is not None else []
        values = await read_values(self.client, shards, self.client.options.parallelism) if shards else {}
        vault = decode(statecodec.unpack(raw, values, where), where) if raw is not None else StoredState(None, None)
        record = (vault.record if self.path is None else self._read_file(vault.key)) or StateRecord.empty()
        key = vault.key if vault.key is not None else new_key()
        return Loaded(record, key, vault.key is not None, raw is not None, shards)

    def _read_file(self, vault_key: bytes | None) -> StateRecord | None:
        assert self.path is not None
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError([Problem(str(self.path), f"cannot read the state file: {exc}")]) from None
        stored = decode(text, str(self.path))
        if stored.key is not None:
            raise InputError([Problem(str(self.path), "a state file must not hold the fingerprint key")])
        if stored.key_id is not None and (vault_key is None or key_id(vault_key) != stored.key_id):
            found = "holds no fingerprint key" if vault_key is None else "holds another fingerprint key"
            raise InputError(
                [
                    Problem(
                        str(self.path),
                        f"this state file was written for another vault: the vault alias {self.alias} {found}. "
                        "Check --url and --state-file. If this is the right connector and its state alias was "
                        'deleted or replaced, remove "keyId" from the state file to record the new key',
                    )
                ]
            )
        return stored.record

    async def _store_vault_value(self, loaded: Loaded, value: str) -> None:
        """Write the shards under names the stored head does not use, switch the head, then clean up
        (see statecodec for why a crash at any point leaves a readable state)."""
        avoid = set(loaded.shards)
        while True:
            packed = statecodec.pack(value, self.alias, avoid)
            taken = [name for name, shard in packed.shards.items() if not await self._put(name, shard)]
            if not taken:
                break
            avoid.update(taken)  # a secret that is not vaultsync's holds that name: shard under the next one
        await self._store_head(loaded, packed.head)
        old, loaded.shards = loaded.shards, list(packed.shards)
        if old or packed.shards:
            await self._remove_stale(old, loaded.shards)

    async def _put(self, alias: str, value: str) -> bool:
        """Create or overwrite a shard the head does not name. False (and nothing written) when the alias
        holds a secret that is not a shard: that is someone's secret, never overwritten."""
        try:
            await self.client.create(alias, value)
        except AlreadyExistsError:
            if not statecodec.is_shard(await self.client.get(alias)):
                return False
            await self.client.update(alias, value)
        return True

    async def _remove_stale(self, old: list[str], new: list[str]) -> None:
        """Best effort: delete the shards the old head named, then any a crashed save left (only if they are
        shards: a secret of the same name that is not vaultsync's is left alone)."""
        try:
            for name in reversed(old):  # highest first: a crash leaves the lowest, which the next save reuses
                if name not in new:
                    await self.client.delete(name)
            stale = statecodec.stale_shards(self.alias, old, new)
            for name in stale:
                if name not in old and statecodec.is_shard(await self.client.get(name)):
                    await self.client.delete(name)
            number = len(stale) + len(new) + statecodec.FIRST_SHARD  # the first number above all of them
            while statecodec.is_shard(await self.client.get(name := statecodec.shard_alias(self.alias, number))):
                await self.client.delete(name)
                number += 1
        except VaultsyncError:
            pass  # the head is written and names whole shards; the next save deletes what is left

    async def _store_head(self, loaded: Loaded, value: str) -> None:
        if loaded.alias_exists:
            await self.client.update(self.alias, value)
            return
        try:
            await self.client.create(self.alias, value)
        except AlreadyExistsError:
            # Someone initialised it between our read and now (only unlocked `plan --out` can).
            again = await self.load()
            if not again.key_in_vault:
                raise
            raise VaultsyncError(
                f"the state alias {self.alias} was initialised by another run meanwhile; run the command again"
            ) from None
        loaded.alias_exists = True

    async def ensure_key(self, loaded: Loaded) -> None:
        """Store the fingerprint key in the vault if it is not there yet (for saved plans)."""
        if not loaded.key_in_vault:
            # Only the key when there is no record yet (or the record lives in a file): a record
            # is written by the first save, under the lock.
            record = loaded.record if self.path is None and loaded.record.exists else None
            await self._store_vault_value(loaded, encode_vault_value(record, loaded.key))
            loaded.key_in_vault = True

    async def save(self, loaded: Loaded, record: StateRecord) -> None:
        """Write ``record`` (the caller holds the lock)."""
        if self.path is not None:
            await self.ensure_key(loaded)
            write_atomically(self.path, encode_file(record, key_id(loaded.key)))
        else:
            await self._store_vault_value(loaded, encode_vault_value(record, loaded.key))
            loaded.key_in_vault = True
        loaded.record = record


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` so a crash leaves either the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
