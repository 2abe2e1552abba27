"""The apply lock end to end: a second apply is refused naming the holder; the lock never outlives a run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Result, Server, run_cli, write_desired

from vaultsync.devserver import Fault
from vaultsync.lock import LockInfo


def apply(path: Path, env: dict[str, str], *extra: str) -> Result:
    return run_cli("apply", str(path), "--auto-approve", "--no-color", *extra, env=env)


class Gate:
    """Holds the dev-server's answer to one GET until released, so a first apply sits inside its lock."""

    def __init__(self, server: Server, alias: str) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._api = server.server.api
        self._handle = self._api.handle
        self._alias = alias

    def __enter__(self) -> Gate:
        def gated(request: Any) -> Any:
            if request.method == "GET" and request.path.endswith("/" + self._alias):
                self.entered.set()
                self.release.wait(30)
            return self._handle(request)

        self._api.handle = gated  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._api.handle = self._handle  # type: ignore[method-assign]


@pytest.fixture
def desired(tmp_path: Path) -> Path:
    return write_desired(tmp_path / "d.json", {"a": "a-value", "b": "b-value"})


def first_apply_in_a_thread(path: Path, env: dict[str, str], *extra: str) -> tuple[threading.Thread, list[Result]]:
    results: list[Result] = []
    thread = threading.Thread(target=lambda: results.append(apply(path, env, *extra)))
    thread.start()
    return thread, results


@pytest.mark.parametrize("state_file", [False, True])
def test_a_second_apply_is_refused_naming_the_holder_and_the_vault_ends_correct(
    devserver: Server, env_for: dict[str, str], desired: Path, tmp_path: Path, state_file: bool
) -> None:
    flags = ["--state-file", str(tmp_path / "state.json")] if state_file else []
    with Gate(devserver, "a") as gate:
        thread, first = first_apply_in_a_thread(desired, env_for, *flags)
        try:
            assert gate.entered.wait(30), "the first apply never read 'a'"
            holder = json.loads(devserver.secrets["vaultsync-lock"])
            writes_before = list(devserver.alias_writes)

            second = apply(desired, env_for, *flags)
        finally:
            gate.release.set()
            thread.join(30)

    assert second.code == 1
    assert "locked" in second.err
    for field in ("user", "host", "pid", "started", "id"):
        assert str(holder[field]) in second.err
    assert "force-unlock" in second.err
    # The refused apply wrote nothing but its attempt at the lock.
    assert devserver.alias_writes[len(writes_before)] == ("POST", "vaultsync-lock", 409)
    assert first == [first[0]] and first[0].code == 0, first
    assert (devserver.secrets["a"], devserver.secrets["b"]) == ("a-value", "b-value")
    assert sorted(devserver.secret_writes()) == [("POST", "a"), ("POST", "b")]
    assert "vaultsync-lock" not in devserver.secrets


def test_the_lock_records_who_where_since_when_and_what(
    devserver: Server, env_for: dict[str, str], desired: Path
) -> None:
    with Gate(devserver, "a") as gate:
        thread, _ = first_apply_in_a_thread(desired, env_for)
        try:
            assert gate.entered.wait(30)
            raw = devserver.secrets["vaultsync-lock"]
        finally:
            gate.release.set()
            thread.join(30)

    doc = json.loads(raw)
    mine = LockInfo.mine("x")
    assert (doc["user"], doc["host"], doc["pid"]) == (mine.user, mine.host, mine.pid)
    assert doc["operation"].startswith("apply") and str(desired) in doc["operation"]
    assert time.time() - time.mktime(time.strptime(doc["started"][:19], "%Y-%m-%dT%H:%M:%S")) < 24 * 3600
    assert doc["id"]


def stale_lock(devserver: Server, lock_alias: str = "vaultsync-lock") -> LockInfo:
    info = LockInfo("4b1c0d7e-stale", "ci-runner", "build-host-7", 4242, "2024-01-02T03:04:05+00:00", "apply x")
    devserver.secrets[lock_alias] = info.encode()
    return info


def test_a_stale_lock_refuses_apply_until_force_unlock(
    devserver: Server, env_for: dict[str, str], desired: Path
) -> None:
    info = stale_lock(devserver)

    refused = apply(desired, env_for)

    assert refused.code == 1
    assert "ci-runner@build-host-7 (pid 4242) since 2024-01-02T03:04:05+00:00" in refused.err
    assert f"vaultsync force-unlock {info.id}" in refused.err
    assert devserver.secret_writes() == []
    assert devserver.secrets["vaultsync-lock"] == info.encode()

    wrong = run_cli("force-unlock", "not-the-id", str(desired), env=env_for)
    assert wrong.code == 1 and "does not match" in wrong.err
    assert devserver.secrets["vaultsync-lock"] == info.encode()

    unlocked = run_cli("force-unlock", info.id, str(desired), env=env_for)
    assert unlocked.code == 0, unlocked.err
    assert "ci-runner@build-host-7" in unlocked.out
    assert "vaultsync-lock" not in devserver.secrets

    assert apply(desired, env_for).code == 0
    assert devserver.secrets["a"] == "a-value"


