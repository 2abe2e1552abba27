"""`vaultsync init`: a starter desired-state file from a running connector, never a value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CANARY, Server, run_cli
from test_references import NS, add_asset

from vaultsync.devserver import Fault
from vaultsync.starter import variable_name


def test_variable_names_are_derived_and_never_collide() -> None:
    assert variable_name("aws-s3.creds") == "AWS_S3_CREDS"
    assert variable_name("9lives") == "_9LIVES"
    assert variable_name("a-b", taken={"A_B"}) == "A_B_2"
    assert variable_name("---") == "SECRET"


def test_init_writes_fromenv_placeholders_for_referenced_secrets_that_exist(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    devserver.secrets.update({"aws-creds": CANARY + "-s3", "http.token": CANARY + "-http", "unreferenced": CANARY})
    add_asset(devserver, "s3-orders", {"type": "AmazonS3", "keyName": "aws-creds"})
    add_asset(devserver, "s3-invoices", {"type": "AmazonS3", "keyName": "aws-creds"})
    add_asset(devserver, "api", {"type": "HttpData", NS + "secretName": "http.token", "oauth2:clientSecretKey": "gone"})
    out = tmp_path / "vaultsync.json"
    result = run_cli("init", "--out", str(out), env=env_for)
    assert result.code == 0, result.err
    text = out.read_text()
    assert CANARY not in result.both + text  # never a value
    doc = json.loads(text)
    assert doc["version"] == 1
    assert doc["target"] == {"url": devserver.url, "apiVersion": "v3"}
    assert doc["secrets"] == {
        "aws-creds": {
            "fromEnv": "AWS_CREDS",
            "description": "used by asset s3-invoices (keyName), asset s3-orders (keyName)",
        },
        "http.token": {"fromEnv": "HTTP_TOKEN", "description": "used by asset api (secretName)"},
    }
    assert "gone" in result.err and "not in the vault" in result.err  # a dangling reference is said, not written
    assert run_cli("validate", "--skip-env", str(out)).code == 0


def test_applying_the_starter_adopts_without_writing_when_the_values_match(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    devserver.secrets.update({"aws-creds": CANARY + "-s3", "token": CANARY + "-t"})
    add_asset(devserver, "s3", {"type": "AmazonS3", "keyName": "aws-creds"})
    add_asset(devserver, "api", {"type": "HttpData", "secretName": "token"})
    out = tmp_path / "vaultsync.json"
    assert run_cli("init", "--out", str(out), env=env_for).code == 0
    env = env_for | {"AWS_CREDS": CANARY + "-s3", "TOKEN": CANARY + "-t"}
    devserver.reset_log()
    plan = run_cli("plan", str(out), "--detailed-exitcode", env=env)
    assert plan.code == 0, plan.err  # adoption is not a change
    assert plan.out.count("adopt") >= 2
    applied = run_cli("apply", str(out), "--auto-approve", env=env)
    assert applied.code == 0, applied.err
    assert devserver.secret_writes() == []  # adopted into state, no secret written
    listed = run_cli("state", "list", str(out), env=env)
    assert listed.out.split() == ["aws-creds", "token"]
    assert CANARY not in plan.both + applied.both + listed.both


def test_init_never_overwrites_and_sends_nothing_then(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    out = tmp_path / "vaultsync.json"
    out.write_text("mine")
    result = run_cli("init", "--out", str(out), env=env_for)
    assert result.code == 1 and "already exists" in result.err
    assert out.read_text() == "mine"
    assert devserver.server.requests == []


def test_init_default_out_is_vaultsync_json_in_the_working_directory(
    tmp_path: Path, devserver: Server, env_for: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", env=env_for).code == 0
    assert json.loads((tmp_path / "vaultsync.json").read_text())["secrets"] == {}
    assert run_cli("init", env=env_for).code == 1


def test_without_the_assets_api_init_says_so_and_writes_a_skeleton(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    devserver.server.faults.add(Fault(404, method="POST", body="<html>Not Found</html>", content_type="text/html"))
    out = tmp_path / "starter.json"
    result = run_cli("init", "--out", str(out), env=env_for)
    assert result.code == 0
    assert "skeleton" in result.out and "does not serve" in result.err
    assert json.loads(out.read_text()) == {
        "version": 1,
        "target": {"url": devserver.url, "apiVersion": "v3"},
        "secrets": {},
    }


def test_init_needs_a_url(tmp_path: Path) -> None:
    result = run_cli("init", "--out", str(tmp_path / "x.json"), env={"EDC_MANAGEMENT_URL": ""})
    assert result.code == 1 and "URL" in result.err
    assert not (tmp_path / "x.json").exists()
