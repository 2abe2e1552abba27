"""End to end: the CLI against the dev-server on loopback, as a user or a CI script runs it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

from vaultsync.devserver import DevServer
from vaultsync.statecodec import unpack


@pytest.fixture
def keyed_server() -> Iterator[Server]:
    server = DevServer("127.0.0.1", 0, api_key="k")
    server.start_background()
    try:
        yield Server(server)
    finally:
        server.stop()


def gets_per_alias(server: Server) -> Counter[str]:
    return Counter(unquote(path.rsplit("/", 1)[1]) for method, path, _ in server.requests if method == "GET")


# -- invalid input costs zero requests ------------------------------------------------------------


INVALID_FILES: dict[str, Any] = {
    "nested-value": {"version": 1, "secrets": {"a": {"value": {"k": CANARY}}}},
    "raw-object": {"version": 1, "secrets": {"aws": {"accessKeyId": "AKIA", "secretAccessKey": CANARY}}},
    "reserved": {"version": 1, "secrets": {"vaultsync-state": CANARY}},
    "unset-env": {"version": 1, "secrets": {"a": {"fromEnv": "VAULTSYNC_TEST_UNSET"}}},
    "api-key": {"version": 1, "secrets": {"a": "x"}, "target": {"apiKey": CANARY}},
    "version": {"version": 2, "secrets": {"a": "x"}},
}


@pytest.mark.parametrize("name", sorted(INVALID_FILES))
@pytest.mark.parametrize("command", [["validate"], ["plan"], ["apply", "--auto-approve"]])
def test_invalid_file_makes_zero_requests_and_exits_1(
    tmp_path: Path, devserver: Server, env_for: dict[str, str], name: str, command: list[str]
) -> None:
    path = tmp_path / "desired.json"
    path.write_text(json.dumps(INVALID_FILES[name]), encoding="utf-8")
    result = run_cli(command[0], str(path), *command[1:], env=env_for)
    assert result.code == 1
    assert result.err.startswith("Error: ")
    assert f"{path}: " in result.err  # path: message
    assert CANARY not in result.both
    assert devserver.requests == []


def test_invalid_json_reports_line_and_column_and_makes_no_request(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"version": 1,\n "secrets": {"a": "x"\n', encoding="utf-8")
    for command in ("validate", "plan"):
        result = run_cli(command, str(path), env=env_for)
        assert result.code == 1
        assert f"{path}:3:1: invalid JSON" in result.err
    assert devserver.requests == []


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    one = write_desired(tmp_path / "one.json", {"a": 1, "b": ""})
    two = write_desired(tmp_path / "two.json", {"c/d": "x"})
    result = run_cli("validate", str(one), str(two))
    assert result.code == 1
    assert f"{one}: secrets.a: " in result.err
    assert f"{one}: secrets.b: " in result.err
    assert f'{two}: secrets["c/d"]: ' in result.err


def test_validate_never_touches_the_network(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    target = {"url": devserver.url, "apiKeyEnv": "VAULTSYNC_TEST_UNSET_KEY"}
    path = write_desired(tmp_path / "d.json", {"a": "x", "b": {"json": {"k": 1}}}, target=target)
    result = run_cli("validate", str(path), env=env_for)
    assert result.code == 0, result.err
    assert result.out.strip() == f"{path}: valid (2 secrets)"
    assert devserver.requests == []


def test_validate_accepts_the_schema_key_and_honours_state_alias(tmp_path: Path) -> None:
    path = write_desired(tmp_path / "d.json", {"team-state": "x"}, **{"$schema": "schemas/desired-state.schema.json"})
    assert run_cli("validate", str(path)).code == 0
    refused = run_cli("validate", str(path), "--state-alias", "team-state")
    assert refused.code == 1
    assert "reserved" in refused.err


def test_unset_api_key_env_fails_plan_before_any_request(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"}, target={"apiKeyEnv": "VAULTSYNC_TEST_UNSET_KEY"})
    result = run_cli("plan", str(path), env=env_for)
    assert result.code == 1
    assert "VAULTSYNC_TEST_UNSET_KEY is not set" in result.err
    assert devserver.requests == []


# -- plan -------------------------------------------------------------------------------------------


def test_plan_exit_codes(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    assert run_cli("plan", str(path), env=env_for).code == 0
    assert run_cli("plan", str(path), "--detailed-exitcode", env=env_for).code == 2
    assert run_cli("apply", str(path), "--auto-approve", env=env_for).code == 0
    assert run_cli("plan", str(path), "--detailed-exitcode", env=env_for).code == 0
    unreachable = run_cli(
        "plan", str(path), "--detailed-exitcode", "--max-retries", "0", "--url", "http://127.0.0.1:9/api/management"
    )
    assert unreachable.code == 1
    assert "could not connect" in unreachable.err


def test_conflict_is_a_change_and_apply_refuses_it(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    devserver.secrets["theirs"] = "set by hand"
    path = write_desired(tmp_path / "d.json", {"theirs": CANARY, "new": "x"})
    planned = run_cli("plan", str(path), "--detailed-exitcode", env=env_for)
    assert planned.code == 2
    assert "conflict" in planned.out
    devserver.reset_log()
    applied = run_cli("apply", str(path), "--auto-approve", env=env_for)
    assert applied.code == 1
    assert "conflict" in applied.err
    assert devserver.secret_writes() == []
    assert devserver.secrets["theirs"] == "set by hand"
    assert CANARY not in planned.both + applied.both


def test_adopting_an_equal_unmanaged_value_is_not_a_change(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    devserver.secrets["existing"] = '{"b": 2, "a": 1}'
    path = write_desired(tmp_path / "d.json", {"existing": {"json": {"a": 1, "b": 2}}})
    planned = run_cli("plan", str(path), "--detailed-exitcode", env=env_for)
    assert planned.code == 0
    assert "adopt" in planned.out
    devserver.reset_log()
    assert run_cli("apply", str(path), "--auto-approve", env=env_for).code == 0
    assert devserver.secret_writes() == []  # state only, the secret is not rewritten
    assert run_cli("state", "list", str(path), env=env_for).out.split() == ["existing"]


def test_text_plan_shows_actions_and_the_summary_line(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    first = write_desired(tmp_path / "d.json", {"keep": "k", "change": "old", "drop": "d"})
    assert run_cli("apply", str(first), "--auto-approve", env=env_for).code == 0
    second = write_desired(tmp_path / "d.json", {"keep": "k", "change": "new", "add": "a"})
    result = run_cli("plan", str(second), env=env_for)
    assert result.code == 0
    lines = result.out.splitlines()
    assert "Plan: 1 to create, 1 to update, 1 to delete, 1 unchanged." in lines
    assert any(line.split()[:3] == ["+", "create", "add"] for line in lines)
    assert any(line.split()[:3] == ["~", "update", "change"] for line in lines)
    assert any(line.split()[:3] == ["-", "delete", "drop"] for line in lines)
    assert not any("keep" in line for line in lines)  # unchanged aliases are not listed by default
    assert "(sensitive value)" in result.out


def test_json_plan_matches_the_spec_document(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    devserver.secrets.update({"same": "s", "other": "theirs"})
    first = write_desired(tmp_path / "d.json", {"upd": "old", "gone": "g"})
    assert run_cli("apply", str(first), "--auto-approve", env=env_for).code == 0
    path = write_desired(tmp_path / "d.json", {"new": "n", "upd": "new", "same": "s", "other": "mine"})
    result = run_cli("plan", str(path), "--format", "json", "-v", env=env_for)
    assert result.code == 0
    doc = json.loads(result.out)  # exactly one document on stdout; the -v request log goes to stderr
    assert "GET " in result.err
    assert doc["format_version"] == "1"
    actions = {c["alias"]: c["action"] for c in doc["changes"]}
    assert actions == {"new": "create", "upd": "update", "gone": "delete", "same": "no-op", "other": "conflict"}
    assert all(set(c) >= {"alias", "action"} for c in doc["changes"])
    assert doc["summary"] == {"create": 1, "update": 1, "delete": 1, "conflict": 1, "unchanged": 1}


def test_json_plan_exit_code_follows_detailed_exitcode(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("plan", str(path), "--format", "json", "--detailed-exitcode", env=env_for)
    assert result.code == 2
    assert json.loads(result.out)["summary"]["create"] == 1


def test_plan_reads_each_alias_at_most_once(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    first = write_desired(tmp_path / "d.json", {f"s{i:02}": f"v{i}" for i in range(30)})
    assert run_cli("apply", str(first), "--auto-approve", env=env_for).code == 0
    # 10 kept, 10 changed, 10 dropped (managed, read once), 10 new
    desired = {f"s{i:02}": f"v{i}" for i in range(10)} | {f"s{i:02}": f"new{i}" for i in range(10, 20)}
    desired |= {f"n{i:02}": "x" for i in range(10)}
    path = write_desired(tmp_path / "d.json", desired)
    devserver.reset_log()
    result = run_cli("plan", str(path), "--parallelism", "4", env=env_for)
    assert result.code == 0, result.err
    counts = gets_per_alias(devserver)
    assert set(counts) == set(desired) | {f"s{i:02}" for i in range(20, 30)} | {"vaultsync-state"}
    assert max(counts.values()) == 1
    assert [r for r in devserver.requests if r[0] != "GET"] == []  # plan never writes


# -- apply ------------------------------------------------------------------------------------------


def test_apply_refuses_without_approval_when_stdin_is_not_a_terminal(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("apply", str(path), env=env_for, stdin="yes\n")
    assert result.code == 1
    assert "--auto-approve" in result.err
    assert devserver.writes() == []
    assert devserver.secrets == {}


def test_apply_makes_exactly_one_write_per_change(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    first = write_desired(tmp_path / "d.json", {"keep": "k", "u1": "old", "u2": "old", "drop": "d"})
    assert run_cli("apply", str(first), "--auto-approve", env=env_for).code == 0
    assert sorted(devserver.secret_writes()) == [("POST", "drop"), ("POST", "keep"), ("POST", "u1"), ("POST", "u2")]
    path = write_desired(tmp_path / "d.json", {"keep": "k", "u1": "new", "u2": "new", "c1": "x", "c2": "y", "c3": "z"})
    devserver.reset_log()
    result = run_cli("apply", str(path), "--auto-approve", env=env_for)
    assert result.code == 0, result.err
    assert sorted(devserver.secret_writes()) == [
        ("DELETE", "drop"),
        ("POST", "c1"),
        ("POST", "c2"),
        ("POST", "c3"),
        ("PUT", "u1"),
        ("PUT", "u2"),
    ]
    assert max(gets_per_alias(devserver)[a] for a in ("keep", "u1", "c1", "drop")) == 1
    assert {a: v for a, v in devserver.secrets.items() if not a.startswith("vaultsync-")} == {
        "keep": "k",
        "u1": "new",
        "u2": "new",
        "c1": "x",
        "c2": "y",
        "c3": "z",
    }
    assert "Apply complete" in result.out
    assert "vaultsync-lock" not in devserver.secrets  # the lock is released


def test_plan_apply_plan_shows_no_changes(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    (tmp_path / "tls.pem").write_text("-----BEGIN-----\nabc\n-----END-----\n", encoding="utf-8")
    path = write_desired(
        tmp_path / "d.json",
        {
            "plain": "p",
            "env": {"fromEnv": "VAULTSYNC_TEST_VALUE"},
            "file": {"fromFile": "tls.pem"},
            "doc": {"json": {"z": [1, {"y": True}], "a": None}},
            "ü:ñ": "unicode alias",
        },
    )
    env = env_for | {"VAULTSYNC_TEST_VALUE": "from env"}
    assert run_cli("plan", str(path), "--detailed-exitcode", env=env).code == 2
    applied = run_cli("apply", str(path), "--auto-approve", env=env)
    assert applied.code == 0, applied.err
    devserver.reset_log()
    again = run_cli("plan", str(path), "--detailed-exitcode", env=env)
    assert again.code == 0, again.err
    assert "No changes" in again.out
    assert "Plan: 0 to create, 0 to update, 0 to delete, 5 unchanged." in again.out
    assert devserver.writes() == []
    devserver.reset_log()
    second_apply = run_cli("apply", str(path), "--auto-approve", env=env)
    assert second_apply.code == 0
    assert devserver.secret_writes() == []


# -- usage errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--no-such-flag", "d.json"],
        ["plan"],
        ["apply"],
        ["validate"],
        ["plan", "d.json", "--format", "yaml"],
        ["plan", "d.json", "--format"],
        ["plan", "d.json", "--api-version", "v5"],
        ["plan", "d.json", "--parallelism", "0"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_1_not_2(args: list[str], devserver: Server, env_for: dict[str, str]) -> None:
    result = run_cli(*args, env=env_for)
    assert result.code == 1
    assert "Error" in result.err
    assert result.out == ""
    assert devserver.requests == []


def test_help_and_version_exit_0() -> None:
    assert run_cli("--help").code == 0
    assert run_cli("plan", "--help").code == 0
    version = run_cli("--version")
    assert version.code == 0
    assert version.out.startswith("vaultsync ")


# -- API versions and keys --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "env"])
def test_v4_is_used_end_to_end(tmp_path: Path, devserver: Server, env_for: dict[str, str], how: str) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x", "b": {"json": {"k": "v"}}})
    extra = ["--api-version", "v4"] if how == "flag" else []
    env = env_for | ({"EDC_API_VERSION": "v4"} if how == "env" else {})
    result = run_cli("apply", str(path), "--auto-approve", *extra, env=env)
    assert result.code == 0, result.err
    assert "(v4)" in result.out
    assert devserver.requests
    assert all("/api/management/v4/secrets" in p for _, p, _ in devserver.requests)
    assert devserver.secrets["b"] == '{"k":"v"}'
    assert run_cli("plan", str(path), "--detailed-exitcode", *extra, env=env).code == 0


@pytest.mark.parametrize("content", [b"k\n", b"k", b"k\r\n"], ids=["newline", "none", "crlf"])
def test_api_key_file_with_trailing_newline_is_accepted(tmp_path: Path, keyed_server: Server, content: bytes) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(content)
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    args = ["--url", keyed_server.url, "--api-key-file", str(key_file)]
    result = run_cli("apply", str(path), "--auto-approve", *args)
    assert result.code == 0, result.err
    assert keyed_server.secrets["a"] == "x"
    assert all(status != 401 for _, _, status in keyed_server.requests)


def test_api_key_from_the_environment(tmp_path: Path, keyed_server: Server) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("plan", str(path), env={"EDC_MANAGEMENT_URL": keyed_server.url, "EDC_API_KEY": "k"})
    assert result.code == 0, result.err


def test_target_in_the_file_with_api_key_env(tmp_path: Path, keyed_server: Server) -> None:
    target = {"url": keyed_server.url, "apiVersion": "v4", "apiKeyEnv": "PROVIDER_KEY"}
    path = write_desired(tmp_path / "d.json", {"a": "x"}, target=target)
    result = run_cli("apply", str(path), "--auto-approve", env={"PROVIDER_KEY": "k"})
    assert result.code == 0, result.err
    assert keyed_server.secrets["a"] == "x"
    assert all("/v4/" in p for _, p, _ in keyed_server.requests)


def test_flags_override_the_environment(tmp_path: Path, devserver: Server) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    env = {"EDC_MANAGEMENT_URL": "http://127.0.0.1:9/wrong", "EDC_API_VERSION": "v3"}
    result = run_cli("plan", str(path), "--url", devserver.url, "--api-version", "v4", env=env)
    assert result.code == 0, result.err
    assert {p.split("/")[3] for _, p, _ in devserver.requests} == {"v4"}


def test_bad_api_version_in_the_environment_is_refused_before_any_request(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("plan", str(path), env=env_for | {"EDC_API_VERSION": "v5"})
    assert result.code == 1
    assert "API version must be auto, v3, v4beta or v4" in result.err
    assert devserver.requests == []


def test_wrong_api_key_exits_1_saying_the_key_was_refused(tmp_path: Path, keyed_server: Server) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("not-the-key\n", encoding="utf-8")
    path = write_desired(tmp_path / "d.json", {"a": CANARY})
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run_cli(
            command[0], str(path), *command[1:], "--url", keyed_server.url, "--api-key-file", str(key_file)
        )
        assert result.code == 1
        assert "API key was refused" in result.err
        assert "not-the-key" not in result.both
        assert CANARY not in result.both
    assert keyed_server.secrets == {}


def test_missing_api_key_says_none_was_given(tmp_path: Path, keyed_server: Server) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("plan", str(path), env={"EDC_MANAGEMENT_URL": keyed_server.url, "EDC_API_KEY": ""})
    assert result.code == 1
    assert "none was given" in result.err


# -- the canary never leaks -------------------------------------------------------------------------


def canary_file(tmp_path: Path, **extra: Any) -> Path:
    (tmp_path / "canary.pem").write_text(f"-----BEGIN-----\n{CANARY}\n-----END-----\n", encoding="utf-8")
    secrets: dict[str, Any] = {
        "literal": CANARY,
        "as-value": {"value": CANARY, "description": "the canary"},
        "from-env": {"fromEnv": "VAULTSYNC_CANARY"},
        "from-file": {"fromFile": "canary.pem"},
        "in-json": {"json": {"accessKeyId": "AKIA", "secretAccessKey": CANARY, "nested": [CANARY]}},
    }
    return write_desired(tmp_path / "d.json", secrets | extra)


def assert_no_canary(results: list[Result], tmp_path: Path) -> None:
    for result in results:
        assert CANARY not in result.both, result
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name not in ("d.json", "canary.pem"):
            assert CANARY.encode() not in path.read_bytes(), path


def test_canary_never_appears_in_any_output(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    path = canary_file(tmp_path)
    env = env_for | {"VAULTSYNC_CANARY": CANARY}
    results = [run_cli("validate", str(path), "-v", env=env)]
    for fmt in ("text", "json", "markdown"):
        results.append(run_cli("plan", str(path), "--format", fmt, "-v", "--show-unchanged", env=env))
    results.append(run_cli("plan", str(path), "--out", str(tmp_path / "saved.plan"), env=env))
    results.append(run_cli("apply", str(path), "--auto-approve", "-v", env=env))
    assert results[-1].code == 0, results[-1].err
    # every alias now holds the canary: update them all, with a different canary-bearing value in the vault
    for alias in list(devserver.secrets):
        if not alias.startswith("vaultsync-"):
            devserver.secrets[alias] = devserver.secrets[alias].replace(CANARY, CANARY + "-old")
    for fmt in ("text", "json", "markdown"):
        results.append(run_cli("plan", str(path), "--format", fmt, "-v", env=env))
    results.append(run_cli("drift", str(path), "-v", env=env))
    results.append(run_cli("apply", str(path), "--auto-approve", "-v", env=env))
    assert results[-1].code == 0, results[-1].err
    results.append(run_cli("plan", str(path), "--detailed-exitcode", "--show-unchanged", "-v", env=env))
    assert results[-1].code == 0
    assert "(sensitive value)" in results[1].out
    assert any("GET /api/management/v3/secrets/literal 200" in r.err for r in results)  # -v really logged
    assert_no_canary(results, tmp_path)
    assert CANARY not in unpack(devserver.secrets["vaultsync-state"], {}, "state")


def test_canary_never_appears_in_conflicts_or_errors(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    devserver.secrets["literal"] = CANARY + "-by-hand"
    path = canary_file(tmp_path)
    env = env_for | {"VAULTSYNC_CANARY": CANARY}
    results = [run_cli("plan", str(path), "--format", fmt, "-v", env=env) for fmt in ("text", "json", "markdown")]
    results.append(run_cli("apply", str(path), "--auto-approve", "-v", env=env))
    assert results[-1].code == 1
    broken = canary_file(tmp_path, bad={"value": {"k": CANARY}})
    results += [run_cli(cmd, str(broken), "-v", env=env) for cmd in ("validate", "plan")]
    assert all(r.code == 1 for r in results[-2:])
    assert_no_canary(results, tmp_path)
