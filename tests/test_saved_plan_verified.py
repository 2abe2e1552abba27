"""A saved plan is verified, not trusted: `apply PLANFILE` computes the plan again and refuses a plan file
that says anything else, and it sends requests (and the key) only where the desired files and settings point.

Plans travel between CI jobs as artifacts: whoever can write an artifact must not be able to widen what apply
does, nor redirect the API key. Paths in a plan are relative to the working directory, so a plan made in one
checkout applies from another checkout of the same repository.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY, Result, Server, run_cli, running_devserver, write_desired

from vaultsync import planfile
from vaultsync.plan import Action, Change, Plan

KEY = "APIKEY-9d4c1e77-" + CANARY


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EDC_MANAGEMENT_URL", "EDC_API_KEY", "EDC_API_VERSION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def keyed() -> Iterator[Server]:
    """A connector requiring KEY, named by the desired file's target (url and apiKeyEnv)."""
    with running_devserver(api_key=KEY) as server:
        yield server


@pytest.fixture
def other() -> Iterator[Server]:
    """Another loopback server, open to anyone: where a tampered plan would like the key to go."""
    with running_devserver() as server:
        yield server


def load(planfile: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(planfile.read_text("utf-8"))
    return doc


def save(planfile: Path, doc: dict[str, Any]) -> None:
    planfile.write_text(json.dumps(doc, indent=1), "utf-8")


def plan_out(desired: Path, planfile: Path, env: dict[str, str], *extra: str) -> None:
    result = run_cli("plan", str(desired), "--out", str(planfile), "--no-color", *extra, env=env)
    assert result.code == 0, result.err


def apply_plan(planfile: Path, env: dict[str, str], *extra: str) -> Result:
    return run_cli("apply", str(planfile), "--no-color", *extra, env=env)


# -- a hand-edited plan cannot widen what apply does -------------------------------------------


@pytest.fixture
def no_change_plan(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> Path:
    """Ten managed, unchanged aliases; `dsp-token` in the vault, never managed, never read by the plan.

    Ten, so that one forged delete stays under the mass-deletion guard, which must not be what stops it.
    """
    desired = write_desired(tmp_path / "d.json", {f"a{i}": f"v{i}" for i in range(10)})
    assert run_cli("apply", str(desired), "--auto-approve", env=env_for).code == 0
    devserver.secrets["dsp-token"] = CANARY + "-unmanaged"
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for)
    assert {c["action"] for c in load(planfile)["targets"][0]["changes"]} == {"no-op"}
    devserver.reset_log()
    return planfile


def _add_delete(target: dict[str, Any]) -> None:
    target["changes"].append({"alias": "dsp-token", "action": "delete"})


def _add_managed_delete_and_read(target: dict[str, Any]) -> None:
    # Everything a forger could add: the change, a read fingerprint, managed_before.
    target["changes"].append({"alias": "dsp-token", "action": "delete", "managed": True})
    target["read"]["dsp-token"] = next(iter(target["read"].values()))
    target["managed_before"] = 11


def _turn_no_op_into_delete(target: dict[str, Any]) -> None:
    target["changes"][0] = {"alias": "a0", "action": "delete", "managed": True}


def _turn_no_op_into_update(target: dict[str, Any]) -> None:
    target["changes"][0] = {"alias": "a0", "action": "update", "managed": True}


@pytest.mark.parametrize(
    "tamper",
    [_add_delete, _add_managed_delete_and_read, _turn_no_op_into_delete, _turn_no_op_into_update],
    ids=["add-delete", "add-delete-with-read-and-managed", "no-op-to-delete", "no-op-to-update"],
)
def test_a_hand_edited_change_is_refused_and_nothing_is_written(
    devserver: Server,
    env_for: dict[str, str],
    no_change_plan: Path,
    tamper: Callable[[dict[str, Any]], None],
) -> None:
    doc = load(no_change_plan)
    tamper(doc["targets"][0])
    save(no_change_plan, doc)
    before = dict(devserver.secrets)

    result = apply_plan(no_change_plan, env_for)

    assert result.code == 1, result.out
    assert "nothing was written" in result.err
    assert "seal does not match" in result.err  # says why: the file is not what this vault's plan sealed
    assert devserver.secret_writes() == []
    assert devserver.secrets == before
    assert devserver.secrets["dsp-token"] == CANARY + "-unmanaged"
    assert CANARY not in result.both


def test_dropping_a_change_from_the_plan_is_refused_too(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    """Exactly the saved plan: a narrowed plan is not what was reviewed either."""
    desired = write_desired(tmp_path / "d.json", {"a": "a1", "b": "b1"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for)
    doc = load(planfile)
    doc["targets"][0]["changes"] = [c for c in doc["targets"][0]["changes"] if c["alias"] != "b"]
    save(planfile, doc)
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 1 and "b" in result.err
    assert devserver.secret_writes() == []


def test_a_hand_edited_read_list_is_refused_without_reading_what_it_names(
    devserver: Server, env_for: dict[str, str], no_change_plan: Path
) -> None:
    doc = load(no_change_plan)
    doc["targets"][0]["read"]["dsp-token"] = None
    save(no_change_plan, doc)

    result = apply_plan(no_change_plan, env_for)

    assert result.code == 1 and "nothing was written" in result.err
    assert not [path for _, path, _ in devserver.requests if path.endswith("/dsp-token")]
    assert devserver.secret_writes() == []


def test_an_untampered_plan_still_applies(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "a1", "doc": {"json": {"k": "v"}}})
    assert run_cli("apply", str(desired), "--auto-approve", env=env_for).code == 0
    write_desired(tmp_path / "d.json", {"doc": {"json": {"k": "w"}}, "c": "c1"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for)
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 0, result.err
    assert sorted(devserver.secret_writes()) == [("DELETE", "a"), ("POST", "c"), ("PUT", "doc")]


# -- the key goes only where the desired files and settings point --------------------------------


@pytest.mark.parametrize("where", ["target-url", "no-url-configured"])
def test_a_redirected_plan_sends_nothing_to_the_other_server(
    keyed: Server, other: Server, tmp_path: Path, where: str
) -> None:
    target: dict[str, str] = {"apiKeyEnv": "PROVIDER_KEY"}
    env = {"PROVIDER_KEY": KEY}
    if where == "target-url":
        target["url"] = keyed.url
    else:
        env["EDC_MANAGEMENT_URL"] = keyed.url
    desired = write_desired(tmp_path / "d.json", {"a": "a1"}, target=target)
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env)
    doc = load(planfile)
    doc["targets"][0]["url"] = other.url
    save(planfile, doc)
    keyed.reset_log()
    if where == "no-url-configured":
        del env["EDC_MANAGEMENT_URL"]  # only the plan file names a URL now: it is never used

    result = apply_plan(planfile, env)

    assert result.code == 1
    assert other.requests == []  # not one request: the key never travels there
    assert keyed.requests == []  # refused before any request at all
    assert "nothing was written" in result.err or "no management API URL" in result.err
    assert KEY not in result.both
    assert "a" not in other.secrets and "a" not in keyed.secrets


def test_the_url_comes_from_the_settings_not_from_the_plan(keyed: Server, tmp_path: Path) -> None:
    """Same settings at apply as at plan: applied, to the URL the desired file names."""
    desired = write_desired(tmp_path / "d.json", {"a": "a1"}, target={"url": keyed.url, "apiKeyEnv": "PROVIDER_KEY"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, {"PROVIDER_KEY": KEY})

    result = apply_plan(planfile, {"PROVIDER_KEY": KEY})

    assert result.code == 0, result.err
    assert keyed.secrets["a"] == "a1"


# -- paths relative to the working directory (issue 16, item 1) --------------------------------------


def test_a_plan_made_in_one_checkout_applies_from_another(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout_a = tmp_path / "ci-job-1" / "repo"
    (checkout_a / "connectors" / "keys").mkdir(parents=True)
    (checkout_a / "connectors" / "keys" / "tls.pem").write_text("pem-body")
    write_desired(checkout_a / "connectors" / "provider.json", {"plain": "p1", "tls": {"fromFile": "keys/tls.pem"}})
    monkeypatch.chdir(checkout_a)
    plan_out(Path("connectors/provider.json"), Path("vaultsync.plan"), env_for)
    text = (checkout_a / "vaultsync.plan").read_text("utf-8")
    assert str(tmp_path) not in text and "ci-job-1" not in text

    checkout_b = tmp_path / "ci-job-2" / "elsewhere" / "repo"
    shutil.copytree(checkout_a, checkout_b)
    shutil.rmtree(tmp_path / "ci-job-1")  # the first job's workspace is gone, as on a CI runner
    monkeypatch.chdir(checkout_b)
    devserver.reset_log()

    result = apply_plan(Path("vaultsync.plan"), env_for)

    assert result.code == 0, result.err
    assert {a: devserver.secrets[a] for a in ("plain", "tls")} == {"plain": "p1", "tls": "pem-body"}


def test_a_plan_applied_from_another_directory_reads_the_files_there(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths resolve where apply runs: another checkout holding another file makes the plan stale."""
    for name, value in (("a", "v1"), ("b", "v2")):
        (tmp_path / name).mkdir()
        write_desired(tmp_path / name / "d.json", {"s": value})
    monkeypatch.chdir(tmp_path / "a")
    plan_out(Path("d.json"), tmp_path / "vaultsync.plan", env_for)
    monkeypatch.chdir(tmp_path / "b")

    result = apply_plan(tmp_path / "vaultsync.plan", env_for)

    assert result.code == 1 and "desired values changed" in result.err
    assert devserver.secret_writes() == []


def test_a_state_file_is_recorded_relative_to_the_working_directory(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    write_desired(repo / "d.json", {"a": "a1"})
    monkeypatch.chdir(repo)
    plan_out(Path("d.json"), Path("vaultsync.plan"), env_for, "--state-file", "state/vaultsync.json")
    doc = load(repo / "vaultsync.plan")
    assert str(tmp_path) not in json.dumps(doc)
    moved = tmp_path / "moved"
    shutil.copytree(repo, moved)
    shutil.rmtree(repo)
    monkeypatch.chdir(moved)

    result = apply_plan(Path("vaultsync.plan"), env_for)

    assert result.code == 0, result.err
    assert (moved / "state" / "vaultsync.json").is_file()


def test_an_old_format_plan_is_refused_with_what_to_do(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(write_desired(tmp_path / "d.json", {"a": "a1"}), planfile, env_for)
    doc = load(planfile)
    doc["format_version"] = "1"
    save(planfile, doc)
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 1 and "plan again" in result.err
    assert devserver.requests == []


def test_a_plan_applied_from_another_folder_says_where_paths_are_relative_to(
    devserver: Server, env_for: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "repo").mkdir()
    write_desired(tmp_path / "repo" / "d.json", {"a": "a1"})
    monkeypatch.chdir(tmp_path / "repo")
    plan_out(Path("d.json"), tmp_path / "vaultsync.plan", env_for)
    monkeypatch.chdir(tmp_path)
    devserver.reset_log()

    result = apply_plan(tmp_path / "vaultsync.plan", env_for)

    assert result.code == 1
    assert "d.json: no such file" in result.err and "relative to the working directory" in result.err
    assert devserver.requests == []


# -- recorded decisions are sealed with the vault's key ------------------------------------------------


def test_a_forged_adopt_does_not_overwrite_an_unmanaged_secret(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    devserver.secrets["db"] = CANARY + "-set-by-hand"
    desired = write_desired(tmp_path / "d.json", {"db": "from-the-repository"})
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for)
    doc = load(planfile)
    target = doc["targets"][0]
    assert [c["action"] for c in target["changes"]] == ["conflict"]
    # What `plan --adopt` would have written: the decision and its consequence.
    target["inputs"]["adopt"] = True
    target["changes"] = [{"alias": "db", "action": "update", "adopt": True, "note": "adopted (--adopt)"}]
    save(planfile, doc)
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 1 and "seal" in result.err and "nothing was written" in result.err
    assert devserver.secret_writes() == [] and devserver.secrets["db"] == CANARY + "-set-by-hand"


def test_a_forged_mass_deletion_permission_is_refused(
    devserver: Server, env_for: dict[str, str], tmp_path: Path
) -> None:
    secrets = {f"s{i:02}": f"value-{i}" for i in range(10)}
    desired = write_desired(tmp_path / "d.json", secrets)
    assert run_cli("apply", str(desired), "--auto-approve", env=env_for).code == 0
    write_desired(desired, dict(list(secrets.items())[5:]))
    planfile = tmp_path / "vaultsync.plan"
    plan_out(desired, planfile, env_for)
    doc = load(planfile)
    doc["targets"][0]["inputs"]["allow_mass_delete"] = True
    save(planfile, doc)
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 1 and "seal" in result.err
    assert devserver.secret_writes() == []
    assert all(f"s{i:02}" in devserver.secrets for i in range(10))


def test_a_plan_file_without_a_seal_is_corrupt(devserver: Server, env_for: dict[str, str], tmp_path: Path) -> None:
    planfile = tmp_path / "vaultsync.plan"
    plan_out(write_desired(tmp_path / "d.json", {"a": "a1"}), planfile, env_for)
    doc = load(planfile)
    del doc["targets"][0]["seal"]
    save(planfile, doc)
    devserver.reset_log()

    result = apply_plan(planfile, env_for)

    assert result.code == 1 and "corrupt" in result.err
    assert devserver.requests == []


@pytest.mark.parametrize("field", ["lock_alias", "state_alias"])
def test_forged_reserved_aliases_are_refused_before_any_write(
    devserver: Server, env_for: dict[str, str], no_change_plan: Path, field: str
) -> None:
    doc = load(no_change_plan)
    doc["targets"][0]["inputs"][field] = "dsp-token"
    save(no_change_plan, doc)
    before = dict(devserver.secrets)

    result = apply_plan(no_change_plan, env_for)

    assert result.code == 1 and "nothing was written" in result.err
    assert devserver.alias_writes == []  # not even a lock taken
    assert devserver.secrets == before


def test_the_recomputed_plan_must_be_exactly_the_saved_one() -> None:
    """What apply checks under the lock, even when the seal holds: the plan computed now is the saved plan."""
    now = Plan((Change("a", Action.NOOP, True),), managed_before=1)
    inputs = planfile.PlanInputs(("d.json",), "v3", None, "vaultsync-state", "vaultsync-lock")

    def reasons(saved_plan: Plan) -> list[str]:
        saved = planfile.SavedTarget("http://x", inputs, "L", 3, {"a": "fp-a"}, {"a": "fp-a"}, saved_plan)
        return planfile.staleness(
            saved, lineage="L", serial=3, read_now={"a": "fp-a"}, desired_now={"a": "fp-a"}, plan_now=now
        )

    assert reasons(now) == []
    widened = reasons(Plan((*now.changes, Change("dsp-token", Action.DELETE)), managed_before=1))
    assert len(widened) == 1 and "computed now" in widened[0] and "dsp-token" in widened[0]
    changed = reasons(Plan((Change("a", Action.DELETE, True),), managed_before=1))
    assert "computed now" in changed[0] and "(a)" in changed[0]
    assert "computed now" in reasons(Plan((*now.changes, *now.changes), managed_before=1))[0]
    assert "managed secrets" in reasons(Plan(now.changes, managed_before=5))[0]


def test_a_seal_with_non_ascii_characters_is_just_a_broken_seal(
    devserver: Server, env_for: dict[str, str], no_change_plan: Path
) -> None:
    doc = load(no_change_plan)
    doc["targets"][0]["seal"] = "hmac-sha256:é"
    save(no_change_plan, doc)

    result = apply_plan(no_change_plan, env_for)

    assert result.code == 1 and "seal does not match" in result.err and "Traceback" not in result.err


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:2]):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


def test_any_field_replaced_by_junk_is_refused_cleanly_and_writes_nothing(
    devserver: Server, env_for: dict[str, str], no_change_plan: Path
) -> None:
    """Whatever a hand edit puts anywhere in the file: exit 1, a message, no traceback, no write."""
    original = load(no_change_plan)
    before = dict(devserver.secrets)
    checked = 0
    for path in _paths(original["targets"][0], ("targets", 0)):
        for junk in (None, 7, ["x"], "é"):
            doc = json.loads(json.dumps(original))
            parent = doc
            for step in path[:-1]:
                parent = parent[step]
            if parent[path[-1]] == junk:
                continue
            parent[path[-1]] = junk
            save(no_change_plan, doc)
            result = apply_plan(no_change_plan, env_for)
            assert result.code == 1, (path, junk, result)
            assert "Traceback" not in result.both and result.err.startswith("Error: "), (path, junk, result.err)
            checked += 1
    assert checked > 60
    assert devserver.secret_writes() == [] and devserver.secrets == before
