"""End-to-end scenarios, one module for every backend: the dev-server (v3, v4beta, v4) and real EDC connectors.

Every scenario runs the CLI as a user does (``EDC_MANAGEMENT_URL``, ``EDC_API_KEY``, ``EDC_API_VERSION``) and
checks the vault through raw HTTP, so the same assertions hold whatever answers. Each test uses its own
aliases and its own state and lock aliases, so tests can share one real connector.

Real connectors: every secrets API version each EDC release serves (0.15.1: v3 and v4beta; 0.12.0: v3),
with the secrets API installed from ``../shared/edc`` (tests/edc/runtime.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import CANARY, Result, run_cli, write_desired
from edc_fixtures import Connectors, edc_versions, runtime

from vaultsync.devserver import DevServer
from vaultsync.lock import LockInfo

pytest_plugins = ("edc_fixtures",)

DEV_KEY = "integration-key"
EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"


@dataclass
class Backend:
    name: str
    url: str
    api_key: str
    api_version: str
    prefix: str  # every alias of one test starts with it
    server: DevServer | None = None  # the dev-server, whose request log can be read

    def alias(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def cli(self, *args: str, api_key: str | None = None) -> Result:
        env = {
            "EDC_MANAGEMENT_URL": self.url,
            "EDC_API_KEY": self.api_key if api_key is None else api_key,
            "EDC_API_VERSION": self.api_version,
            "NO_COLOR": "1",
        }
        aliases = ["--state-alias", self.alias("state"), "--lock-alias", self.alias("lock")]
        return run_cli(*args, *aliases, env=env)

    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=30, headers={"X-Api-Key": self.api_key, "Accept": "application/json"})

    def read(self, alias: str) -> str | None:
        """The stored value, None when EDC says the alias is absent."""
        with self._http() as client:
            response = client.get(f"{self.url}/{self.api_version}/secrets/{quote(alias, safe='')}")
        if response.status_code == 404:
            assert response.json()[0]["type"] == "ObjectNotFound", response.text
            return None
        assert response.status_code == 200, response.text
        value = response.json()["value"]
        assert isinstance(value, str)
        return value

    def write(self, alias: str, value: str) -> None:
        """Store a value behind vaultsync's back (POST, or PUT when the alias exists)."""
        if self.api_version != "v3":
            body: dict[str, Any] = {"@context": [V4_CONTEXT], "@type": "Secret", "@id": alias, "value": value}
        else:
            body = {"@context": {"@vocab": EDC_NS}, "@type": "Secret", "@id": alias, "value": value}
        collection = f"{self.url}/{self.api_version}/secrets"
        with self._http() as client:
            response = client.post(collection, json=body)
            if response.status_code == 409:
                response = client.put(collection, json=body)
        assert response.status_code in (200, 204), response.text

    def requests(self) -> int:
        return len(self.server.requests) if self.server is not None else -1


def _backends() -> list[Any]:
    rows: list[Any] = ["devserver-v3", "devserver-v4beta", "devserver-v4"]
    for version in edc_versions():
        for api in runtime.VERSIONS[version]:
            rows.append(pytest.param(f"edc-{version}-{api}", marks=pytest.mark.edc))
    return rows


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    name: str = request.param
    prefix = f"it-{uuid.uuid4().hex[:8]}-"
    kind, _, api = name.rpartition("-")
    if kind == "devserver":
        server = DevServer("127.0.0.1", 0, api_key=DEV_KEY)
        server.start_background()
        try:
            yield Backend(name, server.url, DEV_KEY, api, prefix, server)
        finally:
            server.stop()
        return
    connectors: Connectors = request.getfixturevalue("edc_connectors")
    edc = connectors.get(kind.removeprefix("edc-"))
    assert api in edc.secrets_api, f"EDC {edc.version} serves {edc.secrets_api}, not {api}"
    yield Backend(name, edc.url, edc.api_key, api, prefix)


def plan_json(backend: Backend, path: Path) -> tuple[int, dict[str, str]]:
    """(exit code, alias -> action) of ``plan --format json --detailed-exitcode``."""
    result = backend.cli("plan", str(path), "--format", "json", "--detailed-exitcode")
    assert result.code in (0, 2), result.err
    doc = json.loads(result.out)
    return result.code, {c["alias"]: c["action"] for c in doc["changes"] if c["action"] != "no-op"}


def apply(backend: Backend, path: Path) -> Result:
    return backend.cli("apply", str(path), "--auto-approve")


def no_leak(*results: Result) -> None:
    for result in results:
        assert CANARY not in result.both


# -- scenarios ---------------------------------------------------------------------------------------


def test_plan_apply_creates_then_converges(backend: Backend, tmp_path: Path) -> None:
    a, b = backend.alias("a"), backend.alias("aws")
    doc = {"accessKeyId": "AKIA", "secretAccessKey": CANARY}
    path = write_desired(tmp_path / "d.json", {a: CANARY + "-a", b: {"json": doc}})

    code, changes = plan_json(backend, path)
    assert (code, changes) == (2, {a: "create", b: "create"})
    assert backend.read(a) is None  # plan writes nothing

    applied = apply(backend, path)
    assert applied.code == 0, applied.err
    assert backend.read(a) == CANARY + "-a"
    assert json.loads(backend.read(b) or "null") == doc
    assert plan_json(backend, path) == (0, {})
    no_leak(applied)


