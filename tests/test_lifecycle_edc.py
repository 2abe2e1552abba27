"""The lifecycle's "done when" scenarios against a real EDC connector (its secrets API, v3).

A small forwarding proxy sits between vaultsync and the connector: it records every write by method and
alias (POST and PUT name their alias in the body only) and can fail one request, which is how a rename
is interrupted between its POST and its DELETE on the real thing. The connector is shared by the whole
session, so every test uses its own aliases and its own state and lock aliases.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from conftest import CANARY, Result, run_cli, write_desired
from edc_fixtures import runtime

from vaultsync.statecodec import unpack

pytest_plugins = ("edc_fixtures",)
pytestmark = pytest.mark.edc


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.writes: list[tuple[str, str]] = []
        self.fail: tuple[str, str] | None = None  # (method, alias) answered 500 once instead of forwarded
        self.client = httpx.Client(timeout=30)
        super().__init__(("127.0.0.1", 0), _Forward)


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Proxy

    def log_message(self, format: str, *args: object) -> None:
        return

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        alias = unquote(self.path.rsplit("/secrets/", 1)[1]) if "/secrets/" in self.path else ""
        if not alias and body:
            alias = str(json.loads(body).get("@id", ""))
        if self.command != "GET" and "/secrets" in self.path:  # not the assets query (references)
            self.server.writes.append((self.command, alias))
        if self.server.fail == (self.command, alias):
            self.server.fail = None
            self._answer(500, b'[{"message":"injected","type":"InvalidRequest"}]', "application/json")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("x-api-key", "content-type", "accept")}
        path = self.path.removeprefix("/api/management")
        answer = self.server.client.request(self.command, self.server.upstream + path, headers=headers, content=body)
        self._answer(answer.status_code, answer.content, answer.headers.get("content-type", "application/json"))

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away first, as vaultsync does with the assets query it cancels when a plan is
            # refused early (a protected alias): normal for a proxy, and not a traceback on the CLI's stderr.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _forward


class Edc:
    """The real connector behind the proxy, with this test's own reserved aliases and alias prefix."""

    def __init__(self, connector: runtime.Connector, proxy: _Proxy) -> None:
        self.connector = connector
        self.proxy = proxy
        self.url = f"http://127.0.0.1:{proxy.server_address[1]}/api/management"
        run = uuid.uuid4().hex[:8]
        self.state_alias, self.lock_alias = f"vs-state-{run}", f"vs-lock-{run}"
        self.p = f"t{run}-"  # prefix for this test's aliases

    def cli(self, *args: str) -> Result:
        env = {"EDC_MANAGEMENT_URL": self.url, "EDC_API_KEY": self.connector.api_key, "EDC_API_VERSION": "v3"}
        reserved = ("--state-alias", self.state_alias, "--lock-alias", self.lock_alias)
        result = run_cli(*args, *(reserved if args[0] != "validate" else ()), "--no-color", env=env)
        assert "Traceback" not in result.both and CANARY not in result.both
        return result

    def apply(self, *args: str) -> Result:
        return self.cli("apply", *args, "--auto-approve")

    def get(self, alias: str) -> str | None:
        answer = httpx.get(f"{self.connector.url}/v3/secrets/{alias}", headers={"X-Api-Key": self.connector.api_key})
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        value: str = answer.json()["value"]
        return value

    def state(self) -> dict[str, Any]:
        raw = self.get(self.state_alias)
        assert raw is not None
        managed: dict[str, Any] = json.loads(unpack(raw, {}, "state"))["managed"]
        return managed

    def secret_writes(self) -> list[tuple[str, str]]:
        return [w for w in self.proxy.writes if w[1] not in (self.state_alias, self.lock_alias)]


