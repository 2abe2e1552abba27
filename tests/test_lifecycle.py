"""Lifecycle against the dev-server: several files per connector, generated secrets, --replace, renames
(`moved`), protection, targeting, and the lock refusal naming its alias.

Each test asserts what a user would notice: the vault's contents, the exact writes made (count and
method), the exit code and the words of the message; and that no value ever reaches any output.
"""

from __future__ import annotations

import json
import os
import re
import signal
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

from vaultsync.devserver import Fault
from vaultsync.statecodec import unpack


def cli(server: Server, *args: str) -> Result:
    result = run_cli(*args, env={"EDC_MANAGEMENT_URL": server.url})
    assert "Traceback" not in result.both
    assert CANARY not in result.both
    return result


def apply(server: Server, *args: str) -> Result:
    return cli(server, "apply", *args, "--auto-approve")


def state(server: Server) -> dict[str, Any]:
    """The managed aliases as the vault's state alias records them (decoded from its compressed envelope)."""
    text = unpack(server.secrets["vaultsync-state"], dict(server.secrets), "state")
    managed: dict[str, Any] = json.loads(text)["managed"]
    return managed


def plan_json(server: Server, *args: str) -> dict[str, Any]:
    result = cli(server, "plan", *args, "--format", "json")
    assert result.code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return doc


# -- several files, one connector ---------------------------------------------------------------


def test_two_files_for_one_connector_apply_as_one(devserver: Server, tmp_path: Path) -> None:
    team_a = write_desired(tmp_path / "team-a.json", {"a-token": CANARY + "a"})
    team_b = write_desired(tmp_path / "team-b.json", {"b-token": CANARY + "b"})
    done = apply(devserver, str(team_a), str(team_b))
    assert done.code == 0, done.err
    assert devserver.secrets["a-token"] == CANARY + "a" and devserver.secrets["b-token"] == CANARY + "b"
    assert set(state(devserver)) == {"a-token", "b-token"}  # one state for the connector
    # Dropping a file from the command line is what removing its secrets looks like: the merge is the whole.
    assert cli(devserver, "plan", str(team_a), str(team_b), "--detailed-exitcode").code == 0


def test_a_directory_stands_for_its_json_files_sorted_not_recursive(devserver: Server, tmp_path: Path) -> None:
    folder = tmp_path / "provider"
    (folder / "nested").mkdir(parents=True)
    write_desired(folder / "b.json", {"b": CANARY + "b"})
    write_desired(folder / "a.json", {"a": CANARY + "a"})
    write_desired(folder / "nested" / "c.json", {"c": CANARY + "c"})
    (folder / "notes.txt").write_text("not a desired-state file")
    doc = plan_json(devserver, str(folder))
    assert doc["targets"][0]["files"] == [str(folder / "a.json"), str(folder / "b.json")]
    assert sorted(c["alias"] for c in doc["changes"]) == ["a", "b"]
    valid = cli(devserver, "validate", str(folder))
    assert valid.code == 0 and "a.json: valid" in valid.out and "b.json: valid" in valid.out


def test_an_alias_in_two_files_is_refused_naming_both_with_zero_requests(devserver: Server, tmp_path: Path) -> None:
    first = write_desired(tmp_path / "first.json", {"shared": CANARY + "1"})
    second = write_desired(tmp_path / "second.json", {"shared": CANARY + "2", "other": "x"})
    for command in (("plan",), ("apply", "--auto-approve"), ("validate",)):
        result = cli(devserver, *command, str(first), str(second))
        assert result.code == 1
        assert f"{second}: secrets.shared" in result.err and f"also defined in {first}" in result.err
    assert devserver.requests == []


