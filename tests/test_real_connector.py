"""vaultsync against real EDC connectors (0.15.1 and 0.12.0, with the secrets API), beyond the conformance rows
and the end-to-end scenarios of test_integration.py: API version detection, a URL that does not serve the
secrets API (a wrong base path on a real connector), the alias rules against the live Jetty 12, and
``runtime.py up`` / ``down`` leaving nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import CANARY, Result, run_cli, write_desired
from edc_fixtures import ALIAS_SAMPLES, LONG_ALIASES, Connectors, edc_versions, http_client, require_tools, runtime

from vaultsync.desired import parse_desired
from vaultsync.errors import InputError

pytest_plugins = ("edc_fixtures",)
pytestmark = pytest.mark.edc

NOT_SERVED = "does not serve the EDC secrets API"
WRITE_LOG = re.compile(r"^(POST|PUT|DELETE) (\S+) (\d{3}) ", re.MULTILINE)
EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"


def cli(url: str, key: str, *args: str, api_version: str | None = None) -> Result:
    env = {"EDC_MANAGEMENT_URL": url, "EDC_API_KEY": key}
    if api_version is not None:
        env["EDC_API_VERSION"] = api_version
    return run_cli(*args, "--no-color", env=env)


@pytest.fixture(params=edc_versions())
def any_edc(request: pytest.FixtureRequest, edc_connectors: Connectors) -> runtime.Connector:
    """Each real connector of the session in turn."""
    return edc_connectors.get(request.param)


def test_each_runtime_serves_the_secrets_api_of_its_line(any_edc: runtime.Connector) -> None:
    # The premise of every real-connector test: the jars from ../shared/edc made it into the runtime.
    assert any_edc.secrets_api == runtime.VERSIONS[any_edc.version]


# -- API version detection ------------------------------------------------------------------------------


def test_auto_picks_v3_on_every_real_line(any_edc: runtime.Connector, tmp_path: Path) -> None:
    # The probe order is v4, v3, v4beta: neither 0.12.0 nor 0.15.1 serves v4, both serve v3.
    path = write_desired(tmp_path / "d.json", {f"auto-{uuid.uuid4().hex[:8]}": CANARY})
    result = cli(any_edc.url, any_edc.api_key, "plan", str(path), "-v", "--state-file", str(tmp_path / "s.json"))
    assert result.code == 0, result.err
    assert "API version v3 (detected: v4 not served, v3 served)" in result.err
    assert "/v3/secrets/" in result.err
    assert CANARY not in result.both


# -- a URL that does not serve the secrets API ------------------------------------------------------------


@pytest.mark.parametrize("api_version", [None, "v3", "v4beta", "v4"])
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_wrong_base_path_is_named_before_anything_is_planned_or_written(
    edc: runtime.Connector, tmp_path: Path, api_version: str | None, command: str
) -> None:
    # The management API's port with the wrong path: Jetty answers 404 pages for GET and 405 for POST.
    path = write_desired(tmp_path / "d.json", {"db-password": CANARY, "api-token": "t"})
    wrong = edc.url.replace("/api/management", "/management")
    args = [command, str(path), "-v", *(["--auto-approve"] if command == "apply" else ["--detailed-exitcode"])]
    result = cli(wrong, edc.api_key, *args, api_version=api_version)
    assert result.code == 1, result  # not 2: nothing is planned as "create"
    assert result.out == ""
    assert NOT_SERVED in result.err
    assert CANARY not in result.both
    writes = WRITE_LOG.findall(result.err)
    assert all(status in ("404", "405") for _, _, status in writes), writes  # nothing was written


def test_a_url_ending_in_the_version_says_what_to_drop(edc: runtime.Connector, tmp_path: Path) -> None:
    path = write_desired(tmp_path / "d.json", {"db-password": CANARY})
    result = cli(edc.url + "/v3", edc.api_key, "plan", str(path), "-v")
    assert result.code == 1
    assert 'ends in "/v3"' in result.err
    assert f"use {edc.url}" in result.err
    assert "GET " not in result.err  # refused before any request


def test_wrong_key_is_the_key_message_not_a_version_problem(any_edc: runtime.Connector, tmp_path: Path) -> None:
    path = write_desired(tmp_path / "d.json", {"db-password": CANARY})
    result = cli(any_edc.url, "not-the-key", "plan", str(path))
    assert result.code == 1
    assert "API key was refused" in result.err
    assert NOT_SERVED not in result.err
    assert "not-the-key" not in result.both


# -- alias characters: the schema against the live Jetty 12 (EDC 0.15.1) ------------------------------


def schema_accepts(alias: str) -> tuple[bool, str]:
    doc = json.dumps({"version": 1, "secrets": {alias: "v"}}).encode()
    try:
        parse_desired("d.json", doc, env={}, reserved=())
    except InputError as exc:
        return False, str(exc)
    return True, ""


def round_trips(client: httpx.Client, edc: runtime.Connector, alias: str) -> tuple[bool, int, int]:
    """POST the alias in the body, then GET and DELETE it through the path as vaultsync's client encodes it."""
    headers = {"X-Api-Key": edc.api_key, "Accept": "application/json"}
    body = {"@context": {"@vocab": EDC_NS}, "@type": "Secret", "@id": alias, "value": "v"}
    client.post(f"{edc.url}/v3/secrets", json=body, headers=headers)
    url = f"{edc.url}/v3/secrets/{quote(alias, safe='')}"
    got = client.get(url, headers=headers)
    deleted = client.delete(url, headers=headers)
    same = got.status_code == 200 and got.json().get("@id") == alias
    return same and deleted.status_code == 204, got.status_code, deleted.status_code