@pytest.fixture
def edc(edc: runtime.Connector) -> Iterator[Edc]:  # type: ignore[override]
    if "v3" not in edc.secrets_api:
        pytest.skip("this EDC runtime serves no /v3/secrets (secrets-api not built in)")
    proxy = _Proxy(edc.url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield Edc(edc, proxy)
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.client.close()


def test_two_files_apply_as_one_and_a_duplicate_is_refused(edc: Edc, tmp_path: Path) -> None:
    a = write_desired(tmp_path / "a.json", {f"{edc.p}a": CANARY + "a"})
    b = write_desired(tmp_path / "b.json", {f"{edc.p}b": CANARY + "b"})
    assert edc.apply(str(a), str(b)).code == 0
    assert (edc.get(f"{edc.p}a"), edc.get(f"{edc.p}b")) == (CANARY + "a", CANARY + "b")
    assert {f"{edc.p}a", f"{edc.p}b"} <= set(edc.state())
    assert edc.cli("plan", str(a), str(b), "--detailed-exitcode").code == 0
    write_desired(b, {f"{edc.p}a": CANARY + "again"})
    edc.proxy.writes.clear()
    refused = edc.apply(str(a), str(b))
    assert refused.code == 1 and f"also defined in {a}" in refused.err and str(b) in refused.err
    assert edc.proxy.writes == []


def test_a_generated_secret_is_created_once_and_rotated_only_with_replace(edc: Edc, tmp_path: Path) -> None:
    alias = f"{edc.p}key"
    file = write_desired(tmp_path / "d.json", {alias: {"generate": {"length": 48, "charset": "base64url"}}})
    first = edc.apply(str(file))
    assert first.code == 0, first.err
    value = edc.get(alias)
    assert value is not None and len(value) == 48 and value not in first.both
    edc.proxy.writes.clear()
    assert edc.apply(str(file)).code == 0
    assert edc.secret_writes() == [] and edc.get(alias) == value
    rotated = edc.apply(str(file), "--replace", alias)
    assert rotated.code == 0, rotated.err
    assert edc.secret_writes() == [("PUT", alias)]
    assert edc.get(alias) not in (None, value)


def test_a_rename_keeps_the_value_and_survives_an_interruption(edc: Edc, tmp_path: Path) -> None:
    old, new = f"{edc.p}old", f"{edc.p}new"
    assert edc.apply(str(write_desired(tmp_path / "d.json", {old: CANARY + "v"}))).code == 0
    file = write_desired(tmp_path / "d.json", {new: {"generate": {"length": 32}}}, moved=[{"from": old, "to": new}])
    edc.proxy.fail = ("DELETE", old)  # the apply is cut between the POST and the DELETE
    edc.proxy.writes.clear()
    cut = edc.apply(str(file))
    assert cut.code == 1
    assert edc.secret_writes() == [("POST", new), ("DELETE", old)]
    assert edc.get(new) == CANARY + "v" and edc.get(old) == CANARY + "v"
    edc.proxy.writes.clear()
    again = edc.apply(str(file))
    assert again.code == 0, again.err
    assert edc.secret_writes() == [("DELETE", old)]
    assert edc.get(new) == CANARY + "v" and edc.get(old) is None
    assert new in edc.state() and old not in edc.state()
    assert edc.cli("plan", str(file), "--detailed-exitcode").code == 0


def test_an_uninterrupted_rename_is_one_post_and_one_delete(edc: Edc, tmp_path: Path) -> None:
    old, new = f"{edc.p}old", f"{edc.p}new"
    assert edc.apply(str(write_desired(tmp_path / "d.json", {old: CANARY + "v"}))).code == 0
    file = write_desired(tmp_path / "d.json", {new: CANARY + "v"}, moved=[{"from": old, "to": new}])
    edc.proxy.writes.clear()
    assert edc.apply(str(file)).code == 0
    assert edc.secret_writes() == [("POST", new), ("DELETE", old)]
    assert (edc.get(new), edc.get(old)) == (CANARY + "v", None)


def test_a_protected_alias_cannot_be_deleted_by_removing_it(edc: Edc, tmp_path: Path) -> None:
    prod, other = f"{edc.p}prod", f"{edc.p}other"
    file = write_desired(tmp_path / "d.json", {prod: {"value": CANARY, "protect": True}, other: "x"})
    assert edc.apply(str(file)).code == 0
    write_desired(file, {other: "x"})
    edc.proxy.writes.clear()
    refused = edc.apply(str(file))
    assert refused.code == 1 and f"would remove protected secrets: {prod}" in refused.err
    assert edc.secret_writes() == [] and edc.get(prod) == CANARY


def test_target_touches_only_the_matching_aliases(edc: Edc, tmp_path: Path) -> None:
    names = [f"provider-{edc.p}a", f"provider-{edc.p}b", f"consumer-{edc.p}a"]
    file = write_desired(tmp_path / "d.json", {n: CANARY + n for n in names})
    edc.proxy.writes.clear()
    assert edc.apply(str(file), "--target", "provider-*").code == 0
    assert sorted(edc.secret_writes()) == [("POST", names[0]), ("POST", names[1])]
    assert edc.get(names[2]) is None


def test_a_foreign_lock_is_named_with_how_to_release_it(edc: Edc, tmp_path: Path) -> None:
    created = httpx.post(
        f"{edc.connector.url}/v3/secrets",
        headers={"X-Api-Key": edc.connector.api_key},
        json={"@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "@id": edc.lock_alias, "value": "not ours"},
    )
    assert created.status_code == 200, created.text
    file = write_desired(tmp_path / "d.json", {f"{edc.p}a": CANARY})
    refused = edc.apply(str(file))
    assert refused.code == 1
    assert f"the lock alias {edc.lock_alias} holds data vaultsync did not write" in refused.err
    assert f"`vaultsync force-unlock unreadable FILE --lock-alias {edc.lock_alias}`" in refused.err
    assert edc.get(f"{edc.p}a") is None
    assert edc.cli("force-unlock", "unreadable", str(file)).code == 0
    assert edc.get(edc.lock_alias) is None
    assert edc.apply(str(file)).code == 0
