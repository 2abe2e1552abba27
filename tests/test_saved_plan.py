"""Saved plans end to end: `plan --out PLANFILE` then `apply PLANFILE`, and every reason one goes stale."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

from vaultsync.devserver import DevServer
from vaultsync.statecodec import unpack


def plan_out(desired: Path, planfile: Path, env: dict[str, str], *extra: str) -> Result:
    result = run_cli("plan", str(desired), "--out", str(planfile), "--no-color", *extra, env=env)
    assert result.code == 0, result.err
    return result


def apply_plan(planfile: Path, env: dict[str, str], *extra: str) -> Result:
    # No --auto-approve and stdin is not a terminal: a saved plan is applied without asking.
    return run_cli("apply", str(planfile), "--no-color", *extra, env=env)


@pytest.fixture
def managed_setup(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> Path:
    """A connector with a, b, c managed; the file then wants a changed, c gone and d new."""
    desired = write_desired(tmp_path / "d.json", {"a": "a1", "b": "b1", "c": "c1"})
    assert run_cli("apply", str(desired), "--auto-approve", env=env_for).code == 0
    write_desired(desired, {"a": "a2", "b": "b1", "d": "d1"})
    devserver.reset_log()
    return desired


def test_saved_plan_is_applied_exactly_and_without_a_prompt(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    assert devserver.secret_writes() == []

    result = apply_plan(planfile, env_for)

    assert result.code == 0, result.err
    assert sorted(devserver.secret_writes()) == [("DELETE", "c"), ("POST", "d"), ("PUT", "a")]
    assert {k: v for k, v in devserver.secrets.items() if not k.startswith("vaultsync-")} == {
        "a": "a2",
        "b": "b1",
        "d": "d1",
    }
    assert "vaultsync-lock" not in devserver.secrets
    assert run_cli("plan", str(managed_setup), "--detailed-exitcode", env=env_for).code == 0


def test_a_saved_plan_applies_once(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    assert apply_plan(planfile, env_for).code == 0
    devserver.reset_log()

    again = apply_plan(planfile, env_for)

    assert again.code == 1 and "stale" in again.err
    assert devserver.secret_writes() == []


@pytest.mark.parametrize("backend", ["vault", "file"])
def test_saved_plan_on_a_fresh_connector(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, backend: str
) -> None:
    flags = ["--state-file", str(tmp_path / "state.json")] if backend == "file" else []
    desired = write_desired(tmp_path / "d.json", {"a": "a1", "b": "b1"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for, *flags)

    result = apply_plan(planfile, env_for)

    assert result.code == 0, result.err
    assert sorted(devserver.secret_writes()) == [("POST", "a"), ("POST", "b")]
    listed = run_cli("state", "list", str(desired), *flags, env=env_for)
    assert listed.out.split() == ["a", "b"]


def assert_refused_untouched(result: Result, devserver: Server, before: dict[str, str], *words: str) -> None:
    assert result.code == 1
    assert "stale" in result.err and "nothing was written" in result.err
    for word in words:
        assert word in result.err
    assert devserver.secret_writes() == []
    assert devserver.secrets == before
    assert CANARY not in result.both


def test_stale_when_an_alias_it_read_changed_in_the_vault_even_a_no_op(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    devserver.secrets["b"] = CANARY  # b was a no-op when planned
    before = dict(devserver.secrets)

    result = apply_plan(planfile, env_for)

    assert_refused_untouched(result, devserver, before, "changed in the vault", "b")


def test_stale_when_an_alias_planned_absent_appeared(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    devserver.secrets["d"] = "d1"  # someone created it by hand, with the very value the plan would write
    before = dict(devserver.secrets)

    assert_refused_untouched(apply_plan(planfile, env_for), devserver, before, "d")


def test_stale_when_a_desired_value_changed_through_the_environment(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    desired = write_desired(tmp_path / "d.json", {"token": {"fromEnv": "TOKEN"}})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, {**env_for, "TOKEN": "first-value"})
    before = dict(devserver.secrets)

    result = apply_plan(planfile, {**env_for, "TOKEN": CANARY})

    assert_refused_untouched(result, devserver, before, "desired values changed", "token")
    assert "token" not in devserver.secrets
    assert apply_plan(planfile, {**env_for, "TOKEN": "first-value"}).code == 0
    assert devserver.secrets["token"] == "first-value"


def test_stale_when_an_alias_was_added_to_the_file(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    write_desired(managed_setup, {"a": "a2", "b": "b1", "d": "d1", "e": "e1"})
    before = dict(devserver.secrets)

    assert_refused_untouched(apply_plan(planfile, env_for), devserver, before, "e")


@pytest.mark.parametrize(
    "change_state",
    [
        pytest.param(["state", "rm", "{file}", "b"], id="state-rm"),
        pytest.param(["apply", "{file}", "--auto-approve"], id="another-apply"),
    ],
)
def test_stale_when_the_state_changed(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path, change_state: list[str]
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    args = [a.replace("{file}", str(managed_setup)) for a in change_state]
    assert run_cli(*args, env=env_for).code == 0
    before = dict(devserver.secrets)
    devserver.reset_log()

    assert_refused_untouched(apply_plan(planfile, env_for), devserver, before, "state changed")


def test_stale_when_the_state_file_changed(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    state = ["--state-file", str(tmp_path / "state.json")]
    desired = write_desired(tmp_path / "d.json", {"a": "a1", "b": "b1"})
    assert run_cli("apply", str(desired), "--auto-approve", *state, env=env_for).code == 0
    write_desired(desired, {"a": "a2", "b": "b1"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for, *state)
    assert run_cli("state", "rm", str(desired), "b", *state, env=env_for).code == 0
    before = dict(devserver.secrets)
    devserver.reset_log()

    assert_refused_untouched(apply_plan(planfile, env_for), devserver, before, "state changed")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_stale_when_it_would_go_to_another_url(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path, how: str
) -> None:
    other = DevServer("127.0.0.1", 0)
    other.start_background()
    try:
        planfile = tmp_path / "vaultsync.plan"
        plan_out(managed_setup, planfile, env_for)
        devserver.reset_log()
        if how == "flag":
            result = apply_plan(planfile, env_for, "--url", other.url)
        else:
            result = apply_plan(planfile, {"EDC_MANAGEMENT_URL": other.url})
    finally:
        other.stop()

    assert result.code == 1
    assert "stale" in result.err and other.url in result.err
    assert devserver.requests == [] and other.requests == []


def test_saved_plan_never_goes_to_its_own_url_when_none_is_configured(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path
) -> None:
    """The URL (and with it the key) comes from the desired file and settings, never from the plan file."""
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    devserver.reset_log()

    result = apply_plan(planfile, {"EDC_MANAGEMENT_URL": ""})

    assert result.code == 1 and "no management API URL" in result.err
    assert "same --url or EDC_MANAGEMENT_URL" in result.err and devserver.url in result.err
    assert devserver.requests == []


def test_plan_file_holds_no_value_nor_a_plain_hash(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    devserver.secrets["unmanaged"] = CANARY
    desired = write_desired(tmp_path / "d.json", {"canary": CANARY, "unmanaged": CANARY, "x": "x1"})
    planfile = tmp_path / "vaultsync.plan"

    shown = plan_out(desired, planfile, env_for, "--format", "json")
    text = planfile.read_text("utf-8")

    digests = [hashlib.sha256(CANARY.encode()).hexdigest()]
    digests += [hashlib.sha256(f"{a}\x00{CANARY}".encode()).hexdigest() for a in ("canary", "unmanaged")]
    for form in [CANARY, *digests]:
        assert form not in text
        assert form not in shown.both
    doc = json.loads(text)
    assert {c["alias"]: c["action"] for c in doc["targets"][0]["changes"]} == {
        "canary": "create",
        "unmanaged": "no-op",
        "x": "create",
    }
    key = json.loads(unpack(devserver.secrets["vaultsync-state"], {}, "state"))["fingerprintKey"]
    assert key not in text


def test_a_conflict_in_a_saved_plan_is_refused_and_adopt_is_decided_when_planning(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    devserver.secrets["db"] = "by-hand"
    desired = write_desired(tmp_path / "d.json", {"db": "from-file"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for)

    refused = apply_plan(planfile, env_for)
    late_adopt = apply_plan(planfile, env_for, "--adopt")

    assert refused.code == 1 and "conflict" in refused.err and "plan" in refused.err
    assert late_adopt.code == 1 and "--adopt" in late_adopt.err
    assert devserver.secret_writes() == [] and devserver.secrets["db"] == "by-hand"

    plan_out(desired, planfile, env_for, "--adopt")
    assert json.loads(planfile.read_text("utf-8"))["targets"][0]["inputs"]["adopt"] is True
    adopted = apply_plan(planfile, env_for)

    assert adopted.code == 0, adopted.err
    assert devserver.secret_writes() == [("PUT", "db")]
    assert devserver.secrets["db"] == "from-file"


def test_adopt_flag_is_recorded_even_without_conflicts(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    desired = write_desired(tmp_path / "d.json", {"db": "from-file"})
    planfile = tmp_path / "vaultsync.plan"

    plan_out(desired, planfile, env_for)
    without = json.loads(planfile.read_text("utf-8"))["targets"][0]["inputs"]
    plan_out(desired, planfile, env_for, "--adopt")
    with_flag = json.loads(planfile.read_text("utf-8"))["targets"][0]["inputs"]

    assert (without["adopt"], with_flag["adopt"]) == (False, True)
    assert (without["allow_mass_delete"], with_flag["allow_mass_delete"]) == (False, False)


@pytest.fixture
def mass_delete_setup(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> Path:
    secrets = {f"s{i:02}": f"value-{i}" for i in range(10)}
    desired = write_desired(tmp_path / "d.json", secrets)
    assert run_cli("apply", str(desired), "--auto-approve", env=env_for).code == 0
    write_desired(desired, dict(list(secrets.items())[5:]))
    devserver.reset_log()
    return desired


def test_a_saved_mass_deletion_needs_the_flag(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, mass_delete_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    shown = plan_out(mass_delete_setup, planfile, env_for)

    refused = apply_plan(planfile, env_for)
    allowed = apply_plan(planfile, env_for, "--allow-mass-delete")

    assert "MASS DELETION" in shown.out
    assert refused.code == 1 and "--allow-mass-delete" in refused.err
    assert allowed.code == 0, allowed.err
    assert sorted(devserver.secret_writes()) == [("DELETE", f"s{i:02}") for i in range(5)]


def test_mass_deletion_allowed_when_planning_is_recorded_in_the_plan(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, mass_delete_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    shown = plan_out(mass_delete_setup, planfile, env_for, "--allow-mass-delete")

    result = apply_plan(planfile, env_for)

    assert "MASS DELETION" in shown.out  # the banner shows either way
    assert json.loads(planfile.read_text("utf-8"))["targets"][0]["inputs"]["allow_mass_delete"] is True
    assert result.code == 0, result.err
    assert len(devserver.secret_writes()) == 5


def test_a_saved_plan_with_only_no_ops_writes_nothing(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a1"})
    assert run_cli("apply", str(desired), "--auto-approve", env=env_for).code == 0
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for)
    state_before = devserver.secrets["vaultsync-state"]
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 0, result.err
    assert [a for _, a, _ in devserver.alias_writes] == ["vaultsync-lock", "vaultsync-lock"]
    assert devserver.secrets["vaultsync-state"] == state_before


def test_a_saved_plan_adopting_a_same_value_records_it(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    devserver.secrets["a"] = "a1"
    desired = write_desired(tmp_path / "d.json", {"a": "a1"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for)

    result = apply_plan(planfile, env_for)

    assert result.code == 0, result.err
    assert devserver.secret_writes() == []
    assert run_cli("state", "list", str(desired), env=env_for).out.split() == ["a"]


def test_a_corrupt_plan_file_is_refused_before_any_request(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    doc = json.loads(planfile.read_text("utf-8"))
    del doc["targets"][0]["read"]
    planfile.write_text(json.dumps(doc), "utf-8")
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 1 and "corrupt" in result.err
    assert devserver.requests == []


def test_a_state_file_other_than_the_planned_one_is_refused_before_any_request(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, managed_setup: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(managed_setup, planfile, env_for)
    devserver.reset_log()

    result = apply_plan(planfile, env_for, "--state-file", str(tmp_path / "other-state.json"))

    assert result.code == 1
    assert "vaultsync-state" in result.err and "other-state.json" in result.err
    assert devserver.requests == []


@pytest.mark.parametrize("key_id_in_file", [True, False], ids=["state-file", "state-file-without-key-id"])
def test_refused_when_the_fingerprint_key_is_gone(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, key_id_in_file: bool
) -> None:
    state_file = tmp_path / "state.json"
    state = ["--state-file", str(state_file)]
    desired = write_desired(tmp_path / "d.json", {"a": "a1"})
    assert run_cli("apply", str(desired), "--auto-approve", *state, env=env_for).code == 0
    if not key_id_in_file:  # as written before state files named their key
        doc = json.loads(state_file.read_text("utf-8"))
        del doc["keyId"]
        state_file.write_text(json.dumps(doc), "utf-8")
    write_desired(desired, {"a": "a2"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for, *state)
    del devserver.secrets["vaultsync-state"]  # the key: without it no fingerprint can be checked
    before = dict(devserver.secrets)
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 1
    assert "fingerprint key" in result.err and "vaultsync-state" in result.err
    assert "changed in the vault" not in result.err
    assert devserver.secret_writes() == [] and devserver.secrets == before