def test_an_empty_directory_is_an_error(devserver: Server, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli(devserver, "plan", str(tmp_path / "empty"))
    assert result.code == 1 and "no *.json desired-state files" in result.err
    assert devserver.requests == []


# -- generated secrets -------------------------------------------------------------------------


def test_a_generated_secret_is_created_once_and_rotated_only_with_replace(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"api-key": {"generate": {"length": 40, "charset": "hex"}}})
    planned = cli(devserver, "plan", str(file))
    assert "+ create   api-key = (generated value)" in planned.out
    first = apply(devserver, str(file))
    assert first.code == 0, first.err
    value = devserver.secrets["api-key"]
    assert len(value) == 40 and set(value) <= set("0123456789abcdef")
    assert state(devserver)["api-key"]["generated"] is True
    assert value not in first.both + planned.both

    # Never compared afterwards: not even a value changed by hand is a change.
    devserver.secrets["api-key"] = "changed-by-hand-" + CANARY
    devserver.reset_log()
    again = cli(devserver, "plan", str(file), "--detailed-exitcode")
    assert again.code == 0, again.out
    assert apply(devserver, str(file)).code == 0
    assert devserver.secret_writes() == []

    devserver.reset_log()
    rotated = apply(devserver, str(file), "--replace", "api-key")
    assert rotated.code == 0, rotated.err
    assert devserver.secret_writes() == [("PUT", "api-key")]
    new = devserver.secrets["api-key"]
    assert new != "changed-by-hand-" + CANARY and len(new) == 40
    assert new not in rotated.both


@pytest.mark.parametrize(
    ("charset", "alphabet"),
    [
        ("alphanumeric", string.ascii_letters + string.digits),
        ("base64url", string.ascii_letters + string.digits + "-_"),
        ("ascii", "".join(chr(c) for c in range(0x21, 0x7F))),
    ],
)
def test_generated_values_use_their_charset(devserver: Server, tmp_path: Path, charset: str, alphabet: str) -> None:
    file = write_desired(tmp_path / "d.json", {"k": {"generate": {"length": 300, "charset": charset}}})
    assert apply(devserver, str(file)).code == 0
    value = devserver.secrets["k"]
    assert len(value) == 300 and set(value) <= set(alphabet)
    assert len(set(value)) > 20  # random, not a constant


def test_a_generated_value_is_never_in_output_plan_file_or_state(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"gen": {"generate": {"length": 32}}, "lit": CANARY})
    saved = tmp_path / "p.plan"
    state_file = tmp_path / "state.json"
    outputs = [cli(devserver, "plan", str(file), "--out", str(saved), "--state-file", str(state_file), "-v")]
    outputs.append(cli(devserver, "apply", str(saved), "-v"))
    value = devserver.secrets["gen"]
    for fmt in ("json", "markdown", "text"):
        outputs.append(cli(devserver, "plan", str(file), "--format", fmt, "--state-file", str(state_file)))
    outputs.append(
        cli(devserver, "apply", str(file), "--auto-approve", "--replace", "gen", "--state-file", str(state_file), "-v")
    )
    rotated = devserver.secrets["gen"]
    outputs.append(cli(devserver, "drift", str(file), "--state-file", str(state_file)))
    texts = [r.both for r in outputs] + [
        saved.read_text(),
        state_file.read_text(),
        devserver.secrets["vaultsync-state"],
    ]
    for text in texts:
        assert value not in text and rotated not in text and CANARY not in text
    assert json.loads(state_file.read_text())["managed"]["gen"]["generated"] is True


def test_a_saved_plan_generates_at_apply_time_and_checks_the_recipe(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"gen": {"generate": {"length": 32}}})
    saved = tmp_path / "p.plan"
    assert cli(devserver, "plan", str(file), "--out", str(saved)).code == 0
    assert "gen" not in devserver.secrets
    write_desired(file, {"gen": {"generate": {"length": 64}}})  # the recipe changed since planning
    stale = cli(devserver, "apply", str(saved))
    assert stale.code == 1 and "desired values changed since planning: gen" in stale.err
    write_desired(file, {"gen": {"generate": {"length": 32}}})
    assert cli(devserver, "apply", str(saved)).code == 0
    assert len(devserver.secrets["gen"]) == 32


