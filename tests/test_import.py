"""`vaultsync import FILE ALIAS...`: take existing secrets under management without changing them."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

BACKENDS = ["vault", "file"]


def state_flags(backend: str, tmp_path: Path) -> list[str]:
    return ["--state-file", str(tmp_path / "state.json")] if backend == "file" else []


def managed(path: Path, env: dict[str, str], *extra: str) -> list[str]:
    return run_cli("state", "list", str(path), *extra, env=env).out.split()


def import_(path: Path, env: dict[str, str], *args: str) -> Result:
    return run_cli("import", str(path), *args, env=env)


@pytest.mark.parametrize("backend", BACKENDS)
def test_import_then_update(devserver: Server, env_for: dict[str, str], tmp_path: Path, backend: str) -> None:
    flags = state_flags(backend, tmp_path)
    devserver.secrets["db-password"] = "set-by-hand"
    desired = write_desired(tmp_path / "d.json", {"db-password": CANARY})
    assert "conflict" in run_cli("plan", str(desired), *flags, env=env_for).out

    imported = import_(desired, env_for, "db-password", *flags)

    assert imported.code == 0, imported.err
    assert "imported db-password" in imported.out
    assert devserver.secrets["db-password"] == "set-by-hand"
    assert devserver.secret_writes() == []
    assert managed(desired, env_for, *flags) == ["db-password"]

    plan = run_cli("plan", str(desired), "--format", "json", *flags, env=env_for)
    assert '"action": "update"' in plan.out
    applied = run_cli("apply", str(desired), "--auto-approve", *flags, env=env_for)

    assert applied.code == 0, applied.err
    assert devserver.secret_writes() == [("PUT", "db-password")]
    assert devserver.secrets["db-password"] == CANARY
    assert CANARY not in imported.both + plan.both + applied.both


def test_import_keeps_what_is_already_managed(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a1", "b": "b1"})
    assert run_cli("apply", str(desired), "--auto-approve", env=env_for).code == 0
    devserver.secrets["c"] = "c-by-hand"
    write_desired(desired, {"a": "a1", "b": "b1", "c": "c1"})

    assert import_(desired, env_for, "c").code == 0

    assert managed(desired, env_for) == ["a", "b", "c"]
    assert run_cli("drift", str(desired), env=env_for).code == 0  # imported as found: not drift


def test_import_of_an_alias_missing_from_the_file_is_refused_before_any_request(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    devserver.secrets["elsewhere"] = "x"
    desired = write_desired(tmp_path / "d.json", {"a": "a1"})

    result = import_(desired, env_for, "elsewhere")

    assert result.code == 1
    assert "elsewhere" in result.err and "add" in result.err
    assert devserver.requests == []


def test_import_of_an_alias_absent_from_the_vault_changes_nothing(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    devserver.secrets["a"] = "a-by-hand"
    desired = write_desired(tmp_path / "d.json", {"a": "a1", "b": "b1"})

    result = import_(desired, env_for, "a", "b")

    assert result.code == 1
    assert "b" in result.err and "create" in result.err
    assert [(m, a) for m, a, _ in devserver.alias_writes] == [("POST", "vaultsync-lock"), ("DELETE", "vaultsync-lock")]
    assert devserver.secrets == {"a": "a-by-hand"}
    assert managed(desired, env_for) == []


def test_import_of_the_same_value_is_a_no_op_plan(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    devserver.secrets["a"] = "a1"
    desired = write_desired(tmp_path / "d.json", {"a": "a1"})

    assert import_(desired, env_for, "a", "a").code == 0  # a repeated alias is imported once

    plan = run_cli("plan", str(desired), "--detailed-exitcode", "--no-color", env=env_for)
    assert plan.code == 0 and "adopt" not in plan.out
