"""--api-version auto (the default): one probe per run, before planning and the lock; and URLs that name a version."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CANARY, Server, run_cli, running_devserver, write_desired

from vaultsync import versions

NOT_SERVED = "does not serve the EDC secrets API"


def auto_env(url: str, **extra: str) -> dict[str, str]:
    return {"EDC_MANAGEMENT_URL": url, "EDC_API_VERSION": "auto", **extra}


def probes(server: Server) -> list[str]:
    return [path for _, path, _ in server.requests if "vaultsync-version-probe-" in path]


def test_auto_picks_v4_on_the_dev_server_and_v_says_so(devserver: Server, tmp_path: Path) -> None:
    path = write_desired(tmp_path / "d.json", {"a": CANARY})
    result = run_cli("apply", str(path), "--auto-approve", "-v", env=auto_env(devserver.url))
    assert result.code == 0, result.err
    assert "API version v4 (detected: v4 served)" in result.err
    assert len(probes(devserver)) == 1  # once per run
    first, second = devserver.requests[:2]
    assert first[0] == "GET" and "/v4/secrets/vaultsync-version-probe-" in first[1]  # before the lock...
    assert second[:2] == ("POST", "/api/management/v4/secrets")  # ...which is then taken with v4
    assert {p.split("/")[3] for _, p, _ in devserver.requests} == {"v4"}
    assert devserver.secrets["a"] == CANARY
    assert CANARY not in result.both


def test_auto_is_the_default(devserver: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDC_API_VERSION", raising=False)
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("plan", str(path), "--format", "json", env={"EDC_MANAGEMENT_URL": devserver.url})
    assert result.code == 0, result.err
    assert json.loads(result.out)["targets"][0]["api_version"] == "v4"
    assert len(probes(devserver)) == 1


@pytest.mark.parametrize("version", ["v3", "v4beta", "v4"])
def test_an_explicit_version_sends_no_probe(devserver: Server, tmp_path: Path, version: str) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"}, target={"apiVersion": version})
    env = {"EDC_MANAGEMENT_URL": devserver.url}
    assert run_cli("apply", str(path), "--auto-approve", env=env | {"EDC_API_VERSION": ""}).code == 0
    assert probes(devserver) == []
    assert {p.split("/")[3] for _, p, _ in devserver.requests} == {version}


def test_a_saved_plan_keeps_the_detected_version_and_probes_no_more(devserver: Server, tmp_path: Path) -> None:
    path = write_desired(tmp_path / "d.json", {"a": CANARY})
    saved = tmp_path / "p.plan"
    assert run_cli("plan", str(path), "--out", str(saved), env=auto_env(devserver.url)).code == 0
    assert json.loads(saved.read_text())["targets"][0]["inputs"]["api_version"] == "v4"
    devserver.reset_log()
    applied = run_cli("apply", str(saved), "-v", env=auto_env(devserver.url))
    assert applied.code == 0, applied.err
    assert probes(devserver) == []
    assert {p.split("/")[3] for _, p, _ in devserver.requests} == {"v4"}
    assert devserver.secrets["a"] == CANARY


def test_a_refused_key_stops_at_the_probe_with_the_key_message(tmp_path: Path) -> None:
    with running_devserver(api_key="right") as server:
        path = write_desired(tmp_path / "d.json", {"a": CANARY})
        result = run_cli("apply", str(path), "--auto-approve", env=auto_env(server.url, EDC_API_KEY="wrong"))
        assert result.code == 1
        assert "API key was refused" in result.err
        assert NOT_SERVED not in result.err
        assert len(server.requests) == 1  # the probe of v4, then nothing: no lock, no read


class _PlainWebServer(BaseHTTPRequestHandler):
    """A web server that is not EDC: HTML 404 pages for GET, 405 for anything else."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.seen.append(("GET", self.path))  # type: ignore[attr-defined]
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.server.seen.append(("POST", self.path))  # type: ignore[attr-defined]
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def plain_web_server() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PlainWebServer)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/management", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("command", ["plan", "apply", "drift", "import"])
def test_a_url_serving_no_version_is_named_before_planning_and_locking(
    plain_web_server: tuple[str, list[tuple[str, str]]], tmp_path: Path, command: str
) -> None:
    url, seen = plain_web_server
    path = write_desired(tmp_path / "d.json", {"a": CANARY})
    args = {"plan": [], "apply": ["--auto-approve"], "drift": [], "import": ["a"]}[command]
    result = run_cli(command, str(path), *args, env=auto_env(url))
    assert result.code == 1
    assert f"{url} {NOT_SERVED}" in result.err
    for version in ("v4", "v3", "v4beta"):  # what each probe answered
        assert f"GET /{version}/secrets/… answered HTTP 404 with an HTML page" in result.err
    assert [method for method, _ in seen] == ["GET", "GET", "GET"]  # the three probes, no lock, no read
    assert CANARY not in result.both


