"""The circuit breaker shared by all workers: a streak of connection failures stops the run.

Through httpx.MockTransport with a fake sleep, so what is asserted is how many requests a dead
connector costs, not how long they take.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from conftest import CANARY, Server, run_cli, write_desired

from vaultsync.breaker import STREAK
from vaultsync.client import ClientOptions, EdcClient
from vaultsync.devserver import Fault
from vaultsync.engine import execute
from vaultsync.errors import ApiError, TransportError
from vaultsync.model import DesiredSecret
from vaultsync.plan import Action, Change, Outcome

BASE = "http://edc.test/api/management"


class Dying:
    """Answers the first ``alive`` requests, then refuses every connection (until ``revive``)."""

    def __init__(self, alive: int, failure: Exception | None = None) -> None:
        self.alive = alive
        self.failure = failure or httpx.ConnectError("[Errno 111] Connection refused")
        self.requests = 0
        self.refused = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests > self.alive:
            self.refused += 1
            raise self.failure
        return httpx.Response(204)


def run_updates(vault: Dying, count: int, parallelism: int = 10, max_retries: int = 4) -> tuple[list[Outcome], int]:
    async def nap(_: float) -> None:
        await asyncio.sleep(0)

    async def go() -> tuple[list[Outcome], int]:
        options = ClientOptions(parallelism=parallelism, max_retries=max_retries)
        async with EdcClient(BASE, None, options=options, transport=httpx.MockTransport(vault), sleep=nap) as client:
            changes = [Change(f"a{i}", Action.UPDATE) for i in range(count)]
            desired = {c.alias: DesiredSecret(c.alias, "value", CANARY) for c in changes}
            outcomes = await execute(client, changes, desired, parallelism)
            return outcomes, client.breaker.threshold

    return asyncio.run(go())


def test_a_dead_connector_costs_a_short_streak_not_every_change_its_retries() -> None:
    vault = Dying(alive=100)
    outcomes, threshold = run_updates(vault, 4_000)
    statuses = [o.status for o in outcomes]
    assert statuses.count("done") == 100
    assert statuses.count("failed") <= 10  # the ones in flight
    assert statuses.count("skipped") >= 4_000 - 100 - 10
    assert {o.detail for o in outcomes if o.status == "skipped"} == {"not started: the connector stopped answering"}
    # Before: every change made 5 attempts (20,000 refused connections). Now: the streak and what was in flight.
    assert vault.refused <= threshold + 10


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectTimeout("timed out"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_resets_and_connect_timeouts_trip_it_too(failure: Exception) -> None:
    vault = Dying(alive=0, failure=failure)
    outcomes, threshold = run_updates(vault, 500)
    assert vault.refused <= threshold + 10
    assert sum(o.status == "skipped" for o in outcomes) >= 480


def test_http_errors_never_trip_it() -> None:
    """A 4xx or 500 proves the connector is there: every change is still tried."""
    seen: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["@id"])
        return httpx.Response(400, json=[{"message": "bad", "type": "ValidationFailure"}])

    async def go() -> list[Outcome]:
        options = ClientOptions(parallelism=4, max_retries=0)
        async with EdcClient(BASE, None, options=options, transport=httpx.MockTransport(refuse)) as client:
            changes = [Change(f"a{i}", Action.UPDATE) for i in range(50)]
            desired = {c.alias: DesiredSecret(c.alias, "value", "x-value") for c in changes}
            return await execute(client, changes, desired, 4)

    outcomes = asyncio.run(go())
    assert [o.status for o in outcomes] == ["failed"] * 50
    assert len(seen) == 50


def test_one_request_keeps_its_whole_retry_budget() -> None:
    """--max-retries 12 means 13 attempts, even though the streak is shorter."""
    vault = Dying(alive=0)

    async def go() -> None:
        async def nap(_: float) -> None:
            return None

        options = ClientOptions(max_retries=12)
        async with EdcClient(BASE, None, options=options, transport=httpx.MockTransport(vault), sleep=nap) as client:
            await client.get("a")

    with pytest.raises(TransportError, match="gave up after 13 attempts"):
        asyncio.run(go())
    assert vault.refused == 13 > STREAK


def test_a_success_resets_the_streak() -> None:
    """Failures spread between successes (a flaky network) never stop the run."""
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls % 3 == 0:
            raise httpx.ConnectError("refused")
        return httpx.Response(204)

    async def go() -> list[Outcome]:
        async def nap(_: float) -> None:
            return None

        options = ClientOptions(parallelism=1, max_retries=2)
        async with EdcClient(BASE, None, options=options, transport=httpx.MockTransport(flaky), sleep=nap) as client:
            changes = [Change(f"a{i}", Action.UPDATE) for i in range(300)]
            desired = {c.alias: DesiredSecret(c.alias, "value", "x-value") for c in changes}
            return await execute(client, changes, desired, 1)

    assert all(o.status == "done" for o in asyncio.run(go()))


def test_a_connector_back_in_time_gets_the_state_and_the_lock_released(devserver: Server, tmp_path: Path) -> None:
    """The breaker trips mid-apply; the connector answers again by the time the state is written."""
    env = {"EDC_MANAGEMENT_URL": devserver.url}
    file = write_desired(tmp_path / "d.json", {f"s{i:03d}": f"{CANARY}-{i}" for i in range(300)})
    assert run_cli("apply", str(file), "--auto-approve", env=env).code == 0
    write_desired(file, {f"s{i:03d}": f"{CANARY}-new-{i}" for i in range(300)})
    # Every write to s100..s199 has its connection closed unanswered: after s000..s099 the connector "dies".
    devserver.server.faults.add(Fault("drop", method="PUT", alias="s1*", times=1_000))

    result = run_cli("apply", str(file), "--auto-approve", "--parallelism", "2", env=env)
    assert result.code == 1, result.both
    assert "stopped answering" in result.err
    assert CANARY not in result.both
    assert devserver.server.faults.hits <= STREAK + 2  # not 100 changes x 5 attempts
    assert "could not release the lock" not in result.err
    assert "vaultsync-lock" not in devserver.secrets
    assert result.out.count("✓ updated") == 100
    assert "Apply INCOMPLETE" in result.out and "100 updated" in result.out
    # The state was recorded: the next plan has exactly the changes not made left.
    devserver.server.faults.clear()
    plan = run_cli("plan", str(file), "--format", "json", env=env)
    actions = [c["action"] for c in json.loads(plan.out)["targets"][0]["changes"]]
    assert actions.count("update") == 200
    assert actions.count("no-op") == 100


def test_api_errors_are_still_errors_not_outages() -> None:
    assert not issubclass(ApiError, TransportError)


def test_the_probe_after_a_trip_waits_seconds_for_a_connection_not_the_whole_timeout() -> None:
    """A host that drops packets (no refusal) must not hold apply's exit for another --timeout."""
    connect_timeouts: list[float] = []

    def dead(request: httpx.Request) -> httpx.Response:
        connect_timeouts.append(request.extensions["timeout"]["connect"])
        raise httpx.ConnectTimeout("timed out")

    async def go() -> None:
        async def nap(_: float) -> None:
            return None

        options = ClientOptions(timeout=60.0, max_retries=20)
        async with EdcClient(BASE, None, options=options, transport=httpx.MockTransport(dead), sleep=nap) as client:
            with pytest.raises(TransportError):
                await client.get("a")
            client.breaker.probe()
            with pytest.raises(TransportError, match="not retried"):
                await client.get("vaultsync-state")
            with pytest.raises(TransportError, match="not sent"):
                await client.get("vaultsync-lock")

    asyncio.run(go())
    assert connect_timeouts == [60.0] * 21 + [5.0]