def test_a_generated_entry_changed_to_a_literal_is_an_ordinary_update(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"k": {"generate": {"length": 16}}})
    assert apply(devserver, str(file)).code == 0
    write_desired(file, {"k": CANARY + "literal"})
    doc = plan_json(devserver, str(file))
    assert [c["action"] for c in doc["changes"]] == ["update"]
    devserver.reset_log()
    assert apply(devserver, str(file)).code == 0
    assert devserver.secret_writes() == [("PUT", "k")] and devserver.secrets["k"] == CANARY + "literal"
    assert "generated" not in state(devserver)["k"]


# -- --replace ---------------------------------------------------------------------------------


def test_replace_rewrites_an_unchanged_literal_once(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": CANARY + "a", "b": CANARY + "b"})
    assert apply(devserver, str(file)).code == 0
    doc = plan_json(devserver, str(file), "--replace", "a")
    assert {c["alias"]: c["action"] for c in doc["changes"]} == {"a": "update", "b": "no-op"}
    devserver.reset_log()
    assert apply(devserver, str(file), "--replace", "a").code == 0
    assert devserver.secret_writes() == [("PUT", "a")]


def test_replace_of_an_alias_not_desired_is_an_error_with_zero_requests(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": CANARY})
    for command in (("plan",), ("apply", "--auto-approve")):
        result = cli(devserver, *command, str(file), "--replace", "nope")
        assert result.code == 1 and "--replace names aliases that are not in the desired state: nope" in result.err
    assert devserver.requests == []


def test_a_saved_plan_keeps_replace(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": CANARY})
    assert apply(devserver, str(file)).code == 0
    saved = tmp_path / "p.plan"
    assert cli(devserver, "plan", str(file), "--replace", "a", "--out", str(saved)).code == 0
    assert json.loads(saved.read_text())["targets"][0]["inputs"]["selection"]["replace"] == ["a"]
    devserver.reset_log()
    assert cli(devserver, "apply", str(saved)).code == 0
    assert devserver.secret_writes() == [("PUT", "a")]
    refused = cli(devserver, "apply", str(saved), "--replace", "a")
    assert refused.code == 1 and "belong to the plan" in refused.err


# -- renames -----------------------------------------------------------------------------------


def _renamed(tmp_path: Path, **entry: Any) -> Path:
    return write_desired(
        tmp_path / "d.json", {"new": entry or {"generate": {"length": 32}}}, moved=[{"from": "old", "to": "new"}]
    )


def _managed_old(devserver: Server, tmp_path: Path, value: str = CANARY + "old") -> None:
    assert apply(devserver, str(write_desired(tmp_path / "d.json", {"old": value}))).code == 0


def test_a_rename_keeps_the_value_with_one_post_and_one_delete(devserver: Server, tmp_path: Path) -> None:
    _managed_old(devserver, tmp_path)
    file = _renamed(tmp_path)
    doc = plan_json(devserver, str(file))
    assert doc["changes"] == [
        {"alias": "new", "action": "move", "from": "old", "note": "renamed from old, keeping its value"}
    ]
    assert doc["summary"]["move"] == 1
    text = cli(devserver, "plan", str(file))
    assert "> move     new <- old" in text.out and "1 to move" in text.out
    devserver.reset_log()
    done = apply(devserver, str(file))
    assert done.code == 0, done.err
    assert devserver.secret_writes() == [("POST", "new"), ("DELETE", "old")]
    assert devserver.secrets["new"] == CANARY + "old" and "old" not in devserver.secrets
    assert set(state(devserver)) == {"new"}
    # The moved entry may stay in the file: nothing more to do.
    devserver.reset_log()
    assert cli(devserver, "plan", str(file), "--detailed-exitcode").code == 0
    assert apply(devserver, str(file)).code == 0 and devserver.secret_writes() == []


def test_a_rename_to_a_new_value_is_one_write(devserver: Server, tmp_path: Path) -> None:
    _managed_old(devserver, tmp_path)
    file = _renamed(tmp_path, value=CANARY + "new")
    doc = plan_json(devserver, str(file))
    assert doc["changes"][0]["action"] == "move" and doc["changes"][0]["rewrite"] is True
    devserver.reset_log()
    assert apply(devserver, str(file)).code == 0
    assert devserver.secret_writes() == [("POST", "new"), ("DELETE", "old")]
    assert devserver.secrets["new"] == CANARY + "new"


def test_a_rename_interrupted_between_post_and_delete_converges(devserver: Server, tmp_path: Path) -> None:
    _managed_old(devserver, tmp_path)
    file = _renamed(tmp_path)
    devserver.server.faults.add(Fault(500, method="DELETE", alias="old"))
    devserver.reset_log()
    failed = apply(devserver, str(file))
    assert failed.code == 1
    assert devserver.secrets["new"] == CANARY + "old" and devserver.secrets["old"] == CANARY + "old"
    assert {"new", "old"} <= set(state(devserver))  # the new alias was recorded before the delete
    doc = plan_json(devserver, str(file))
    assert doc["changes"][0]["resume"] is True
    devserver.reset_log()
    again = apply(devserver, str(file))
    assert again.code == 0, again.err
    assert devserver.secret_writes() == [("DELETE", "old")]
    assert devserver.secrets["new"] == CANARY + "old" and "old" not in devserver.secrets
    assert set(state(devserver)) == {"new"}


def test_a_rename_whose_state_record_failed_converges_without_losing_the_value(
    devserver: Server, tmp_path: Path
) -> None:
    _managed_old(devserver, tmp_path)
    file = _renamed(tmp_path)
    devserver.server.faults.add(Fault(500, method="PUT", alias="vaultsync-state"))
    devserver.reset_log()
    failed = apply(devserver, str(file))
    assert failed.code == 1 and "the state could not be recorded" in failed.err
    assert devserver.secret_writes() == [("POST", "new")]  # the old alias was not deleted
    assert "new" not in state(devserver)
    devserver.reset_log()
    again = apply(devserver, str(file))
    assert again.code == 0, again.err
    assert devserver.secret_writes() == [("DELETE", "old")]
    assert devserver.secrets["new"] == CANARY + "old" and set(state(devserver)) == {"new"}


def test_a_rename_onto_an_unmanaged_alias_with_another_value_is_a_conflict(devserver: Server, tmp_path: Path) -> None:
    _managed_old(devserver, tmp_path)
    devserver.secrets["new"] = "someone else's " + CANARY
    file = _renamed(tmp_path, value=CANARY + "x")
    doc = plan_json(devserver, str(file))
    assert [c["action"] for c in doc["changes"]] == ["conflict"]
    devserver.reset_log()
    refused = apply(devserver, str(file))
    assert refused.code == 1 and devserver.secret_writes() == []


def test_moved_rules_are_checked_before_any_request(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "x", "b": "y"}, moved=[{"from": "a", "to": "c"}])
    result = cli(devserver, "plan", str(file))
    assert result.code == 1
    assert 'moved[0].from: "a" is still in secrets' in result.err
    assert 'moved[0].to: "c" is not in secrets' in result.err
    assert devserver.requests == []


# -- protection --------------------------------------------------------------------------------


def test_a_protected_alias_cannot_be_deleted_by_removing_it_from_the_file(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"prod": {"value": CANARY, "protect": True}, "other": "x"})
    assert apply(devserver, str(file)).code == 0
    assert state(devserver)["prod"]["protected"] is True
    write_desired(file, {"other": "x"})
    devserver.reset_log()
    for command in (("plan",), ("apply", "--auto-approve")):
        refused = cli(devserver, *command, str(file))
        assert refused.code == 1
        assert "would remove protected secrets: prod" in refused.err and '"protect": true' in refused.err
    assert devserver.secret_writes() == [] and devserver.secrets["prod"] == CANARY
    drift = cli(devserver, "drift", str(file))  # read-only: reports the pending delete instead of refusing
    assert drift.code == 0 and "prod: delete pending" in drift.out
    # Lifting protection is an apply of its own: the entry stays, without protect.
    write_desired(file, {"prod": {"value": CANARY}, "other": "x"})
    lifted = apply(devserver, str(file))
    assert lifted.code == 0 and "protection lifted" in lifted.out
    assert devserver.secret_writes() == [] and "protected" not in state(devserver)["prod"]
    write_desired(file, {"other": "x"})
    assert apply(devserver, str(file)).code == 0
    assert "prod" not in devserver.secrets


def test_a_protected_alias_cannot_be_renamed_away(devserver: Server, tmp_path: Path) -> None:
    assert (
        apply(devserver, str(write_desired(tmp_path / "d.json", {"old": {"value": CANARY, "protect": True}}))).code == 0
    )
    file = _renamed(tmp_path)
    refused = cli(devserver, "plan", str(file))
    assert refused.code == 1 and "old (renamed to new)" in refused.err


# -- targeting ---------------------------------------------------------------------------------


def test_target_touches_only_the_matching_aliases(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(
        tmp_path / "d.json", {"provider-a": CANARY + "1", "provider-b": CANARY + "2", "consumer-a": CANARY + "3"}
    )
    doc = plan_json(devserver, str(file), "--target", "provider-*", "--exclude", "provider-b")
    assert doc["partial"] is True and doc["selection"] == {"target": ["provider-*"], "exclude": ["provider-b"]}
    assert [c["alias"] for c in doc["changes"]] == ["provider-a"]
    text = cli(devserver, "plan", str(file), "--target", "provider-*")
    assert "Partial plan: only aliases matching --target 'provider-*'" in text.out
    typo = cli(devserver, "plan", str(file), "--target", "provder-*")
    assert typo.code == 0 and "--target 'provder-*' matches no alias" in typo.err
    markdown = cli(devserver, "plan", str(file), "--target", "provider-*", "--format", "markdown")
    assert "**Partial plan:**" in markdown.out
    devserver.reset_log()
    assert apply(devserver, str(file), "--target", "provider-*").code == 0
    assert sorted(devserver.secret_writes()) == [("POST", "provider-a"), ("POST", "provider-b")]
    assert "consumer-a" not in devserver.secrets
    assert not plan_json(devserver, str(file))["partial"]


def test_deletes_outside_the_target_are_not_made_and_state_keeps_them(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"provider-a": "1", "consumer-a": "2"})
    assert apply(devserver, str(file)).code == 0
    write_desired(file, {"provider-b": "3"})
    devserver.reset_log()
    assert apply(devserver, str(file), "--target", "provider-*").code == 0
    assert sorted(devserver.secret_writes()) == [("DELETE", "provider-a"), ("POST", "provider-b")]
    assert devserver.secrets["consumer-a"] == "2" and "consumer-a" in state(devserver)


def test_a_saved_plan_keeps_its_targeting(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"provider-a": "1", "consumer-a": "2"})
    saved = tmp_path / "p.plan"
    assert cli(devserver, "plan", str(file), "--target", "provider-*", "--out", str(saved)).code == 0
    write_desired(file, {"provider-a": "1", "consumer-a": "changed"})  # outside the target: not stale
    devserver.reset_log()
    applied = cli(devserver, "apply", str(saved))
    assert applied.code == 0, applied.err
    assert "Partial plan" in applied.out
    assert devserver.secret_writes() == [("POST", "provider-a")]