@pytest.mark.parametrize("suffix", ["/v3", "/v3/", "/v4beta", "/v4", "/v3/secrets", "/v4/secrets", "/secrets"])
def test_a_url_that_already_names_the_version_says_what_to_drop(devserver: Server, tmp_path: Path, suffix: str) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("plan", str(path), env={"EDC_MANAGEMENT_URL": devserver.url + suffix})
    assert result.code == 1
    assert f'ends in "{suffix.rstrip("/")}": drop it' in result.err
    assert f"(use {devserver.url})" in result.err
    assert devserver.requests == []  # refused before any request


def test_an_explicit_version_on_a_wrong_path_names_the_url_not_an_http_405(devserver: Server, tmp_path: Path) -> None:
    # Jetty (and the dev-server) answer a POST to a path nothing serves with 405: apply's lock is a POST.
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    wrong = devserver.url.replace("/api/management", "/api")
    result = run_cli("apply", str(path), "--auto-approve", env={"EDC_MANAGEMENT_URL": wrong, "EDC_API_VERSION": "v3"})
    assert result.code == 1
    assert NOT_SERVED in result.err


def _response(status: int, body: Any = None, content_type: str = "application/json") -> httpx.Response:
    content = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    return httpx.Response(status, content=content, headers={"Content-Type": content_type} if content else {})


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (_response(404, [{"message": "x", "type": "ObjectNotFound", "path": None, "invalidValue": None}]), "served"),
        (_response(401, [{"message": "x", "type": "AuthenticationFailed"}]), "key-refused"),
        (_response(404, {"message": "Not Found", "url": "/x", "status": "404"}), "not-served"),  # Jetty's JSON
        (_response(405, b"<html>405</html>", "text/html"), "not-served"),
        (_response(404), "not-served"),
        (_response(401, b"Unauthorized", "text/plain"), "not-served"),  # a proxy's 401 is not EDC's
        (_response(200, b"<html>login</html>", "text/html"), "not-served"),
        (_response(200, {"@id": "x", "@type": "Secret", "value": "v"}), "served"),
    ],
)
def test_probe_answers_are_classified_like_the_spec_says(response: httpx.Response, kind: str) -> None:
    assert versions.classify("v3", response).kind == kind


def test_probe_alias_is_fresh_and_valid() -> None:
    first, second = versions.probe_alias(), versions.probe_alias()
    assert first != second
    assert first.startswith("vaultsync-version-probe-") and "/" not in first and "%" not in first


@pytest.mark.parametrize("version", ["auto", "v9", None])
def test_a_saved_plan_with_a_version_it_cannot_have_is_refused(devserver: Server, tmp_path: Path, version: Any) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    saved = tmp_path / "p.plan"
    assert run_cli("plan", str(path), "--out", str(saved), env=auto_env(devserver.url)).code == 0
    doc = json.loads(saved.read_text())
    doc["targets"][0]["inputs"]["api_version"] = version
    saved.write_text(json.dumps(doc))
    devserver.reset_log()
    result = run_cli("apply", str(saved), env=auto_env(devserver.url))
    assert result.code == 1
    assert "the saved plan" in result.err
    assert "Traceback" not in result.err
    assert devserver.requests == []