def test_every_alias_the_schema_accepts_round_trips_and_every_refused_one_fails(edc: runtime.Connector) -> None:
    assert edc.version == "0.15.1", "the alias rules follow Jetty 12 (EDC 0.13+)"
    suffix = uuid.uuid4().hex[:6]
    samples = {alias + suffix if len(alias) < 100 else alias: verdict for alias, verdict in ALIAS_SAMPLES.items()}
    samples.update({".": 0, "..": 0})  # httpx resolves them as dot segments: the request never names the alias
    table = {}
    with http_client() as client:
        for alias in [*samples, *LONG_ALIASES]:
            accepted, message = schema_accepts(alias)
            survived, get_status, delete_status = round_trips(client, edc, alias)
            table[f"{alias[:20]}...({len(alias)})"] = (accepted, survived, get_status, delete_status, message[-90:])
    mismatches = {alias: row for alias, row in table.items() if row[0] != row[1]}
    assert mismatches == {}
    assert sum(row[0] for row in table.values()) >= 12  # '?', '#', ':', '+', ';', non-ASCII... are accepted
    for alias, (accepted, _, get_status, _, message) in table.items():
        if not accepted and alias.startswith(("vs%", "vs/", "vs\\")):
            assert get_status == 400  # Jetty 12: created, but never readable or deletable
            assert "never read or deleted" in message


@pytest.mark.parametrize(("alias", "path_carries_it"), [("vs space", True), ("vs\ttab", False)])
def test_whitespace_is_refused_by_rule_whatever_the_path_does(
    edc: runtime.Connector, alias: str, path_carries_it: bool
) -> None:
    # The spec refuses whitespace and control characters (invisible in plans and logs). Jetty 12 carries a
    # space (%20) but refuses a tab (%09): the message gives the rule's own reason, not the path's.
    accepted, message = schema_accepts(alias)
    assert not accepted
    assert "whitespace or control characters: they are invisible" in message
    assert "Jetty" not in message
    with http_client() as client:
        survived, get_status, _ = round_trips(client, edc, alias + uuid.uuid4().hex[:6])
    assert (survived, get_status) == ((True, 200) if path_carries_it else (False, 400))


# -- start and stop like `make edc-up` / `make edc-down` ---------------------------------------------


def _our_javas() -> list[int]:
    """Pids of EDC runtimes started from this checkout's .build/run (what `runtime.py up` uses)."""
    marker = str(runtime.BUILD_DIR / "run").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if runtime.MAIN_CLASS.encode() in cmdline and marker in cmdline:
                pids.append(int(entry.name))
    return [pid for pid in pids if runtime._alive(pid)]


def _runtime_py(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(runtime.__file__)
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True, text=True, timeout=240, check=False, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip


def test_up_and_down_leave_no_java_process() -> None:
    require_tools()
    if runtime.RUN_FILE.exists() or _our_javas():
        pytest.skip("a connector started with `make edc-up` is running here; not touching it")
    try:
        up = _runtime_py("up")  # what `make edc-up` runs
        assert up.returncode == 0, up.stderr
        env = dict(line.split("=", 1) for line in up.stdout.splitlines() if not line.startswith("#"))
        assert env["EDC_MANAGEMENT_URL"].startswith("http://127.0.0.1:")
        assert "# EDC 0.15.1; secrets API served: v3, v4beta" in up.stdout
        run = json.loads(runtime.RUN_FILE.read_text())
        assert _our_javas() == [run["pid"]]
        assert _runtime_py("status").returncode == 0
    finally:
        down = _runtime_py("down")  # also when `up` failed half-way: never leave the JVM or run.json behind
    assert down.returncode == 0, down.stderr
    assert _our_javas() == []
    assert not runtime.RUN_FILE.exists()
    assert _runtime_py("status").returncode == 1