def test_renames_are_matched_by_their_new_alias(devserver: Server, tmp_path: Path) -> None:
    _managed_old(devserver, tmp_path)
    file = _renamed(tmp_path)
    assert plan_json(devserver, str(file), "--target", "old")["changes"] == []
    assert [c["action"] for c in plan_json(devserver, str(file), "--target", "ne*")["changes"]] == ["move"]


# -- the lock names itself ---------------------------------------------------------------------


@pytest.mark.parametrize("lock_alias", ["vaultsync-lock", "team-lock"])
def test_a_lock_alias_holding_foreign_data_is_named_with_how_to_release_it(
    devserver: Server, tmp_path: Path, lock_alias: str
) -> None:
    file = write_desired(tmp_path / "d.json", {"a": CANARY})
    devserver.secrets[lock_alias] = "written by another tool " + CANARY
    extra = () if lock_alias == "vaultsync-lock" else ("--lock-alias", lock_alias)
    refused = apply(devserver, str(file), *extra)
    assert refused.code == 1
    assert f"the lock alias {lock_alias} holds data vaultsync did not write" in refused.err
    hint = re.search(r"`(vaultsync force-unlock unreadable FILE[^`]*)`", refused.err)
    assert hint is not None
    assert hint.group(1).endswith("FILE" if not extra else f"FILE --lock-alias {lock_alias}")
    args = hint.group(1).split()[1:]
    released = cli(devserver, *[str(file) if a == "FILE" else a for a in args])
    assert released.code == 0 and lock_alias not in devserver.secrets


