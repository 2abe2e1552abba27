"""`echo secret > token.txt` stores `secret\\n`: warned about in validate and plan, stripped on request.

A value with a trailing newline is the classic cause of OAuth `invalid_client`. The warning names the
alias and the file or variable, never the value; `"stripNewline": true` drops one `\\n` or `\\r\\n`,
`"stripNewline": false` keeps it on purpose and silences the warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY, Server, run_cli, write_desired
from jsonschema import Draft202012Validator

from vaultsync import desired
from vaultsync.desired import schema_check
from vaultsync.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text("utf-8"))


def token_file(tmp_path: Path, content: str, name: str = "token.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode())
    return path


# -- the warning ---------------------------------------------------------------------------------------------


def test_validate_warns_about_a_file_ending_with_a_newline_naming_alias_and_file(tmp_path: Path) -> None:
    token_file(tmp_path, f"{CANARY}\n")
    file = write_desired(tmp_path / "d.json", {"oauth-client": {"fromFile": "token.txt"}})
    result = run_cli("validate", str(file))
    assert result.code == 0, result  # a warning, not an error
    assert "valid (1 secret)" in result.out
    assert f"Warning: {file}: secrets.oauth-client.fromFile: " in result.err
    assert '"token.txt" ends with a newline' in result.err
    assert '"stripNewline": true' in result.err
    assert CANARY not in result.both


def test_validate_warns_about_an_environment_variable_ending_with_a_newline(tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"oauth-client": {"fromEnv": "CLIENT_SECRET"}})
    result = run_cli("validate", str(file), env={"CLIENT_SECRET": f"{CANARY}\r\n"})
    assert result.code == 0, result
    assert "secrets.oauth-client.fromEnv: environment variable CLIENT_SECRET ends with a newline" in result.err
    assert CANARY not in result.both


@pytest.mark.parametrize("content", [CANARY, f"{CANARY}\r", f"{CANARY}\n  x"])
def test_no_warning_without_a_trailing_newline(tmp_path: Path, content: str) -> None:
    token_file(tmp_path, content)
    file = write_desired(tmp_path / "d.json", {"a": {"fromFile": "token.txt"}, "b": "literal\n"})
    result = run_cli("validate", str(file))
    assert result.code == 0
    assert "Warning" not in result.err


def test_plan_warns_on_stderr_and_in_the_json_plan(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    token_file(tmp_path, f"{CANARY}\n")
    file = write_desired(
        tmp_path / "d.json", {"oauth-client": {"fromFile": "token.txt"}, "plain": {"value": "no newline"}}
    )
    text = run_cli("plan", str(file), "-v", env=env_for)
    assert text.code == 0, text
    assert '"token.txt" ends with a newline' in text.err
    assert "Warning" not in text.out

    result = run_cli("plan", str(file), "--format", "json", env=env_for)
    assert result.code == 0, result
    doc = json.loads(result.out)
    assert doc["warnings"] == [
        {
            "kind": "newline",
            "alias": "oauth-client",
            "asset": None,
            "property": None,
            "message": doc["warnings"][0]["message"],
        }
    ]
    assert '"token.txt" ends with a newline' in doc["warnings"][0]["message"]
    assert any("ends with a newline" in w for w in doc["targets"][0]["warnings"])
    assert not list(Draft202012Validator(PLAN_SCHEMA).iter_errors(doc))
    assert CANARY not in result.out + result.err


def test_apply_shows_the_warning_before_writing(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    file = write_desired(tmp_path / "d.json", {"oauth-client": {"fromEnv": "CLIENT_SECRET"}})
    result = run_cli("apply", str(file), "--auto-approve", env={**env_for, "CLIENT_SECRET": f"{CANARY}\n"})
    assert result.code == 0, result
    assert "CLIENT_SECRET ends with a newline" in result.err
    assert devserver.secrets["oauth-client"] == f"{CANARY}\n"  # without stripNewline the value is exact
    assert CANARY not in result.both


def test_thousands_of_such_values_do_not_flood_the_terminal(tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {f"a{i:04}": {"fromEnv": "CLIENT_SECRET"} for i in range(2000)})
    result = run_cli("validate", str(file), env={"CLIENT_SECRET": f"{CANARY}\n"})
    assert result.code == 0
    lines = result.err.splitlines()
    assert len(lines) == 11, result.err
    assert "a0000" in lines[0]
    assert "1990 more warnings (newline) for a0010, a0011" in lines[-1]
    assert CANARY not in result.err


# -- stripNewline ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "stored"),
    [
        (f"{CANARY}\n", CANARY),
        (f"{CANARY}\r\n", CANARY),
        (CANARY, CANARY),  # nothing to strip: unchanged
    ],
    ids=["lf", "crlf", "none"],
)
def test_strip_newline_true_stores_the_value_without_it(
    tmp_path: Path, devserver: Server, env_for: dict[str, str], content: str, stored: str
) -> None:
    token_file(tmp_path, content)
    file = write_desired(
        tmp_path / "d.json",
        {
            "from-file": {"fromFile": "token.txt", "stripNewline": True},
            "from-env": {"fromEnv": "CLIENT_SECRET", "stripNewline": True},
        },
    )
    env = {**env_for, "CLIENT_SECRET": content}
    result = run_cli("apply", str(file), "--auto-approve", env=env)
    assert result.code == 0, result
    assert "Warning" not in result.err
    assert devserver.secrets["from-file"] == stored
    assert devserver.secrets["from-env"] == stored
    assert run_cli("plan", str(file), "--detailed-exitcode", env=env).code == 0  # converged


def test_strip_newline_strips_only_one(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    token_file(tmp_path, f"{CANARY}\n\n")
    file = write_desired(tmp_path / "d.json", {"a": {"fromFile": "token.txt", "stripNewline": True}})
    result = run_cli("apply", str(file), "--auto-approve", env=env_for)
    assert result.code == 0, result
    assert devserver.secrets["a"] == f"{CANARY}\n"
    assert "still ends with a newline after stripping one" in result.err
    assert CANARY not in result.both


def test_strip_newline_false_keeps_it_and_silences_the_warning(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    token_file(tmp_path, "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", "key.pem")
    file = write_desired(tmp_path / "d.json", {"tls-key": {"fromFile": "key.pem", "stripNewline": False}})
    result = run_cli("apply", str(file), "--auto-approve", env=env_for)
    assert result.code == 0, result
    assert "Warning" not in result.err
    assert devserver.secrets["tls-key"].endswith("-----END KEY-----\n")


def test_a_saved_plan_with_strip_newline_applies_without_being_stale(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    token_file(tmp_path, f"{CANARY}\n")
    file = write_desired(tmp_path / "d.json", {"a": {"fromFile": "token.txt", "stripNewline": True}})
    planfile = tmp_path / "plan.vsplan"
    assert run_cli("plan", str(file), "--out", str(planfile), env=env_for).code == 0
    result = run_cli("apply", str(planfile), env=env_for)
    assert result.code == 0, result
    assert devserver.secrets["a"] == CANARY
    assert CANARY not in planfile.read_text()


# -- stripNewline in the wrong place ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"value": "x", "stripNewline": True}, 'secrets.a: "stripNewline" goes beside "fromFile" or "fromEnv" only'),
        ({"json": {"k": 1}, "stripNewline": True}, 'secrets.a: "stripNewline" goes beside "fromFile" or "fromEnv"'),
        ({"fromEnv": "SET", "stripNewline": "yes"}, "secrets.a.stripNewline: must be true or false"),
        ({"fromEnv": "SET", "stripNewline": 1}, "secrets.a.stripNewline: must be true or false"),
    ],
)
def test_strip_newline_in_the_wrong_place_is_refused_without_a_request(
    tmp_path: Path, devserver: Server, env_for: dict[str, str], entry: dict[str, Any], message: str
) -> None:
    file = write_desired(tmp_path / "d.json", {"a": entry})
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = run_cli(command[0], str(file), *command[1:], env={**env_for, "SET": "v"})
        assert result.code == 1, result
        assert f"{file}: {message}" in result.err
        assert "Traceback" not in result.err
    assert devserver.requests == []


@pytest.mark.parametrize(
    "entry",
    [
        {"fromFile": "token.txt", "stripNewline": True},
        {"fromEnv": "SET", "stripNewline": False, "description": "d"},
        {"value": "x", "stripNewline": True},
        {"json": 1, "stripNewline": False},
        {"fromEnv": "SET", "stripNewline": None},
        {"fromEnv": "SET", "stripNewline": 0},
        {"stripNewline": True},
        {"fromFile": "token.txt", "fromEnv": "SET", "stripNewline": True},
    ],
)
def test_the_fast_path_agrees_with_the_schema_on_strip_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: dict[str, Any]
) -> None:
    token_file(tmp_path, "v\n")
    data = json.dumps({"version": 1, "secrets": {"a": entry, "b": "plain"}}).encode()

    def problems(fast: bool) -> list[str]:
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(schema_check, "_fast_checks", lambda: None)
            try:
                state = desired.parse_desired(
                    "f.json", data, env={"SET": "x"}, reserved=("vaultsync-state",), base_dir=tmp_path
                )
            except InputError as exc:
                return [str(p) for p in exc.problems]
        return [f"valid: {sorted(state.secrets)}"]

    assert problems(fast=True) == problems(fast=False)


def test_the_schema_documents_strip_newline_for_editors() -> None:
    entry = json.loads((ROOT / "schemas" / "desired-state.schema.json").read_text())["$defs"]["entry"]
    prop = entry["properties"]["stripNewline"]
    assert prop["type"] == "boolean"
    assert "fromFile" in prop["description"] and "newline" in prop["description"]
    assert prop["title"]
