"""No secret value and no API key ever leaves vaultsync: every command, every format, every verbosity,
saved plans, state, and server error bodies that echo what they were sent.

All values contain CANARY; the API key is another canary. The dev-server requires the key, so every
run below really sends it, and the assertion is that it never comes back out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CANARY, Result, run_cli, write_desired

from vaultsync.devserver import DevServer, Fault
from vaultsync.lock import LockInfo
from vaultsync.statecodec import unpack

KEY = "APIKEY-5b2e8d41-never-print"
ENV_VALUE = CANARY + "-from-env"
VERBOSE_LINE = re.compile(
    r"^(GET|POST|PUT|DELETE) /api/management/v3/(secrets(/[^\s]+)?|assets/request) "
    r"(\d{3}|error: .+) \d+ ms( \(attempt \d+\))?$"
)
METHOD_FIRST = re.compile(r"^(GET|POST|PUT|DELETE) ")


class World:
    """A key-protected dev-server and a desired-state file using every kind of source."""

    def __init__(self, server: DevServer, root: Path) -> None:
        self.server = server
        self.root = root
        (root / "tls.pem").write_text(CANARY + "-from-file\n")
        self.file = write_desired(
            root / "desired.json",
            {
                "plain": CANARY + "-plain",
                "literal": {"value": CANARY + "-literal", "description": "a literal"},
                "from-env": {"fromEnv": "LEAK_TEST_SECRET"},
                "tls-key": {"fromFile": "tls.pem"},
                "aws-s3": {"json": {"accessKeyId": "AKIA-TEST", "secretAccessKey": CANARY + "-json"}},
            },
        )

    @property
    def secrets(self) -> dict[str, str]:
        return self.server.secrets

    def run(self, *args: str, key_file: bool = False, stdin: str = "") -> Result:
        """Run vaultsync and assert that neither a value nor the key appears anywhere in its output."""
        env = {"EDC_MANAGEMENT_URL": self.server.url, "EDC_API_VERSION": "v3", "LEAK_TEST_SECRET": ENV_VALUE}
        extra: tuple[str, ...] = ()
        if key_file:
            (self.root / "key").write_text(KEY + "\n")
            extra = ("--api-key-file", str(self.root / "key"))
        else:
            env["EDC_API_KEY"] = KEY
        result = run_cli(*args, *extra, env=env, stdin=stdin)
        assert_clean(result.both)
        assert "Traceback" not in result.both
        return result

    def apply(self, *args: str) -> Result:
        result = self.run("apply", str(self.file), "--auto-approve", "-v", *args)
        assert result.code == 0, result.err
        return result


def assert_clean(text: str) -> None:
    assert CANARY not in text
    assert KEY not in text
    for value in (CANARY, KEY):  # nor an unkeyed hash from which a short value could be guessed
        assert hashlib.sha256(value.encode()).hexdigest() not in text


def assert_verbose_lines_are_method_path_status(err: str) -> int:
    lines = [line for line in err.splitlines() if METHOD_FIRST.match(line)]
    for line in lines:
        assert VERBOSE_LINE.match(line), line
    return len(lines)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    server = DevServer("127.0.0.1", 0, api_key=KEY)
    server.start_background()
    try:
        yield World(server, tmp_path)
    finally:
        server.stop()


def test_validate(world: World) -> None:
    result = world.run("validate", str(world.file), "-v")
    assert result.code == 0


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_in_every_format_and_verbosity(world: World, fmt: str) -> None:
    world.secrets["literal"] = "someone else's value"  # a conflict: shown, never its values
    result = world.run("plan", str(world.file), "--format", fmt, "-v", "--show-unchanged" if fmt == "text" else "-q")
    assert result.code == 0, result.err
    assert "plain" in result.out
    if fmt == "text":
        assert "(sensitive value)" in result.out
        assert assert_verbose_lines_are_method_path_status(result.err) >= 6


def test_plan_of_updates_and_deletes(world: World) -> None:
    world.apply()
    write_desired(world.file, {"plain": CANARY + "-changed", "aws-s3": {"json": {"secretAccessKey": CANARY + "-2"}}})
    for fmt in ("text", "json", "markdown"):
        result = world.run("plan", str(world.file), "--format", fmt, "-v")
        assert result.code == 0
        assert "update" in result.out and "delete" in result.out


def test_saved_plan_file_and_applying_it(world: World) -> None:
    planfile = world.root / "reviewed.plan"
    result = world.run("plan", str(world.file), "--out", str(planfile), "-v")
    assert result.code == 0, result.err
    assert_clean(planfile.read_text("utf-8"))
    applied = world.run("apply", str(planfile), "-v")
    assert applied.code == 0, applied.err
    assert world.secrets["plain"] == CANARY + "-plain"
    assert assert_verbose_lines_are_method_path_status(applied.err) > 0


def test_apply_at_every_verbosity_with_the_key_from_a_file(world: World) -> None:
    quiet = world.run("apply", str(world.file), "--auto-approve", "-q", key_file=True)
    assert quiet.code == 0, quiet.err
    write_desired(world.file, {"plain": CANARY + "-new"})
    verbose = world.run("apply", str(world.file), "--auto-approve", "-v", key_file=True)
    assert verbose.code == 0, verbose.err
    assert assert_verbose_lines_are_method_path_status(verbose.err) > 0


def test_apply_asking_for_approval(world: World) -> None:
    result = world.run("apply", str(world.file), stdin="yes\n")
    assert result.code == 1  # stdin is not a terminal: refused, and the refusal leaks nothing either
    assert world.secrets == {}


def test_state_in_the_vault_and_in_a_file_holds_no_value(world: World) -> None:
    world.apply()
    assert_clean(unpack(world.secrets["vaultsync-state"], {}, "state"))
    state_file = world.root / "state.json"
    world.apply("--state-file", str(state_file))
    assert_clean(state_file.read_text("utf-8"))
    assert_clean(unpack(world.secrets["vaultsync-state"], {}, "state"))


def test_import_drift_state_and_force_unlock(world: World) -> None:
    world.secrets["plain"] = CANARY + "-plain"
    imported = world.run("import", str(world.file), "plain", "-v")
    assert imported.code == 0, imported.err
    world.apply()
    world.secrets["tls-key"] = CANARY + "-changed-by-hand"
    for fmt in ("text", "json"):
        drift = world.run("drift", str(world.file), "--format", fmt, "-v")
        assert drift.code == 2, drift.err
        assert "tls-key" in drift.out
    listed = world.run("state", "list", str(world.file), "-v")
    assert listed.code == 0 and "aws-s3" in listed.out
    removed = world.run("state", "rm", str(world.file), "plain", "-v")
    assert removed.code == 0, removed.err
    stale = LockInfo("stale-lock-id", "ci", "runner-1", 4242, "2024-01-01T00:00:00+00:00", "apply")
    world.secrets["vaultsync-lock"] = stale.encode()
    refused = world.run("apply", str(world.file), "--auto-approve", "-v")
    assert refused.code == 1 and "stale-lock-id" in refused.err
    unlocked = world.run("force-unlock", "stale-lock-id", str(world.file), "-v")
    assert unlocked.code == 0, unlocked.err


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_server_errors_echoing_the_value_never_repeat_it(world: World, method: str) -> None:
    if method == "PUT":
        world.apply()
        write_desired(world.file, {"plain": CANARY + "-updated", "tls-key": {"fromFile": "tls.pem"}})
    world.server.faults.add(Fault("echo", method=method, alias="plain"))
    result = world.run("apply", str(world.file), "--auto-approve", "-v")
    assert result.code == 1
    (line,) = [line for line in result.out.splitlines() if "plain FAILED" in line]
    assert "HTTP 400" in line and "ValidationFailure" in line
    assert "(sensitive value)" in line  # the echoed value was redacted where it stood


def test_an_error_page_quoting_the_key_never_repeats_it(world: World) -> None:
    page = json.dumps([{"message": f"key {KEY} is not allowed here", "type": "AuthenticationFailed"}])
    world.server.faults.add(Fault(401, method="GET", body=page))
    result = world.run("plan", str(world.file), "-v")
    assert result.code == 1
    assert "HTTP 401" in result.err


def test_a_wrong_key_is_refused_without_printing_either_key(world: World) -> None:
    env = {"EDC_MANAGEMENT_URL": world.server.url, "EDC_API_KEY": KEY + "-wrong", "LEAK_TEST_SECRET": ENV_VALUE}
    env["EDC_API_VERSION"] = "v3"
    result = run_cli("plan", str(world.file), "-v", env=env)
    assert result.code == 1
    assert "the API key was refused" in result.err
    assert KEY not in result.both


def _tamper_state(world: World, alias: str) -> None:
    state = json.loads(unpack(world.secrets["vaultsync-state"], {}, "state"))
    state["managed"][alias] = {}
    world.secrets["vaultsync-state"] = json.dumps(state)


UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_aliases_from_the_server_cannot_drive_the_terminal(world: World) -> None:
    world.apply()
    _tamper_state(world, "evil\u202egnp.exe\u009b2J")  # right-to-left override, C1 control sequence introducer
    for args in (
        ("plan", str(world.file)),
        ("plan", str(world.file), "--format", "markdown"),
        ("plan", str(world.file), "--format", "json"),
        ("drift", str(world.file), "--format", "json"),
        ("state", "list", str(world.file)),
        ("drift", str(world.file)),
        ("apply", str(world.file), "--auto-approve"),
    ):
        result = world.run(*args)
        assert not UNSAFE.search(result.both), args
        if "json" in args:  # still valid JSON, still the same alias for a machine
            assert "evil\u202egnp.exe\u009b2J" in json.dumps(json.loads(result.out), ensure_ascii=False)
            continue
        shown = "evil&#92;u202egnp&#46;exe&#92;x9b2J" if "markdown" in args else "evil\\u202egnp.exe\\x9b2J"
        assert shown in result.out, args


def test_control_characters_in_a_url_path_are_escaped_in_the_error(world: World) -> None:
    world.apply()
    _tamper_state(world, "evil\x1b[2J\x1b]0;pwned\x07")
    listed = world.run("state", "list", str(world.file))
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07" in listed.out
    for args in (("plan", str(world.file)), ("drift", str(world.file)), ("plan", str(world.file), "--format", "json")):
        result = world.run(*args)
        assert not UNSAFE.search(result.both), args
        assert result.code == 1  # the connector (like Jetty) refuses such a path: a clear error, no crash
        assert "HTTP 400" in result.err


def test_references_warnings_and_init_show_no_value_nor_key(world: World) -> None:
    world.apply()
    ns = "https://w3id.org/edc/v0.0.1/ns/"
    for asset_id, address in (
        ("s3\u202eevil", {"type": "AmazonS3", "keyName": "plain"}),  # plain text where S3 JSON is needed: shape
        ("orders\x1b[2J", {"type": "HttpData", "secretName": "from-env", "oauth2:clientSecretKey": "missing"}),
    ):
        body = {"@context": {"@vocab": ns}, "@id": asset_id, "properties": {}, "dataAddress": address}
        world.server.api.assets.create("v3", json.dumps(body).encode(), ("POST", "", None))
    for fmt in ("text", "json", "markdown"):
        result = world.run("plan", str(world.file), "--format", fmt, "-v")
        assert result.code == 0
        assert "shape" in result.out and "missing" in result.out
        assert not UNSAFE.search(result.both), fmt
        assert_verbose_lines_are_method_path_status(result.err)
    out = world.root / "starter.json"
    result = world.run("init", "--out", str(out), "-v")
    assert result.code == 0
    assert_clean(out.read_text())
    assert not UNSAFE.search(result.both + out.read_text())

def test_refusals_of_a_tampered_plan_a_foreign_page_and_an_outside_file_leak_nothing(world: World) -> None:
    world.apply()
    world.secrets["unmanaged"] = CANARY + "-unmanaged"
    planfile = world.root / "reviewed.plan"
    assert world.run("plan", str(world.file), "--out", str(planfile)).code == 0
    doc = json.loads(planfile.read_text("utf-8"))
    doc["targets"][0]["changes"].append({"alias": "unmanaged", "action": "delete"})
    planfile.write_text(json.dumps(doc), "utf-8")
    tampered = world.run("apply", str(planfile), "-v")
    assert tampered.code == 1 and world.secrets["unmanaged"] == CANARY + "-unmanaged"

    page = f"<html><body>Sign in. Your request: X-Api-Key {KEY}, value {CANARY}-plain</body></html>"
    world.server.faults.add(Fault(200, method="GET", alias="plain", body=page, content_type="text/html"))
    foreign = world.run("plan", str(world.file), "-v")
    assert foreign.code == 1 and "not the EDC secrets API" in foreign.err

    (world.root.parent / "outside.pem").write_text(CANARY + "-outside")
    write_desired(world.file, {"out": {"fromFile": "../outside.pem"}})
    outside = world.run("validate", str(world.file), "-v")
    assert outside.code == 1 and "--allow-outside-files" in outside.err


def test_progress_failures_as_they_happen_grouped_failures_and_a_dying_connector(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Count lines, failure lines printed as they happen (from bodies that echo the value), failures grouped
    by cause, and the circuit breaker's warning: none of them carries a value or the key."""
    from vaultsync.progress import ApplyProgress

    monkeypatch.setattr(ApplyProgress, "INTERVAL", 0.0)
    bulk = write_desired(world.root / "bulk.json", {f"bulk-{i:03d}": f"{CANARY}-bulk-{i}" for i in range(300)})
    world.server.faults.add(Fault("echo", method="POST", alias="bulk-00*", times=10))  # 400 quoting the value
    world.server.faults.add(Fault("drop", method="POST", alias="bulk-2*", times=1_000))  # the connector "dies"
    result = world.run("apply", str(bulk), "--auto-approve", "--parallelism", "2")
    assert result.code == 1
    assert "FAILED: create bulk-000" in result.err  # told as it happened
    assert re.search(r"applying \S+: [\d,]+/300 changes", result.err)
    assert "stopped answering" in result.err
    assert "changes skipped, not started: the connector stopped answering" in result.out