# -- the worked example ------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lifecycle" / "provider"


def test_the_lifecycle_example_applies_as_one_connector_and_renames(devserver: Server, tmp_path: Path) -> None:
    env = {"EDC_MANAGEMENT_URL": devserver.url, "CATALOG_OAUTH_CLIENT_SECRET": CANARY + "oauth"}
    # An earlier apply managed the old alias that team-catalog.json renames.
    old = write_desired(tmp_path / "old.json", {"catalog-oauth": CANARY + "oauth"})
    assert run_cli("apply", str(old), "--auto-approve", env=env).code == 0
    planned = run_cli("plan", str(EXAMPLE), "--format", "json", env=env)
    assert planned.code == 0, planned.err
    doc = json.loads(planned.out)
    assert {c["alias"]: c["action"] for c in doc["changes"]} == {
        "provider-catalog-api-key": "create",
        "provider-catalog-oauth-client-secret": "move",
        "provider-dataplane-token-key": "create",
        "provider-db-password": "create",
    }
    devserver.reset_log()
    applied = run_cli("apply", str(EXAMPLE), "--auto-approve", env=env)
    assert applied.code == 0, applied.err
    assert CANARY not in applied.both
    assert devserver.secrets["provider-catalog-oauth-client-secret"] == CANARY + "oauth"
    assert "catalog-oauth" not in devserver.secrets
    assert state(devserver)["provider-db-password"] == {
        "fingerprint": state(devserver)["provider-db-password"]["fingerprint"],
        "protected": True,
        "generated": True,
    }
    assert run_cli("plan", str(EXAMPLE), "--detailed-exitcode", env=env).code == 0


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_help_lists_the_lifecycle_flags(command: str) -> None:
    result = run_cli(command, "--help")
    for flag in ("--target ALIAS", "--exclude ALIAS", "--replace ALIAS", "directories"):
        assert flag in result.out


