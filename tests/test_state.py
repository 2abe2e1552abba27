"""Managed state end to end: deletions, adoption, partial failure, interruption, where the state lives.

Everything runs the real CLI in-process against the dev-server on loopback.
``devserver.secret_writes()`` lists the writes to secrets (state and lock
excluded), ``alias_writes`` every write with its alias.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY, Server, run_cli, write_desired

from vaultsync.devserver import DevServer, Fault
from vaultsync.state import encode_vault_value, new_key
from vaultsync.statecodec import unpack

BACKENDS = ["vault", "file"]


def state_flags(backend: str, tmp_path: Path) -> list[str]:
    return ["--state-file", str(tmp_path / "state.json")] if backend == "file" else []


def apply(path: Path, env: dict[str, str], *extra: str) -> Any:
    return run_cli("apply", str(path), "--auto-approve", "--no-color", *extra, env=env)


def managed(path: Path, env: dict[str, str], *extra: str) -> list[str]:
    result = run_cli("state", "list", str(path), *extra, env=env)
    assert result.code == 0, result.err
    return result.out.split()


def leaks_of(value: str, alias: str) -> list[str]:
    """The value and every plain (unkeyed) sha256 of it a careless design might store."""
    forms = [value]
    for data in (value.encode(), alias.encode() + b"\x00" + value.encode(), (alias + value).encode()):
        digest = hashlib.sha256(data)
        forms += [digest.hexdigest(), base64.b64encode(digest.digest()).decode(), digest.hexdigest().upper()]
    return forms


@pytest.mark.parametrize("backend", BACKENDS)
def test_alias_removed_from_the_file_is_deleted_with_exactly_one_delete(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, backend: str
) -> None:
    flags = state_flags(backend, tmp_path)
    desired = write_desired(tmp_path / "d.json", {"keep": "k-value", "drop": "d-value"})
    assert apply(desired, env_for, *flags).code == 0
    write_desired(desired, {"keep": "k-value"})
    devserver.reset_log()

    plan = run_cli("plan", str(desired), "--detailed-exitcode", *flags, env=env_for)
    assert plan.code == 2
    assert "delete" in plan.out and "drop" in plan.out
    result = apply(desired, env_for, *flags)

    assert result.code == 0, result.err
    assert devserver.secret_writes() == [("DELETE", "drop")]
    assert "drop" not in devserver.secrets and devserver.secrets["keep"] == "k-value"
    assert managed(desired, env_for, *flags) == ["keep"]
    assert "vaultsync-lock" not in devserver.secrets


@pytest.mark.parametrize("backend", BACKENDS)
def test_managed_alias_deleted_by_hand_and_removed_from_the_file_counts_as_done(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, backend: str
) -> None:
    flags = state_flags(backend, tmp_path)
    desired = write_desired(tmp_path / "d.json", {"keep": "k-value", "gone": "g-value"})
    assert apply(desired, env_for, *flags).code == 0
    del devserver.secrets["gone"]
    write_desired(desired, {"keep": "k-value"})
    devserver.reset_log()

    result = apply(desired, env_for, *flags)

    assert result.code == 0, result.err
    assert devserver.secret_writes() == []
    assert managed(desired, env_for, *flags) == ["keep"]
    # Forgotten for good: it no longer shows up anywhere in the next plan.
    assert "gone" not in run_cli("plan", str(desired), *flags, env=env_for).out


def test_first_apply_writes_each_secret_once_and_the_state_once(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a-value", "b": "b-value"})

    assert apply(desired, env_for).code == 0

    writes = devserver.alias_writes
    assert sorted(devserver.secret_writes()) == [("POST", "a"), ("POST", "b")]
    assert [(m, a) for m, a, _ in writes if a == "vaultsync-state"] == [("POST", "vaultsync-state")]
    assert [(m, a) for m, a, _ in writes if a == "vaultsync-lock"] == [
        ("POST", "vaultsync-lock"),
        ("DELETE", "vaultsync-lock"),
    ]


def test_first_apply_with_a_state_file_stores_only_the_key_in_the_vault(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a-value"})
    state_file = tmp_path / "state" / "vaultsync.json"

    assert apply(desired, env_for, "--state-file", str(state_file)).code == 0

    record = json.loads(state_file.read_text("utf-8"))
    assert list(record["managed"]) == ["a"]
    assert "fingerprintKey" not in record
    assert [a for _, a, _ in devserver.alias_writes].count("vaultsync-state") == 1
    assert "managed" not in json.loads(unpack(devserver.secrets["vaultsync-state"], {}, "state"))
    assert list(state_file.parent.iterdir()) == [state_file]  # no temporary file left behind


def test_apply_without_changes_writes_no_state(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a-value", "b": "b-value"})
    assert apply(desired, env_for).code == 0
    state_before = devserver.secrets["vaultsync-state"]
    devserver.reset_log()

    result = apply(desired, env_for)

    assert result.code == 0
    assert "Nothing to apply" in result.err
    assert [a for _, a, _ in devserver.alias_writes] == ["vaultsync-lock", "vaultsync-lock"]
    assert devserver.secrets["vaultsync-state"] == state_before


@pytest.mark.parametrize("backend", BACKENDS)
def test_conflict_is_refused_and_the_vault_is_unchanged(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, backend: str
) -> None:
    flags = state_flags(backend, tmp_path)
    devserver.secrets["db-password"] = "set-by-hand"
    desired = write_desired(tmp_path / "d.json", {"db-password": CANARY, "new-one": "n-value"})
    before = dict(devserver.secrets)

    plan = run_cli("plan", str(desired), "--detailed-exitcode", *flags, env=env_for)
    result = apply(desired, env_for, *flags)

    assert plan.code == 2 and "conflict" in plan.out
    assert result.code == 1
    assert "db-password" in result.err and "import" in result.err and "--adopt" in result.err
    assert devserver.secret_writes() == []
    assert devserver.secrets == before
    assert CANARY not in result.both + plan.both


def test_adopt_flag_overwrites_a_conflict_and_manages_it(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    devserver.secrets["db-password"] = "set-by-hand"
    desired = write_desired(tmp_path / "d.json", {"db-password": "from-the-file"})

    result = apply(desired, env_for, "--adopt")

    assert result.code == 0, result.err
    assert devserver.secret_writes() == [("PUT", "db-password")]
    assert devserver.secrets["db-password"] == "from-the-file"
    assert managed(desired, env_for) == ["db-password"]


def test_same_value_is_adopted_without_a_write(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    devserver.secrets["api-token"] = CANARY
    desired = write_desired(tmp_path / "d.json", {"api-token": CANARY})

    plan = run_cli("plan", str(desired), "--detailed-exitcode", env=env_for)
    result = apply(desired, env_for)

    assert plan.code == 0  # adoption is reported but is not a change
    assert "adopt" in plan.out and "api-token" in plan.out
    assert result.code == 0, result.err
    assert devserver.secret_writes() == []
    assert "State updated" in result.err
    assert managed(desired, env_for) == ["api-token"]
    # Now managed: removing it from the file deletes it.
    write_desired(desired, {})
    assert "delete" in run_cli("plan", str(desired), env=env_for).out


def test_json_equal_value_is_adopted_without_a_write(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    devserver.secrets["doc"] = '{ "b": 1, "a": [true, null] }'
    desired = write_desired(tmp_path / "d.json", {"doc": {"json": {"a": [True, None], "b": 1.0}}})

    result = apply(desired, env_for)

    assert result.code == 0, result.err
    assert devserver.secret_writes() == []
    assert managed(desired, env_for) == ["doc"]


@pytest.mark.parametrize(("new_value", "shown_as"), [("same-value", "adopt"), ("other-value", "conflict")])
def test_state_rm_forgets_without_deleting(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, new_value: str, shown_as: str
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a-value", "b": "same-value"})
    assert apply(desired, env_for).code == 0
    devserver.reset_log()

    result = run_cli("state", "rm", str(desired), "b", env=env_for)

    assert result.code == 0, result.err
    assert devserver.secrets["b"] == "same-value"
    assert devserver.secret_writes() == []
    assert managed(desired, env_for) == ["a"]
    write_desired(desired, {"a": "a-value", "b": new_value})
    plan = run_cli("plan", str(desired), "--no-color", env=env_for)
    line = next(x for x in plan.out.splitlines() if x.rstrip().endswith(" b") or " b " in x)
    assert shown_as in line and "delete" not in line
    # Out of the file as well: nothing is planned for it, it stays in the vault.
    write_desired(desired, {"a": "a-value"})
    plan = run_cli("plan", str(desired), "--detailed-exitcode", env=env_for)
    assert plan.code == 0 and " b" not in plan.out


def test_state_rm_of_an_unmanaged_alias_fails(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a-value"})
    assert apply(desired, env_for).code == 0

    result = run_cli("state", "rm", str(desired), "never-managed", env=env_for)

    assert result.code == 1
    assert "never-managed" in result.err
    assert managed(desired, env_for) == ["a"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_halfway_records_exactly_what_succeeded_and_a_rerun_converges(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, backend: str
) -> None:
    flags = state_flags(backend, tmp_path)
    desired = write_desired(tmp_path / "d.json", {"old": "o-value", "kept": "k-value"})
    assert apply(desired, env_for, *flags).code == 0
    write_desired(desired, {"kept": "k-value", "new": "n-value"})
    devserver.server.faults.add(Fault(500, method="DELETE", alias="old"))
    devserver.reset_log()

    failed = apply(desired, env_for, *flags)

    assert failed.code == 1
    assert "old" in failed.out and "FAILED" in failed.out
    assert devserver.secrets["new"] == "n-value" and devserver.secrets["old"] == "o-value"
    assert managed(desired, env_for, *flags) == ["kept", "new", "old"]
    assert "vaultsync-lock" not in devserver.secrets
    devserver.reset_log()

    rerun = apply(desired, env_for, *flags)

    assert rerun.code == 0, rerun.err
    assert devserver.secret_writes() == [("DELETE", "old")]
    assert managed(desired, env_for, *flags) == ["kept", "new"]


def test_failed_update_keeps_the_old_record_and_the_rerun_writes_only_it(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a1", "b": "b1"})
    assert apply(desired, env_for).code == 0
    write_desired(desired, {"a": "a2", "b": "b2"})
    devserver.server.faults.add(Fault(500, method="PUT", times=1))
    devserver.reset_log()

    assert apply(desired, env_for, "--parallelism", "1").code == 1
    assert (devserver.secrets["a"], devserver.secrets["b"]) == ("a1", "b2")  # a's PUT got a 500
    devserver.reset_log()

    assert apply(desired, env_for).code == 0
    assert devserver.secret_writes() == [("PUT", "a")]
    assert run_cli("drift", str(desired), env=env_for).code == 0


def test_interrupted_apply_records_what_was_done_and_a_rerun_converges(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    aliases = [f"s{i}" for i in range(5)]
    desired = write_desired(tmp_path / "d.json", {a: f"value-{a}" for a in aliases})
    api = devserver.server.api
    handle = api.handle
    interrupted: list[str] = []

    def interrupt_after_first_create(request: Any) -> Any:
        answer = handle(request)
        if request.method == "POST" and json.loads(request.body)["@id"] in aliases and not interrupted:
            interrupted.append("yes")
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does; apply finishes the call in flight
        return answer

    api.handle = interrupt_after_first_create  # type: ignore[method-assign]
    try:
        result = apply(desired, env_for, "--parallelism", "1")
    finally:
        api.handle = handle  # type: ignore[method-assign]

    assert result.code == 130
    created = [a for m, a in devserver.secret_writes() if m == "POST"]
    assert 1 <= len(created) < len(aliases)
    assert managed(desired, env_for) == sorted(created)
    assert "vaultsync-lock" not in devserver.secrets
    devserver.reset_log()

    rerun = apply(desired, env_for)

    assert rerun.code == 0, rerun.err
    assert sorted(a for _, a in devserver.secret_writes()) == sorted(set(aliases) - set(created))
    assert managed(desired, env_for) == aliases


def test_state_and_state_alias_hold_no_value_nor_a_plain_hash(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    desired = write_desired(tmp_path / "d.json", {"canary": CANARY, "other": "o-value"})
    state_file = tmp_path / "state.json"
    assert apply(desired, env_for).code == 0
    assert apply(desired, env_for, "--state-file", str(state_file)).code == 0  # adopts both into the file

    texts = {
        "state alias": unpack(devserver.secrets["vaultsync-state"], {}, "state"),
        "state file": state_file.read_text("utf-8"),
    }

    assert json.loads(texts["state file"])["managed"].keys() == {"canary", "other"}
    for where, text in texts.items():
        for form in leaks_of(CANARY, "canary"):
            assert form not in text, f"{where} holds {form!r}"
    key = json.loads(texts["state alias"])["fingerprintKey"]
    assert key not in texts["state file"]


def test_custom_state_and_lock_aliases(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    names = ["--state-alias", "team-a-state", "--lock-alias", "team-a-lock"]
    desired = write_desired(tmp_path / "d.json", {"a": "a-value", "b": "b-value"})

    assert apply(desired, env_for, *names).code == 0
    write_desired(desired, {"a": "a-value"})
    assert apply(desired, env_for, *names).code == 0

    assert "vaultsync-state" not in devserver.secrets
    assert json.loads(unpack(devserver.secrets["team-a-state"], {}, "state"))["managed"].keys() == {"a"}
    lock_writes = [m for m, a, _ in devserver.alias_writes if a == "team-a-lock"]
    assert lock_writes == ["POST", "DELETE", "POST", "DELETE"]
    assert not any(a == "vaultsync-lock" for _, a, _ in devserver.alias_writes)
    assert "b" not in devserver.secrets
    assert managed(desired, env_for, *names) == ["a"]
    assert managed(desired, env_for) == []  # the default state alias knows nothing of it


def test_reserved_aliases_cannot_be_desired(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    desired = write_desired(tmp_path / "d.json", {"team-a-state": "x"})

    result = apply(desired, env_for, "--state-alias", "team-a-state")

    assert result.code == 1
    assert devserver.requests == []


def test_a_foreign_value_in_the_state_alias_is_refused(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    devserver.secrets["vaultsync-state"] = "something else entirely"
    desired = write_desired(tmp_path / "d.json", {"a": "a-value"})

    result = apply(desired, env_for)

    assert result.code == 1
    assert "vaultsync-state" in result.err and "not" in result.err
    assert devserver.secrets["vaultsync-state"] == "something else entirely"
    assert devserver.secret_writes() == []
    assert "vaultsync-lock" not in devserver.secrets


def test_mass_deletion_is_refused_without_the_flag(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    secrets = {f"s{i:02}": f"value-{i}" for i in range(10)}
    desired = write_desired(tmp_path / "d.json", secrets)
    assert apply(desired, env_for).code == 0
    write_desired(desired, dict(list(secrets.items())[4:]))  # 4 of 10 managed: 40 % > 30 %
    devserver.reset_log()

    plan = run_cli("plan", str(desired), "--no-color", env=env_for)
    refused = apply(desired, env_for)

    assert "MASS DELETION" in plan.out
    assert refused.code == 1 and "--allow-mass-delete" in refused.err
    assert devserver.secret_writes() == []
    assert len(managed(desired, env_for)) == 10

    allowed = apply(desired, env_for, "--allow-mass-delete")

    assert allowed.code == 0, allowed.err
    assert sorted(devserver.secret_writes()) == [("DELETE", f"s{i:02}") for i in range(4)]
    assert len(managed(desired, env_for)) == 6


def test_deleting_up_to_the_threshold_needs_no_flag(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    secrets = {f"s{i:02}": f"value-{i}" for i in range(10)}
    desired = write_desired(tmp_path / "d.json", secrets)
    assert apply(desired, env_for).code == 0
    write_desired(desired, dict(list(secrets.items())[3:]))  # 30 %: allowed

    result = apply(desired, env_for)

    assert result.code == 0, result.err
    assert "MASS DELETION" not in result.out and "DELETED" in result.out


def test_deleting_every_managed_secret_is_refused_even_when_few(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a-value", "b": "b-value"})
    assert apply(desired, env_for).code == 0
    write_desired(desired, {})
    devserver.reset_log()

    refused = apply(desired, env_for)
    allowed = apply(desired, env_for, "--allow-mass-delete")

    assert refused.code == 1 and "all 2" in refused.both
    assert allowed.code == 0
    assert sorted(devserver.secret_writes()) == [("DELETE", "a"), ("DELETE", "b")]
    assert managed(desired, env_for) == []


def test_state_and_lock_aliases_must_differ(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a-value"})

    result = apply(desired, env_for, "--state-alias", "same", "--lock-alias", "same")

    assert result.code == 1 and "must name different aliases" in result.err
    assert devserver.requests == []


def test_a_state_file_used_against_another_vault_is_refused(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    desired = write_desired(tmp_path / "d.json", {"a": "a-value", "b": "b-value"})
    assert apply(desired, env_for, "--state-file", str(state_file)).code == 0
    write_desired(desired, {"a": "a-value"})
    recorded = state_file.read_text("utf-8")
    other = Server(DevServer("127.0.0.1", 0))
    other.server.start_background()
    try:
        other.secrets["vaultsync-state"] = encode_vault_value(None, new_key())
        other_env = {"EDC_MANAGEMENT_URL": other.url}
        with_other_key = apply(desired, other_env, "--state-file", str(state_file))
        del other.secrets["vaultsync-state"]
        with_no_key = apply(desired, other_env, "--state-file", str(state_file))
    finally:
        other.server.stop()

    for result in (with_other_key, with_no_key):
        assert result.code == 1
        assert "another vault" in result.err and "keyId" in result.err
    assert [a for _, a, _ in other.alias_writes] == ["vaultsync-lock"] * 4  # taken and released, nothing else
    assert state_file.read_text("utf-8") == recorded
    # The right vault still works with it.
    assert apply(desired, env_for, "--state-file", str(state_file)).code == 0
    assert "b" not in devserver.secrets


def test_a_state_file_can_be_rekeyed_after_its_vault_key_was_lost(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    desired = write_desired(tmp_path / "d.json", {"a": "a-value", "b": "b-value"})
    assert apply(desired, env_for, "--state-file", str(state_file)).code == 0
    del devserver.secrets["vaultsync-state"]
    assert apply(desired, env_for, "--state-file", str(state_file)).code == 1
    doc = json.loads(state_file.read_text("utf-8"))
    del doc["keyId"]
    state_file.write_text(json.dumps(doc), "utf-8")
    write_desired(desired, {"a": "a-value"})
    devserver.reset_log()

    result = apply(desired, env_for, "--state-file", str(state_file))

    assert result.code == 0, result.err
    assert devserver.secret_writes() == [("DELETE", "b")]
    assert "keyId" in json.loads(state_file.read_text("utf-8"))
    assert run_cli("drift", str(desired), "--state-file", str(state_file), env=env_for).code == 0