def test_force_unlock_without_a_lock_fails(devserver: Server, env_for: dict[str, str], desired: Path) -> None:
    result = run_cli("force-unlock", "some-id", str(desired), env=env_for)

    assert result.code == 1 and "not locked" in result.err


def test_a_custom_lock_alias_is_the_one_that_locks(devserver: Server, env_for: dict[str, str], desired: Path) -> None:
    stale_lock(devserver, "team-lock")

    assert apply(desired, env_for).code == 0  # the default lock alias is free
    write_desired(desired, {"a": "a2", "b": "b2"})
    refused = apply(desired, env_for, "--lock-alias", "team-lock")
    unlocked = run_cli("force-unlock", "4b1c0d7e-stale", str(desired), "--lock-alias", "team-lock", env=env_for)

    assert refused.code == 1 and "build-host-7" in refused.err
    assert devserver.secrets["a"] == "a-value"
    assert unlocked.code == 0 and "team-lock" not in devserver.secrets


def test_import_and_state_rm_also_respect_the_lock(devserver: Server, env_for: dict[str, str], desired: Path) -> None:
    assert apply(desired, env_for).code == 0
    state_before = devserver.secrets["vaultsync-state"]
    stale_lock(devserver)

    results = [
        run_cli("state", "rm", str(desired), "a", env=env_for),
        run_cli("import", str(desired), "a", env=env_for),
    ]

    assert [r.code for r in results] == [1, 1]
    assert all("build-host-7" in r.err for r in results)
    assert devserver.secrets["vaultsync-state"] == state_before


@pytest.fixture
def no_lock_left(devserver: Server) -> Iterator[None]:
    yield
    assert "vaultsync-lock" not in devserver.secrets


def test_lock_is_released_after_a_failed_write(
    devserver: Server, env_for: dict[str, str], desired: Path, no_lock_left: None
) -> None:
    assert apply(desired, env_for).code == 0
    write_desired(desired, {"a": "a2", "b": "b2"})
    devserver.server.faults.add(Fault(500, method="PUT", times=1))

    failed = apply(desired, env_for, "--parallelism", "1")
    rerun = apply(desired, env_for)

    assert failed.code == 1 and "FAILED" in failed.out
    assert rerun.code == 0, rerun.err
    assert (devserver.secrets["a"], devserver.secrets["b"]) == ("a2", "b2")


def test_lock_is_released_when_reading_the_vault_fails(
    devserver: Server, env_for: dict[str, str], desired: Path, no_lock_left: None
) -> None:
    devserver.server.faults.add(Fault(500, method="GET", alias="b"))

    result = apply(desired, env_for)

    assert result.code == 1 and "500" in result.err
    assert devserver.secret_writes() == []


def test_lock_is_released_after_a_refused_plan(
    devserver: Server, env_for: dict[str, str], desired: Path, no_lock_left: None
) -> None:
    devserver.secrets["a"] = "hand-made"

    assert apply(desired, env_for).code == 1
    assert devserver.secret_writes() == []


def test_lock_is_released_after_the_state_could_not_be_saved(
    devserver: Server, env_for: dict[str, str], desired: Path, no_lock_left: None
) -> None:
    # The secret writes succeed; the one write after them, the state's POST, gets a 500.
    api = devserver.server.api
    handle = api.handle

    def refuse_state(request: Any) -> Any:
        if request.method == "POST" and b"vaultsync-state" in request.body:
            return 500, None
        return handle(request)

    api.handle = refuse_state  # type: ignore[method-assign]
    try:
        failed = apply(desired, env_for)
    finally:
        api.handle = handle  # type: ignore[method-assign]

    assert failed.code == 1
    # The secrets were written; with no record of them, the next apply adopts them instead of failing.
    assert (devserver.secrets["a"], devserver.secrets["b"]) == ("a-value", "b-value")
    devserver.reset_log()
    rerun = apply(desired, env_for)
    assert rerun.code == 0, rerun.err
    assert devserver.secret_writes() == []
    assert run_cli("plan", str(desired), "--detailed-exitcode", env=env_for).code == 0


def test_a_lock_alias_holding_foreign_data_is_named_and_removable(tmp_path: Path, devserver: Server) -> None:
    env = {"EDC_MANAGEMENT_URL": devserver.url}
    desired = write_desired(tmp_path / "d.json", {"a": "value-a"})
    devserver.secrets["vaultsync-lock"] = "not a vaultsync lock"
    refused = run_cli("apply", str(desired), "--auto-approve", env=env)
    assert refused.code == 1
    assert "force-unlock unreadable" in refused.err
    assert "a" not in devserver.secrets
    wrong = run_cli("force-unlock", "some-id", str(desired), env=env)
    assert wrong.code == 1 and "unreadable lock data" in wrong.err
    removed = run_cli("force-unlock", "unreadable", str(desired), env=env)
    assert removed.code == 0, removed.both
    assert "vaultsync-lock" not in devserver.secrets
    assert run_cli("apply", str(desired), "--auto-approve", env=env).code == 0
    assert devserver.secrets["a"] == "value-a"
