"""The in-vault state stays under 24 KB per stored value, however many aliases vaultsync manages.

Real vault backends cap a secret's size (Azure Key Vault: 25 KB). The state is compressed and, when
still too large, split into shards (``vaultsync-state-2``, ...) written so that a crash between any
two writes leaves a readable managed set. Today's plain format is still read (and rewritten).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from conftest import CANARY, Server, run_cli, write_desired

from vaultsync.client import ClientOptions, EdcClient
from vaultsync.state import StateRecord, encode_vault_value, fingerprint, new_key
from vaultsync.statecodec import LIMIT, unpack
from vaultsync.statestore import StateStore

BASE = "http://edc.test/api/management"
STATE = "vaultsync-state"


class Crash(Exception):
    """The process dies: no further request is made."""


class Vault:
    """EDC's secrets API over a dict (POST create-only, PUT update-only), able to die at the n-th write."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.secrets = dict(secrets or {})
        self.writes = 0
        self.die_at: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method in ("POST", "PUT", "DELETE"):
            self.writes += 1
            if self.die_at is not None and self.writes >= self.die_at:
                raise Crash
        if request.method in ("GET", "DELETE"):
            alias = request.url.path.rsplit("/", 1)[-1]
            if alias not in self.secrets:
                return httpx.Response(404, json=[{"message": "Object not found", "type": "ObjectNotFound"}])
            if request.method == "DELETE":
                del self.secrets[alias]
                return httpx.Response(204)
            return httpx.Response(200, json={"@id": alias, "value": self.secrets[alias]})
        body = json.loads(request.content)
        alias, value = body["@id"], body["value"]
        if request.method == "POST" and alias in self.secrets:
            return httpx.Response(409, json=[{"message": "Object already exists", "type": "ObjectConflict"}])
        if request.method == "PUT" and alias not in self.secrets:
            return httpx.Response(404, json=[{"message": "Object not found", "type": "ObjectNotFound"}])
        self.secrets[alias] = value
        return httpx.Response(200 if request.method == "POST" else 204, json={"@id": alias})


KEY = new_key()


def managed_set(count: int, tag: str = "") -> dict[str, str]:
    aliases = [f"app-{i:05d}-client-secret{tag}" for i in range(count)]
    return {a: fingerprint(KEY, a, f"value-{a}") for a in aliases}


async def _save(vault: Vault, managed: dict[str, str]) -> None:
    async with EdcClient(BASE, None, options=ClientOptions(max_retries=0), transport=httpx.MockTransport(vault)) as c:
        store = StateStore(c, STATE)
        loaded = await store.load()
        await store.save(loaded, loaded.record.with_managed(managed))


async def _load(vault: Vault) -> dict[str, str]:
    async with EdcClient(BASE, None, options=ClientOptions(max_retries=0), transport=httpx.MockTransport(vault)) as c:
        loaded = await StateStore(c, STATE).load()
        return dict(loaded.record.managed)


def save(vault: Vault, managed: dict[str, str]) -> None:
    asyncio.run(_save(vault, managed))


def load(vault: Vault) -> dict[str, str]:
    return asyncio.run(_load(vault))


def assert_small_and_tidy(vault: Vault) -> None:
    """Every stored value is under the limit, and the vault holds exactly the head and the shards it names."""
    sizes = {alias: len(value.encode("utf-8")) for alias, value in vault.secrets.items()}
    assert max(sizes.values()) <= LIMIT < 24 * 1024, sizes
    head = json.loads(vault.secrets[STATE])
    assert set(vault.secrets) == {STATE, *head.get("shards", [])}


def test_20000_managed_aliases_keep_every_stored_value_under_24_kb_and_read_back_whole() -> None:
    vault = Vault()
    first = managed_set(20_000)
    save(vault, first)
    assert len(vault.secrets) > 20  # sharded: about 1.1 MB compressed
    assert_small_and_tidy(vault)
    assert load(vault) == first

    second = {**managed_set(19_000), **managed_set(1_500, tag="-new")}  # the next save ping-pongs the shard names
    save(vault, second)
    assert_small_and_tidy(vault)
    assert load(vault) == second

    save(vault, managed_set(3))  # shrinking back to one inline value removes every shard
    assert set(vault.secrets) == {STATE}
    assert load(vault) == managed_set(3)


def _crash_at_every_write(before: dict[str, str], after: dict[str, str]) -> None:
    vault = Vault()
    save(vault, before)
    stored = dict(vault.secrets)
    counter = Vault(stored)
    save(counter, after)
    total = counter.writes
    assert total > 3
    outcomes = set()
    for die_at in range(1, total + 1):
        crashed = Vault(stored)
        crashed.die_at = die_at
        with pytest.raises(Crash):
            save(crashed, after)
        crashed.die_at = None
        seen = load(crashed)
        assert seen in (before, after), f"crash at write {die_at} of {total} lost the managed set"
        outcomes.add("after" if seen == after else "before")
        # The next save succeeds and leaves nothing behind (a sharded save sweeps leftover shards; an inline
        # one makes no extra request for them, and leftovers hold only keyed fingerprints).
        final = managed_set(2_500, tag="-final")
        save(crashed, final)
        assert load(crashed) == final
        assert_small_and_tidy(crashed)
    # The head switch is the one step that changes what is read; after it come only deletions of old shards.
    assert outcomes == ({"before", "after"} if len(stored) > 1 else {"before"})