def test_update_writes_only_the_changed_secret(backend: Backend, tmp_path: Path) -> None:
    a, b = backend.alias("a"), backend.alias("b")
    path = write_desired(tmp_path / "d.json", {a: "one", b: "stays"})
    assert apply(backend, path).code == 0
    write_desired(path, {a: CANARY, b: "stays"})

    assert plan_json(backend, path) == (2, {a: "update"})
    applied = apply(backend, path)
    assert applied.code == 0, applied.err
    assert (backend.read(a), backend.read(b)) == (CANARY, "stays")
    no_leak(applied)


def test_removed_secret_is_deleted_and_others_stay(backend: Backend, tmp_path: Path) -> None:
    a, b = backend.alias("a"), backend.alias("b")
    path = write_desired(tmp_path / "d.json", {a: "x", b: "y"})
    assert apply(backend, path).code == 0
    write_desired(path, {a: "x"})

    assert plan_json(backend, path) == (2, {b: "delete"})
    assert apply(backend, path).code == 0
    assert (backend.read(a), backend.read(b)) == ("x", None)
    assert plan_json(backend, path) == (0, {})


def test_unmanaged_secret_is_a_conflict_until_imported(backend: Backend, tmp_path: Path) -> None:
    c = backend.alias("c")
    backend.write(c, "set-by-hand")
    path = write_desired(tmp_path / "d.json", {c: CANARY})

    assert plan_json(backend, path) == (2, {c: "conflict"})
    refused = apply(backend, path)
    assert refused.code == 1
    assert "conflict" in refused.err
    assert backend.read(c) == "set-by-hand"  # not overwritten

    imported = backend.cli("import", str(path), c)
    assert imported.code == 0, imported.err
    assert backend.read(c) == "set-by-hand"  # import changes no secret
    assert plan_json(backend, path) == (2, {c: "update"})
    assert apply(backend, path).code == 0
    assert backend.read(c) == CANARY
    no_leak(refused, imported)


def test_held_lock_refuses_apply_until_force_unlocked(backend: Backend, tmp_path: Path) -> None:
    a = backend.alias("a")
    holder = LockInfo("lock-1234", "alice", "ci-runner-7", 4242, "2026-01-01T00:00:00+00:00", "apply")
    backend.write(backend.alias("lock"), holder.encode())
    path = write_desired(tmp_path / "d.json", {a: "x"})

    refused = apply(backend, path)
    assert refused.code == 1
    assert "alice@ci-runner-7 (pid 4242)" in refused.err
    assert backend.read(a) is None

    unlocked = backend.cli("force-unlock", "lock-1234", str(path))
    assert unlocked.code == 0, unlocked.err
    assert apply(backend, path).code == 0
    assert backend.read(a) == "x"
    assert backend.read(backend.alias("lock")) is None  # released after the run


def test_saved_plan_is_applied_exactly_and_a_stale_one_refused(backend: Backend, tmp_path: Path) -> None:
    a, b = backend.alias("a"), backend.alias("b")
    path = write_desired(tmp_path / "d.json", {a: "one", b: "two"})
    saved = tmp_path / "p.plan"
    made = backend.cli("plan", str(path), "--out", str(saved))
    assert made.code == 0, made.err
    assert CANARY not in saved.read_text()
    assert backend.cli("apply", str(saved)).code == 0
    assert (backend.read(a), backend.read(b)) == ("one", "two")

    write_desired(path, {a: CANARY, b: "two"})
    assert backend.cli("plan", str(path), "--out", str(saved)).code == 0
    backend.write(a, "changed-meanwhile")
    stale = backend.cli("apply", str(saved))
    assert stale.code == 1
    assert "stale" in stale.err
    assert backend.read(a) == "changed-meanwhile"
    no_leak(stale)


def test_nested_value_is_refused_before_any_request(backend: Backend, tmp_path: Path) -> None:
    a = backend.alias("aws")
    path = write_desired(tmp_path / "d.json", {a: {"value": {"accessKeyId": "AKIA", "secretAccessKey": CANARY}}})
    before = backend.requests()
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = backend.cli(command[0], str(path), *command[1:])
        assert result.code == 1
        assert a in result.err
        assert '{"json": ...}' in result.err
        no_leak(result)
    assert backend.requests() == before  # -1 on a real connector: its requests cannot be counted
    assert backend.read(a) is None


def test_wrong_api_key_is_refused_and_nothing_is_written(backend: Backend, tmp_path: Path) -> None:
    a = backend.alias("a")
    path = write_desired(tmp_path / "d.json", {a: CANARY})
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = backend.cli(command[0], str(path), *command[1:], api_key="not-the-key")
        assert result.code == 1
        assert "API key was refused" in result.err
        assert "not-the-key" not in result.both
        no_leak(result)
    assert backend.read(a) is None


def test_wrong_base_url_is_an_error_not_a_plan_of_creates(backend: Backend, tmp_path: Path) -> None:
    # A base URL without /api/management reaches the server, but no secrets API: Jetty's 404, not EDC's.
    a = backend.alias("a")
    path = write_desired(tmp_path / "d.json", {a: CANARY})
    url = backend.url.replace("/api/management", "")
    wrong = Backend(backend.name, url, backend.api_key, backend.api_version, backend.prefix)
    for command in (["plan", "--detailed-exitcode"], ["apply", "--auto-approve"]):
        result = wrong.cli(command[0], str(path), *command[1:])
        assert result.code == 1, result
        assert "does not serve the EDC secrets API" in result.err
        assert "create" not in result.out
        no_leak(result)
    assert backend.read(a) is None
