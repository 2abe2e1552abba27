"""vaultsync against a real EDC control plane (0.15.1 by default) built from Maven Central, as it is here.

That runtime serves no secrets API (secrets-api is not on the reachable Maven Central, tests/edc/FINDINGS.md),
which makes it the real thing for a case users do meet: a URL that does not serve the EDC secrets API (a
wrong base path, an EDC without the module, an API version it lacks). These tests prove vaultsync refuses
to plan or apply against it instead of reading Jetty's 404 as "absent", and they measure what the secrets
API shares with the asset API of the same runtime: authentication and alias survival in the URL path.
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
from edc_fixtures import ALIAS_SAMPLES, LONG_ALIASES, asset_body, http_client, require_tools, runtime

from vaultsync.desired import parse_desired
from vaultsync.devserver import DevServer
from vaultsync.errors import InputError

pytest_plugins = ("edc_fixtures",)
pytestmark = pytest.mark.edc

NOT_SERVED = "does not serve the EDC secrets API"
WRITE_LOG = re.compile(r"^(POST|PUT|DELETE) (\S+) (\d{3}) ", re.MULTILINE)


def cli(edc: runtime.Connector, *args: str, api_version: str = "v3") -> Result:
    env = {"EDC_MANAGEMENT_URL": edc.url, "EDC_API_KEY": edc.api_key, "EDC_API_VERSION": api_version}
    return run_cli(*args, "--no-color", env=env)


def test_the_runtime_really_serves_no_secrets_api(edc: runtime.Connector) -> None:
    # The premise of this module: if this fails, secrets-api became resolvable and test_integration.py and
    # test_conformance.py run their secrets rows against this connector instead of skipping them.
    assert edc.secrets_api == ()
    with http_client() as client:
        assets = client.get(f"{edc.url}/v3/assets/nothing", headers={"X-Api-Key": edc.api_key})
    assert assets.status_code == 404
    assert assets.json()[0]["type"] == "ObjectNotFound"  # the management API itself is up


# -- (a) plan, (b) apply against a URL without the secrets API ------------------------------------------


@pytest.mark.parametrize("api_version", ["v3", "v4"])
@pytest.mark.parametrize("state_file", [False, True], ids=["state-in-vault", "state-file"])
def test_plan_exits_1_saying_the_url_serves_no_secrets_api(
    edc: runtime.Connector, tmp_path: Path, api_version: str, state_file: bool
) -> None:
    path = write_desired(tmp_path / "d.json", {"db-password": CANARY, "api-token": "t"})
    extra = ["--state-file", str(tmp_path / "state.json")] if state_file else []
    result = cli(edc, "plan", str(path), "--detailed-exitcode", *extra, api_version=api_version)
    assert result.code == 1, result  # not 2: nothing is planned as "create"
    assert result.out == ""
    assert f"failed: HTTP 404: Not Found: this URL {NOT_SERVED}" in result.err
    assert f"{edc.url}/{api_version}/secrets/" in result.err
    assert "v4 needs EDC 0.17+" in result.err
    assert CANARY not in result.both


def test_apply_exits_1_with_no_successful_write(edc: runtime.Connector, tmp_path: Path) -> None:
    path = write_desired(tmp_path / "d.json", {"db-password": CANARY, "api-token": "t"})
    for extra in ([], ["--state-file", str(tmp_path / "state.json")]):
        result = cli(edc, "apply", str(path), "--auto-approve", "-v", *extra)
        assert result.code == 1, result
        assert NOT_SERVED in result.err
        assert CANARY not in result.both
        writes = WRITE_LOG.findall(result.err)
        assert writes, result.err  # the lock's POST was sent...
        assert all(status == "404" for _, _, status in writes), writes  # ...and nothing was written
        assert {method for method, _, _ in writes} == {"POST"}  # the lock; no secret write was attempted
    assert not (tmp_path / "state.json").exists()


# -- (c) the shared auth layer: the same 401 bodies ------------------------------------------------------


@pytest.mark.parametrize("key", ["missing", "wrong"])
def test_401_bodies_match_the_dev_server(edc: runtime.Connector, key: str) -> None:
    dev = DevServer("127.0.0.1", 0, api_key="dev-key")
    dev.start_background()
    try:
        answers = []
        for base, collection in ((edc.url, "/v3/assets"), (dev.url, "/v3/secrets")):
            headers = {"Accept": "application/json"}
            if key == "wrong":
                headers["X-Api-Key"] = "wrong-key"
            with http_client() as client:
                response = client.get(f"{base}{collection}/some-alias", headers=headers)
            answers.append((response.status_code, response.headers["content-type"].split(";")[0], response.json()))
    finally:
        dev.stop()
    real, devserver = answers
    assert real[0] == 401
    assert devserver == real


# -- (d) alias characters: the schema against the live Jetty 12 ---------------------------------------


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
    client.post(f"{edc.url}/v3/assets", json=asset_body(alias), headers=headers)
    url = f"{edc.url}/v3/assets/{quote(alias, safe='')}"
    got = client.get(url, headers=headers)
    deleted = client.delete(url, headers=headers)
    same = got.status_code == 200 and got.json().get("@id") == alias
    return same and deleted.status_code == 204, got.status_code, deleted.status_code


def test_every_alias_the_schema_accepts_round_trips_and_every_refused_one_fails(edc: runtime.Connector) -> None:
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


# -- (e) start and stop like `make edc-up` / `make edc-down` ---------------------------------------------


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
    refused = _runtime_py("up")  # what `make edc-up` runs: refuses a runtime without the secrets API
    assert refused.returncode == 2, refused.stderr
    assert "no secrets API" in refused.stderr
    assert _our_javas() == []
    try:
        up = _runtime_py("up", "--allow-no-secrets-api")
        assert up.returncode == 0, up.stderr
        env = dict(line.split("=", 1) for line in up.stdout.splitlines() if not line.startswith("#"))
        assert env["EDC_MANAGEMENT_URL"].startswith("http://127.0.0.1:")
        run = json.loads(runtime.RUN_FILE.read_text())
        assert _our_javas() == [run["pid"]]
        assert _runtime_py("status").returncode == 0
    finally:
        down = _runtime_py("down")
    assert down.returncode == 0, down.stderr
    assert _our_javas() == []
    assert not runtime.RUN_FILE.exists()
    assert _runtime_py("status").returncode == 1