@pytest.mark.parametrize(("before", "after"), [(3_000, 6_000), (6_000, 2_000), (400, 3_000), (3_000, 10)])
def test_a_crash_between_any_two_state_writes_leaves_a_readable_managed_set(before: int, after: int) -> None:
    _crash_at_every_write(managed_set(before), managed_set(after, tag="-b"))


def test_a_crash_between_shard_writes_of_20000_aliases_keeps_the_previous_set() -> None:
    vault = Vault()
    before = managed_set(20_000)
    save(vault, before)
    for die_at in (2, 25):  # between shard writes, before the head moves
        crashed = Vault(vault.secrets)
        crashed.die_at = die_at
        with pytest.raises(Crash):
            save(crashed, managed_set(20_000, tag="-b"))
        crashed.die_at = None
        assert load(crashed) == before
        assert max(len(v) for v in crashed.secrets.values()) <= LIMIT


@pytest.mark.parametrize("count", [1, 2_000], ids=["inline", "sharded"])
def test_the_state_holds_no_value_even_compressed(count: int) -> None:
    vault = Vault()
    save(vault, {f"db-{i}": fingerprint(KEY, f"db-{i}", f"{CANARY}-{i}") for i in range(count)})
    assert (len(vault.secrets) > 1) == (count > 1)
    text = unpack(vault.secrets[STATE], vault.secrets, "state")
    assert "db-0" in text
    for stored in [text, *vault.secrets.values()]:
        assert CANARY not in stored
        assert "CANARY" not in stored


# -- over the wire, through the CLI -------------------------------------------------------------------


def test_todays_plain_state_is_read_and_rewritten_compact(devserver: Server, tmp_path: Path) -> None:
    secrets = {f"svc-{i:04d}": f"value-{i}" for i in range(1_200)}
    devserver.secrets.update(secrets)
    key = new_key()
    legacy = StateRecord("lineage-1", 7, {a: fingerprint(key, a, v) for a, v in secrets.items()})
    devserver.secrets[STATE] = encode_vault_value(legacy, key)  # a version-1 value, as vaultsync wrote it so far
    assert len(devserver.secrets[STATE]) > 100_000
    file = write_desired(tmp_path / "d.json", {**secrets, "added": "new-value"})
    env = {"EDC_MANAGEMENT_URL": devserver.url}

    listed = run_cli("state", "list", str(file), env=env)
    assert listed.code == 0, listed.err
    assert listed.out.split() == sorted(secrets)

    applied = run_cli("apply", str(file), "--auto-approve", env=env)
    assert applied.code == 0, applied.both
    assert "created added" in applied.out
    stored = {a: v for a, v in devserver.secrets.items() if a == STATE or a.startswith(STATE + "-")}
    assert len(stored) > 1 and max(len(v) for v in stored.values()) <= LIMIT
    again = run_cli("state", "list", str(file), env=env)
    assert again.out.split() == sorted([*secrets, "added"])
    assert run_cli("plan", str(file), "--detailed-exitcode", env=env).code == 0
    drift = run_cli("drift", str(file), env=env)
    assert drift.code == 0, drift.both  # fingerprints survived the migration


@pytest.mark.parametrize(
    ("alias", "flags", "refused"),
    [
        ("vaultsync-state-2", (), True),
        ("vaultsync-state-17", (), True),
        ("vaultsync-state-backup", (), False),
        ("vaultsync-state-02", (), False),
        ("team-state-3", ("--state-alias", "team-state"), True),
        ("vaultsync-state-3", ("--state-alias", "team-state"), False),
    ],
)
def test_state_shard_aliases_are_reserved(tmp_path: Path, alias: str, flags: tuple[str, ...], refused: bool) -> None:
    file = write_desired(tmp_path / "d.json", {alias: "x-value"})
    result = run_cli("validate", str(file), *flags)
    assert result.code == (1 if refused else 0), result.both
    if refused:
        assert "reserved for vaultsync's own state" in result.err


def test_a_secret_that_happens_to_have_a_shard_name_is_never_overwritten_nor_deleted() -> None:
    """Aliases like vaultsync-state-2 may hold someone's secret from before sharding: the state goes around it."""
    foreign = {f"{STATE}-2": "someone's secret", f"{STATE}-4": '{"format": "not ours"}'}
    vault = Vault(foreign)
    for managed in (managed_set(3_000), managed_set(5_000, tag="-b"), managed_set(3)):
        save(vault, managed)
        assert load(vault) == managed
        assert all(vault.secrets[a] == v for a, v in foreign.items())
        head = json.loads(vault.secrets[STATE])
        assert not set(head.get("shards", [])) & set(foreign)
        assert set(vault.secrets) == {STATE, *head.get("shards", []), *foreign}  # and nothing else left over
