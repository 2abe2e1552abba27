"""fromSops entries and sops-encrypted desired-state files, with the real sops and age programs."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired
from sops_tools import Sops, require_sops

from vaultsync.statecodec import unpack

S3 = {"accessKeyId": "AKIA-TEST", "secretAccessKey": CANARY + "-s3"}
SECRETS = {"oauth": {"clientSecret": CANARY + "-oauth", "a/b~c": CANARY + "-escaped"}, "s3": S3, "port": 8080}


@pytest.fixture
def kit(tmp_path: Path) -> Sops:
    return Sops(require_sops(), tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    return folder


def cli(kit: Sops, server: Server, *args: str, key: bool = True, **env: str) -> Result:
    return run_cli(*args, "--no-color", env={**kit.env(key=key), "EDC_MANAGEMENT_URL": server.url, **env})


def test_from_sops_reads_strings_by_pointer_and_json_documents_then_plans_no_changes(
    kit: Sops, repo: Path, devserver: Server
) -> None:
    kit.encrypt(repo / "secrets.sops.json", SECRETS)
    desired = write_desired(
        repo / "desired.json",
        {
            "oauth-client-secret": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/clientSecret"}},
            "escaped": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/a~1b~0c"}},
            "aws-s3": {"fromSops": {"file": "secrets.sops.json", "path": "/s3", "json": True}},
            "whole": {"fromSops": {"file": "secrets.sops.json", "json": True}},
        },
    )
    applied = cli(kit, devserver, "apply", str(desired), "--auto-approve")
    assert applied.code == 0, applied.err
    assert devserver.secrets["oauth-client-secret"] == CANARY + "-oauth"
    assert devserver.secrets["escaped"] == CANARY + "-escaped"
    assert json.loads(devserver.secrets["aws-s3"]) == S3
    assert devserver.secrets["aws-s3"] == json.dumps(S3, sort_keys=True, separators=(",", ":"))
    assert json.loads(devserver.secrets["whole"]) == SECRETS
    assert CANARY not in applied.both

    # Re-encrypted with other formatting and key order: JSON-equal, so nothing to do.
    kit.encrypt(repo / "secrets.sops.json", {"s3": dict(reversed(S3.items())), **SECRETS})
    again = cli(kit, devserver, "plan", str(desired), "--detailed-exitcode")
    assert again.code == 0, again.both
    assert "No changes" in again.out


def test_yaml_and_dotenv_sops_files_are_read_too(kit: Sops, repo: Path, devserver: Server) -> None:
    kit.encrypt(repo / "secrets.sops.yaml", f"oauth:\n  clientSecret: {CANARY}-yaml\n", kind="yaml")
    kit.encrypt(repo / "db.sops.env", f"DB_PASSWORD={CANARY}-env\n", kind="dotenv")
    desired = write_desired(
        repo / "desired.json",
        {
            "from-yaml": {"fromSops": {"file": "secrets.sops.yaml", "path": "/oauth/clientSecret"}},
            "from-env-file": {"fromSops": {"file": "db.sops.env", "path": "/DB_PASSWORD"}},
        },
    )
    result = cli(kit, devserver, "apply", str(desired), "--auto-approve")
    assert result.code == 0, result.err
    assert devserver.secrets["from-yaml"] == CANARY + "-yaml"
    assert devserver.secrets["from-env-file"] == CANARY + "-env"


def test_an_encrypted_desired_file_keeps_aliases_readable_and_applies(kit: Sops, repo: Path, devserver: Server) -> None:
    desired = kit.encrypt(
        repo / "desired.json",
        {
            "version": 1,
            "secrets": {
                "db-password": {"value": CANARY + "-db", "description": "readable in review"},
                "aws-s3": {"json": S3},
            },
        },
        regex="^(value|json)$",
    )
    text = desired.read_text()
    assert "db-password" in text and "readable in review" in text
    assert CANARY not in text

    valid = cli(kit, devserver, "validate", str(desired))
    assert valid.code == 0, valid.err
    assert "valid (2 secrets)" in valid.out
    plan = cli(kit, devserver, "plan", str(desired), "--format", "json")
    assert plan.code == 0, plan.err
    assert {c["alias"]: c["action"] for c in json.loads(plan.out)["targets"][0]["changes"]} == {
        "aws-s3": "create",
        "db-password": "create",
    }
    applied = cli(kit, devserver, "apply", str(desired), "--auto-approve")
    assert applied.code == 0, applied.err
    assert devserver.secrets["db-password"] == CANARY + "-db"
    assert json.loads(devserver.secrets["aws-s3"]) == S3


def test_each_sops_file_is_decrypted_once_per_run(kit: Sops, repo: Path, devserver: Server) -> None:
    log = repo.parent / "sops-calls.log"
    wrapper = repo.parent / "sops-wrapper"
    wrapper.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        f"open({str(log)!r}, 'a').write('call\\n')\n"
        f"os.execv({str(kit.bin / 'sops')!r}, [{str(kit.bin / 'sops')!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    kit.encrypt(repo / "secrets.sops.json", SECRETS)
    desired = kit.encrypt(
        repo / "desired.json",
        {
            "version": 1,
            "secrets": {
                "a": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/clientSecret"}},
                "b": {"fromSops": {"file": "./secrets.sops.json", "path": "/s3", "json": True}},
                "c": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/a~1b~0c"}},
            },
        },
        regex="^(value|json)$",
    )
    result = cli(kit, devserver, "plan", str(desired), VAULTSYNC_SOPS=str(wrapper))
    assert result.code == 0, result.err
    assert log.read_text().count("call") == 2  # the desired file once, secrets.sops.json once


def test_every_unreadable_source_is_reported_in_one_run_with_zero_requests(
    kit: Sops, repo: Path, devserver: Server
) -> None:
    kit.encrypt(repo / "secrets.sops.json", SECRETS)
    tampered = json.loads((repo / "secrets.sops.json").read_text())
    tampered["oauth"]["renamed"] = tampered["oauth"].pop("clientSecret")
    (repo / "tampered.sops.json").write_text(json.dumps(tampered))
    (repo / "plain.json").write_text(json.dumps({"not": "encrypted"}))
    (repo.parent / "outside.sops.json").write_bytes((repo / "secrets.sops.json").read_bytes())
    (repo / "link.sops.json").symlink_to(repo.parent / "outside.sops.json")
    desired = write_desired(
        repo / "desired.json",
        {
            "no-pointer": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/nope"}},
            "not-a-string": {"fromSops": {"file": "secrets.sops.json", "path": "/s3"}},
            "a-number": {"fromSops": {"file": "secrets.sops.json", "path": "/port"}},
            "bad-index": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/clientSecret/0"}},
            "missing-file": {"fromSops": {"file": "gone.sops.json"}},
            "tampered": {"fromSops": {"file": "tampered.sops.json", "path": "/oauth/renamed"}},
            "not-sops": {"fromSops": {"file": "plain.json", "path": "/not"}},
            "escapes": {"fromSops": {"file": "../outside.sops.json", "path": "/oauth/clientSecret"}},
            "symlink-out": {"fromSops": {"file": "link.sops.json", "path": "/oauth/clientSecret"}},
            "bad-form": {"fromSops": {"file": "secrets.sops.json", "path": "no-slash", "extra": 1}},
        },
    )
    result = cli(kit, devserver, "plan", str(desired))
    assert result.code == 1
    assert devserver.requests == []
    assert "Traceback" not in result.err
    assert CANARY not in result.both
    lines = {
        line.split(": secrets.", 1)[1].split(":", 1)[0]: line
        for line in result.err.splitlines()
        if ": secrets." in line
    }
    assert str(desired) in result.err
    assert '"/oauth/nope" is not there: no key "nope" at "/oauth"' in lines["no-pointer.fromSops"]
    assert 'is an object, not a string; add "json": true' in lines["not-a-string.fromSops"]
    assert "is a number, not a string" in lines["a-number.fromSops"]
    assert "holds a string, not an object" in lines["bad-index.fromSops"]
    assert '"gone.sops.json" does not exist' in lines["missing-file.fromSops"]
    assert "tampered.sops.json" in lines["tampered.fromSops"] and "does not decrypt" in lines["tampered.fromSops"]
    assert "not encrypted with sops" in lines["not-sops.fromSops"]
    assert "outside the desired-state file's folder" in lines["escapes.fromSops"]
    assert "outside the desired-state file's folder" in lines["symlink-out.fromSops"]
    assert "bad-form.fromSops" in result.err


def test_without_the_key_plan_and_validate_fail_clearly_with_zero_requests(
    kit: Sops, repo: Path, devserver: Server
) -> None:
    kit.encrypt(repo / "secrets.sops.json", SECRETS)
    write_desired(repo / "uses.json", {"a": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/clientSecret"}}})
    kit.encrypt(repo / "encrypted.json", {"version": 1, "secrets": {"b": {"value": CANARY}}}, regex="^value$")
    for command in ("plan", "validate"):
        result = cli(kit, devserver, command, str(repo / "uses.json"), str(repo / "encrypted.json"), key=False)
        assert result.code == 1, result.out
        assert f'{repo / "uses.json"}: secrets.a.fromSops: cannot decrypt "secrets.sops.json"' in result.err
        assert f"{repo / 'encrypted.json'}: the file is encrypted with sops, and no key" in result.err
        assert "SOPS_AGE_KEY_FILE" in result.err
        assert CANARY not in result.both
    assert devserver.requests == []


def test_a_missing_sops_program_is_named(kit: Sops, repo: Path, devserver: Server, tmp_path: Path) -> None:
    kit.encrypt(repo / "encrypted.json", {"version": 1, "secrets": {"b": {"value": CANARY}}}, regex="^value$")
    write_desired(repo / "uses.json", {"a": {"fromSops": {"file": "encrypted.json", "path": "/secrets/b/value"}}})
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = cli(kit, devserver, "plan", str(repo / "uses.json"), str(repo / "encrypted.json"), PATH=str(empty))
    assert result.code == 1
    assert "sops program is not installed (not on PATH)" in result.err
    assert result.err.count("VAULTSYNC_SOPS") == 2
    given = cli(kit, devserver, "plan", str(repo / "uses.json"), VAULTSYNC_SOPS=str(tmp_path / "nope"))
    assert given.code == 1
    assert "VAULTSYNC_SOPS=" in given.err and "is not an executable file" in given.err
    assert devserver.requests == []


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("state_file", [False, True], ids=["state-in-vault", "state-file"])
def test_decrypted_values_never_leak_to_output_plans_state_or_files(
    kit: Sops, repo: Path, devserver: Server, tmp_path: Path, state_file: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit.encrypt(repo / "secrets.sops.json", SECRETS)
    desired = kit.encrypt(
        repo / "desired.json",
        {
            "version": 1,
            "secrets": {
                "inline": {"value": CANARY + "-inline"},
                "oauth": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/clientSecret"}},
                "s3": {"fromSops": {"file": "secrets.sops.json", "path": "/s3", "json": True}},
            },
        },
        regex="^(value|json)$",
    )
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))  # in-process temporary files would land there too
    before = {p.relative_to(repo) for p in _files(repo)}
    extra = ("--state-file", str(repo / "state.json")) if state_file else ()
    plan_out = repo / "reviewed.plan"
    runs = [
        cli(kit, devserver, "validate", str(desired), "-v", TMPDIR=str(tmpdir)),
        cli(kit, devserver, "plan", str(desired), "-v", "--out", str(plan_out), *extra, TMPDIR=str(tmpdir)),
        cli(kit, devserver, "plan", str(desired), "--format", "json", *extra, TMPDIR=str(tmpdir)),
        cli(kit, devserver, "plan", str(desired), "--format", "markdown", *extra, TMPDIR=str(tmpdir)),
        cli(kit, devserver, "apply", str(plan_out), "-v", *extra, TMPDIR=str(tmpdir)),
        cli(kit, devserver, "drift", str(desired), "-v", "--format", "json", *extra, TMPDIR=str(tmpdir)),
    ]
    for result in runs:
        assert CANARY not in result.both
        assert "Traceback" not in result.both
    assert [r.code for r in runs] == [0, 0, 0, 0, 0, 0], [r.err for r in runs]
    assert devserver.secrets["oauth"] == CANARY + "-oauth"  # the values did get through
    for path in _files(repo):
        assert CANARY.encode() not in path.read_bytes(), path
    after = {p.relative_to(repo) for p in _files(repo)}
    assert after - before == {Path("reviewed.plan")} | ({Path("state.json")} if state_file else set())
    assert list(tmpdir.iterdir()) == []
    if not state_file:
        assert CANARY not in unpack(devserver.secrets["vaultsync-state"], {}, "state")


def test_schema_errors_in_from_sops_are_located(repo: Path) -> None:  # no sops needed: the form only
    desired = write_desired(
        repo / "desired.json",
        {
            "no-file": {"fromSops": {"path": "/a"}},
            "bad-json": {"fromSops": {"file": "s.json", "json": "yes"}},
            "not-object": {"fromSops": "s.json"},
            "two": {"fromSops": {"file": "s.json"}, "value": "x"},
        },
    )
    result = run_cli("validate", str(desired))
    assert result.code == 1
    assert 'secrets.no-file.fromSops: missing "file"' in result.err
    assert "secrets.bad-json.fromSops.json: must be true or false" in result.err
    assert "secrets.not-object.fromSops: must be an object" in result.err
    assert "secrets.two: an entry needs exactly one of" in result.err and "(found value, fromSops)" in result.err


def test_the_encrypted_example_applies_with_its_test_only_key(
    kit: Sops, devserver: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parent.parent
    examples = root / "examples" / "sops"
    example = examples / "connector.sops.json"
    assert "TEST-ONLY" in (examples / "TEST-ONLY-age-key.txt").read_text().splitlines()[0]
    # A key file relative to the working directory, as the README shows (not to the desired file's folder).
    monkeypatch.chdir(root)
    env = {**kit.env(), "SOPS_AGE_KEY_FILE": "examples/sops/TEST-ONLY-age-key.txt"}
    assert run_cli("validate", str(example), env=env).code == 0
    result = run_cli("apply", str(example), "--auto-approve", "--url", devserver.url, env=env)
    assert result.code == 0, result.err
    assert devserver.secrets["partner-oauth-client-secret"] == "demo-only-oauth-client-secret"
    assert json.loads(devserver.secrets["partner-s3-credentials"])["accessKeyId"] == "AKIAEXAMPLEDEMO00002"
    assert "demo-only" not in example.read_text()  # the values really are encrypted
    # Editors validate the encrypted file as it is (its sops block is part of the schema).
    from jsonschema import Draft202012Validator

    from vaultsync.desired import schema

    assert list(Draft202012Validator(schema()).iter_errors(json.loads(example.read_text()))) == []