def test_a_saved_rename_applies_once_and_a_tampered_one_is_refused(devserver: Server, tmp_path: Path) -> None:
    assert apply(devserver, str(write_desired(tmp_path / "d.json", {"old": CANARY, "keep": "k"}))).code == 0
    file = write_desired(tmp_path / "d.json", {"new": CANARY, "keep": "k"}, moved=[{"from": "old", "to": "new"}])
    saved = tmp_path / "p.plan"
    assert cli(devserver, "plan", str(file), "--out", str(saved)).code == 0
    tampered = tmp_path / "t.plan"
    doc = json.loads(saved.read_text())
    for change in doc["targets"][0]["changes"]:
        if change["action"] == "move":
            change["from"] = "keep"  # managed, but not what the files ask to rename
    tampered.write_text(json.dumps(doc))
    devserver.reset_log()
    refused = cli(devserver, "apply", str(tampered))
    assert refused.code == 1 and "its seal does not match" in refused.err
    assert devserver.secret_writes() == []
    applied = cli(devserver, "apply", str(saved))
    assert applied.code == 0, applied.err
    assert devserver.secret_writes() == [("POST", "new"), ("DELETE", "old")]
    assert devserver.secrets["keep"] == "k" and devserver.secrets["new"] == CANARY


def test_drift_reads_a_directory_of_files_for_one_connector(devserver: Server, tmp_path: Path) -> None:
    folder = tmp_path / "provider"
    folder.mkdir()
    write_desired(folder / "a.json", {"a": CANARY + "a"})
    write_desired(folder / "b.json", {"b": {"generate": {"length": 16}}})
    assert apply(devserver, str(folder)).code == 0
    assert cli(devserver, "drift", str(folder)).code == 0
    devserver.secrets["a"] = "changed by hand"
    drifted = cli(devserver, "drift", str(folder))
    assert drifted.code == 2 and "a: value was changed outside vaultsync" in drifted.out


