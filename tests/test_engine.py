"""The concurrent engine: bounded parallelism, right answers under any timing, safe write order, reuse."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import httpx
import pytest
from conftest import Server, run_cli, write_desired

from vaultsync.client import ClientOptions, EdcClient
from vaultsync.engine import execute, read_values
from vaultsync.errors import ApiError
from vaultsync.model import DesiredSecret
from vaultsync.plan import Action, Change

BASE = "http://edc.test/api/management"


class Vault:
    """A MockTransport handler with random answer times that tracks how many requests overlap."""

    def __init__(self, secrets: dict[str, str], fail: set[str] | None = None) -> None:
        self.secrets = secrets
        self.fail = fail or set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.log: list[tuple[str, str]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(random.uniform(0, 0.002))
            alias = request.url.path.rsplit("/", 1)[-1] if request.method in ("GET", "DELETE") else ""
            if request.method in ("POST", "PUT"):
                alias = json.loads(request.content)["@id"]
            self.log.append((request.method, alias))
            if alias in self.fail:
                return httpx.Response(500)
            if request.method == "GET":
                if alias not in self.secrets:
                    return httpx.Response(404, json=[{"message": "not found", "type": "ObjectNotFound"}])
                return httpx.Response(200, json={"@id": alias, "value": self.secrets[alias]})
            if request.method == "POST":
                self.secrets[alias] = json.loads(request.content)["value"]
                return httpx.Response(200, json={"@id": alias})
            self.secrets.pop(alias, None)
            return httpx.Response(204)
        finally:
            self.in_flight -= 1


def client_for(vault: Vault, parallelism: int) -> EdcClient:
    options = ClientOptions(parallelism=parallelism, max_retries=0)
    return EdcClient(BASE, None, options=options, transport=httpx.MockTransport(vault))


@pytest.mark.parametrize("parallelism", [1, 7, 32])
def test_every_alias_gets_its_own_value_whatever_the_answer_order(parallelism: int) -> None:
    stored = {f"a{i}": f"v{i}" for i in range(0, 400, 2)}
    vault = Vault(dict(stored))
    aliases = [f"a{i}" for i in range(400)]

    async def run() -> dict[str, str | None]:
        async with client_for(vault, parallelism) as client:
            return await read_values(client, aliases, parallelism)

    observed = asyncio.run(run())
    assert list(observed) == aliases
    assert observed == {a: stored.get(a) for a in aliases}
    assert vault.most_in_flight <= parallelism
    assert len(vault.log) == 400  # one GET per alias, no more


def test_after_a_failed_read_no_new_read_starts() -> None:
    vault = Vault({}, fail={"a0003"})
    aliases = [f"a{i:04d}" for i in range(2000)]

    async def run() -> None:
        async with client_for(vault, 4) as client:
            await read_values(client, aliases, 4)

    with pytest.raises(ApiError):
        asyncio.run(run())
    assert len(vault.log) < 20  # the requests in flight finish; thousands more are not sent


def test_writes_create_and_update_before_any_delete_and_go_on_after_a_failure() -> None:
    vault = Vault({f"old{i}": "x" for i in range(30)}, fail={"new5"})
    desired = {f"new{i}": DesiredSecret(f"new{i}", "value", f"v{i}") for i in range(30)}
    changes = [Change(a, Action.CREATE) for a in desired] + [Change(f"old{i}", Action.DELETE, True) for i in range(30)]
    random.shuffle(changes)

    async def run() -> list[str]:
        async with client_for(vault, 8) as client:
            outcomes = await execute(client, changes, desired, 8)
        return [o.status for o in outcomes]

    statuses = asyncio.run(run())
    methods = [m for m, _ in vault.log]
    assert methods.index("DELETE") > len(methods) - 31  # every DELETE after every POST
    assert "POST" not in methods[methods.index("DELETE") :]
    assert statuses.count("failed") == 1 and statuses.count("done") == 59
    assert vault.most_in_flight <= 8


def test_a_plan_reuses_its_connections(tmp_path: Path, devserver: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    accept = devserver.server.process_request

    def counting(request: object, address: object) -> None:
        opened.append(address)
        accept(request, address)  # type: ignore[arg-type]

    monkeypatch.setattr(devserver.server, "process_request", counting)
    file = write_desired(tmp_path / "d.json", {f"s{i}": f"v{i}" for i in range(300)})
    result = run_cli(
        "plan",
        str(file),
        "--parallelism",
        "4",
        "-q",
        "--no-references",
        env={"EDC_MANAGEMENT_URL": devserver.url, "EDC_API_VERSION": "v3"},
    )
    assert result.code == 0, result
    assert devserver.count("GET") == 300
    assert 1 <= len(opened) <= 4  # 300 GETs (and the state read) over at most --parallelism connections
