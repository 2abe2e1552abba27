"""`vaultsync drift`: read-only; out-of-band changes told apart from changes pending in the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

from vaultsync.lock import LockInfo

BACKENDS = ["vault", "file"]


def state_flags(backend: str, tmp_path: Path) -> list[str]:
    return ["--state-file", str(tmp_path / "state.json")] if backend == "file" else []


def drift(path: Path, env: dict[str, str], *extra: str) -> Result:
    return run_cli("drift", str(path), "--no-color", *extra, env=env)


def drift_json(path: Path, env: dict[str, str], *extra: str) -> tuple[int, dict[str, tuple[str, ...]]]:
    """Exit code and, per alias, how drift reports it: a drift kind ("changed", "deleted") or "pending"."""
    result = drift(path, env, "--format", "json", *extra)
    doc = json.loads(result.out)
    (target,) = doc["targets"]
    kinds: dict[str, tuple[str, ...]] = {}
    for item in target["drifted"]:
        kinds[item["alias"]] = (*kinds.get(item["alias"], ()), item["kind"])
    for item in target["pending"]:
        kinds[item["alias"]] = (*kinds.get(item["alias"], ()), "pending")
    assert doc["drift"] is bool(target["drifted"])
    return result.code, kinds


@pytest.fixture
def applied(env_for: dict[str, str], tmp_path: Path) -> Path:
    return write_desired(tmp_path / "d.json", {"a": "a1", "b": "b1", "c": "c1", "d": "d1"})


def apply(path: Path, env: dict[str, str], *extra: str) -> None:
    result = run_cli("apply", str(path), "--auto-approve", *extra, env=env)
    assert result.code == 0, result.err


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_drift_right_after_apply(
    devserver: Server, env_for: dict[str, str], applied: Path, tmp_path: Path, backend: str
) -> None:
    flags = state_flags(backend, tmp_path)
    apply(applied, env_for, *flags)

    result = drift(applied, env_for, *flags)

    assert result.code == 0, result.both
    assert "No drift" in result.out


@pytest.mark.parametrize("backend", BACKENDS)
def test_changes_by_hand_are_drift_and_changes_in_the_file_are_pending(
    devserver: Server, env_for: dict[str, str], applied: Path, tmp_path: Path, backend: str
) -> None:
    flags = state_flags(backend, tmp_path)
    apply(applied, env_for, *flags)
    devserver.secrets["a"] = CANARY  # changed by hand
    del devserver.secrets["b"]  # deleted by hand
    write_desired(applied, {"a": "a1", "b": "b1", "c": "c2", "e": "e1"})  # c changed, d removed, e added
    devserver.reset_log()

    code, kinds = drift_json(applied, env_for, *flags)
    text = drift(applied, env_for, *flags)

    assert code == 2 and text.code == 2
    assert kinds == {
        "a": ("changed",),
        "b": ("deleted",),
        "c": ("pending",),
        "d": ("pending",),
        "e": ("pending",),
    }
    assert "Drift: 2" in text.out and "Pending: 3" in text.out
    assert CANARY not in text.both
    assert devserver.writes() == []  # read-only: not even the lock


def test_only_pending_changes_are_not_drift(devserver: Server, env_for: dict[str, str], applied: Path) -> None:
    apply(applied, env_for)
    write_desired(applied, {"a": "a2", "b": "b1", "c": "c1", "d": "d1"})

    code, kinds = drift_json(applied, env_for)

    assert code == 0
    assert kinds == {"a": ("pending",)}
    assert run_cli("plan", str(applied), "--detailed-exitcode", env=env_for).code == 2


def test_unmanaged_secrets_are_never_drift(devserver: Server, env_for: dict[str, str], applied: Path) -> None:
    apply(applied, env_for)
    devserver.secrets["someone-elses"] = "x"

    assert drift(applied, env_for).code == 0


def test_apply_repairs_drift(devserver: Server, env_for: dict[str, str], applied: Path) -> None:
    apply(applied, env_for)
    devserver.secrets["a"] = "by-hand"
    del devserver.secrets["b"]
    devserver.reset_log()

    apply(applied, env_for)

    assert sorted(devserver.secret_writes()) == [("POST", "b"), ("PUT", "a")]
    assert drift(applied, env_for).code == 0


def test_apply_acknowledges_a_hand_change_the_file_then_adopted(
    devserver: Server, env_for: dict[str, str], applied: Path
) -> None:
    apply(applied, env_for)
    devserver.secrets["a"] = "rotated-by-hand"
    write_desired(applied, {"a": "rotated-by-hand", "b": "b1", "c": "c1", "d": "d1"})
    assert drift(applied, env_for).code == 2
    devserver.reset_log()

    plan = run_cli("plan", str(applied), "--detailed-exitcode", env=env_for)
    result = run_cli("apply", str(applied), "--auto-approve", env=env_for)

    assert plan.code == 0  # the vault already holds what the file wants
    assert result.code == 0 and devserver.secret_writes() == []
    assert drift(applied, env_for).code == 0


def test_drift_without_any_state(devserver: Server, env_for: dict[str, str], applied: Path) -> None:
    devserver.secrets["a"] = "a1"

    code, kinds = drift_json(applied, env_for)

    assert code == 0
    assert set(kinds) == {"b", "c", "d"} and all(k == ("pending",) for k in kinds.values())
    assert devserver.writes() == []


def test_drift_fails_on_an_unreachable_vault(tmp_path: Path, applied: Path) -> None:
    result = drift(applied, {"EDC_MANAGEMENT_URL": "http://127.0.0.1:9/api/management"}, "--max-retries", "0")

    assert result.code == 1


def test_drift_warns_when_an_apply_holds_the_lock(devserver: Server, env_for: dict[str, str], applied: Path) -> None:
    apply(applied, env_for)
    devserver.secrets["vaultsync-lock"] = LockInfo(
        "id-1", "ci", "runner-9", 77, "2024-05-06T07:08:09+00:00", "x"
    ).encode()

    result = drift(applied, env_for)

    assert result.code == 0
    assert "locked by ci@runner-9 (pid 77)" in result.err
    assert "vaultsync-lock" in devserver.secrets  # read-only: the lock is left alone