def test_validate_merges_only_files_known_to_share_a_connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-commit hook validates every changed file at once: files without a URL may be a fleet."""
    monkeypatch.delenv("EDC_MANAGEMENT_URL", raising=False)
    provider = write_desired(tmp_path / "provider.json", {"oauth": "p"})
    consumer = write_desired(tmp_path / "consumer.json", {"oauth": "c"})
    assert run_cli("validate", str(provider), str(consumer)).code == 0
    url = {"url": "https://edc.example.com/api/management"}
    write_desired(provider, {"oauth": "p"}, target=url)
    write_desired(consumer, {"oauth": "c"}, target=url)
    clash = run_cli("validate", str(provider), str(consumer))
    assert clash.code == 1 and f"also defined in {provider}" in clash.err
    assert (
        run_cli("validate", str(provider), str(consumer), env={"EDC_MANAGEMENT_URL": "http://127.0.0.1:9/x"}).code == 1
    )


def test_a_directory_skips_the_sops_value_files_beside_its_desired_files(tmp_path: Path) -> None:
    from vaultsync.lifecycle.files import expand

    example = Path(__file__).resolve().parent.parent / "examples" / "sops"
    assert [Path(f).name for f in expand([str(example)])] == ["connector.sops.json"]
    (tmp_path / "values.json").write_text(json.dumps({"token": "ENC[...]", "sops": {"version": "3.9"}}))
    (tmp_path / "broken.json").write_text("{not json")
    assert [Path(f).name for f in expand([str(tmp_path)])] == ["broken.json"]  # loading it says what is wrong


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_rename_interrupted_by_a_signal_between_post_and_delete_converges(
    devserver: Server, tmp_path: Path, sig: signal.Signals
) -> None:
    """A real process, signalled while its POST of the new alias is in flight: the POST finishes and is
    recorded, the DELETE never starts, and the next apply deletes the old alias only."""
    _managed_old(devserver, tmp_path)
    file = _renamed(tmp_path)
    devserver.server.faults.add(Fault("delay", method="POST", alias="new", delay=1.0))
    env = {**os.environ, "EDC_MANAGEMENT_URL": devserver.url, "NO_COLOR": "1"}
    devserver.reset_log()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaultsync", "apply", str(file), "--auto-approve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if not devserver.server.faults.wait_for_hits(1, timeout=30):
        proc.kill()
        pytest.fail("the POST of the new alias never arrived:\n" + "\n".join(proc.communicate()))
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert CANARY not in out + err and "Traceback" not in err
    assert devserver.secret_writes() == [("POST", "new")]
    assert devserver.secrets["new"] == CANARY + "old" and devserver.secrets["old"] == CANARY + "old"
    assert {"old", "new"} <= set(state(devserver)) and "vaultsync-lock" not in devserver.secrets
    devserver.reset_log()
    again = apply(devserver, str(file))
    assert again.code == 0, again.err
    assert devserver.secret_writes() == [("DELETE", "old")]
    assert devserver.secrets["new"] == CANARY + "old" and set(state(devserver)) == {"new"}


def test_a_saved_plan_of_a_directory_records_every_file_and_applies(devserver: Server, tmp_path: Path) -> None:
    folder = tmp_path / "provider"
    folder.mkdir()
    write_desired(folder / "a.json", {"a": CANARY + "a"})
    write_desired(folder / "b.json", {"b": {"generate": {"length": 24}}})
    saved = tmp_path / "p.plan"
    assert cli(devserver, "plan", str(folder), "--out", str(saved)).code == 0
    assert len(json.loads(saved.read_text())["targets"][0]["inputs"]["files"]) == 2
    devserver.reset_log()
    applied = cli(devserver, "apply", str(saved))
    assert applied.code == 0, applied.err
    assert sorted(devserver.secret_writes()) == [("POST", "a"), ("POST", "b")]
    assert len(devserver.secrets["b"]) == 24 and devserver.secrets["b"] not in applied.both + saved.read_text()
