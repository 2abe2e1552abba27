"""An answer means something only when it has EDC's shape: a proxy or single sign-on page answering
`200 text/html` (or any 2xx or 409 that is not EDC's) is "not the EDC secrets API", said first.

Before, the lock POST's HTML 200 was taken for "lock taken", apply then failed on the state, and the first
thing printed was "could not release the lock ... force-unlock <id>" for a lock that never existed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from conftest import CANARY, Server, run_cli, write_desired

from vaultsync import lock as vlock
from vaultsync.client import ClientOptions, EdcClient
from vaultsync.devserver import Fault
from vaultsync.errors import AlreadyExistsError, ApiError, LockHeldError, NotEdcError

BASE = "http://edc.test:8181/api/management"
KEY = "APIKEY-21f0c3aa-" + CANARY
SSO_PAGE = f"<!DOCTYPE html><html><body><h1>Sign in</h1><!-- X-Api-Key: {KEY} --></body></html>"
T = TypeVar("T")


def run(
    answer: httpx.Response | Callable[[httpx.Request], httpx.Response],
    operation: Callable[[EdcClient], Coroutine[Any, Any, T]],
) -> tuple[T | BaseException, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request) if callable(answer) else answer

    async def go() -> T:
        transport = httpx.MockTransport(handler)
        async with EdcClient(BASE, KEY, "v3", ClientOptions(max_retries=0), transport=transport) as client:
            return await operation(client)

    try:
        return asyncio.run(go()), seen
    except Exception as exc:
        return exc, seen


def html(status: int = 200) -> httpx.Response:
    return httpx.Response(status, html=SSO_PAGE)


OPERATIONS: dict[str, Callable[[EdcClient], Coroutine[Any, Any, Any]]] = {
    "GET": lambda c: c.get("a"),
    "POST": lambda c: c.create("a", CANARY),
    "PUT": lambda c: c.update("a", CANARY),
    "DELETE": lambda c: c.delete("a"),
}


NOT_EDC_2XX = {
    "html-200": html(200),
    "html-201": html(201),
    "plain-text-200": httpx.Response(200, text="OK"),
    "json-object-200": httpx.Response(200, json={"status": "ok"}),
    "empty-202": httpx.Response(202),
}
# EDC answers PUT and DELETE with an empty 204: a JSON 200 there cannot be told apart from it, so it is not listed.
CASES = [
    pytest.param(method, answer, id=f"{method}-{name}")
    for method in OPERATIONS
    for name, answer in NOT_EDC_2XX.items()
    if not (method in ("PUT", "DELETE") and name == "json-object-200")
]


@pytest.mark.parametrize(("method", "answer"), CASES)
def test_a_2xx_that_is_not_edc_is_not_success(method: str, answer: httpx.Response) -> None:
    raised, _ = run(answer, OPERATIONS[method])

    assert isinstance(raised, NotEdcError), raised
    text = str(raised)
    assert "not the EDC secrets API" in text and "--url" in text
    assert f"HTTP {answer.status_code}" in text
    assert CANARY not in text and KEY not in text and "Sign in" not in text


@pytest.mark.parametrize(
    "answer",
    [
        html(409),
        httpx.Response(409, json={"error": "conflict"}),
        httpx.Response(409, json=[{"message": "version mismatch", "type": "SomethingElse"}]),
        httpx.Response(409),
    ],
    ids=["html", "json-object", "other-error-array", "empty"],
)
def test_a_409_that_is_not_edcs_object_conflict_is_not_already_exists(answer: httpx.Response) -> None:
    raised, seen = run(answer, OPERATIONS["POST"])

    assert isinstance(raised, NotEdcError) and not isinstance(raised, AlreadyExistsError), raised
    assert "ObjectConflict" in str(raised)
    assert [r.method for r in seen] == ["POST"]


@pytest.mark.parametrize("answer", [html(200), html(409), httpx.Response(409, json={"error": "conflict"})])
def test_the_lock_is_not_taken_nor_said_held_on_a_page_that_is_not_edc(answer: httpx.Response) -> None:
    raised, seen = run(answer, lambda c: vlock.acquire(c, "vaultsync-lock", "apply d.json"))

    assert isinstance(raised, NotEdcError), raised
    assert not isinstance(raised, LockHeldError)
    assert "locked by" not in str(raised) and "force-unlock" not in str(raised)
    assert [r.method for r in seen] == ["POST"]  # no GET of a "holder" that does not exist


def test_edc_shapes_still_mean_what_they_mean() -> None:
    id_response = httpx.Response(200, json={"@id": "a", "@type": "IdResponse", "createdAt": 1, "@context": {}})
    conflict = httpx.Response(409, json=[{"message": "Secret a already exist", "type": "ObjectConflict"}])
    secret = httpx.Response(200, json={"@id": "a", "@type": "Secret", "value": "v", "@context": {}})

    assert run(id_response, OPERATIONS["POST"])[0] is None
    assert isinstance(run(conflict, OPERATIONS["POST"])[0], AlreadyExistsError)
    assert run(httpx.Response(204), OPERATIONS["PUT"])[0] is None
    assert run(httpx.Response(204), OPERATIONS["DELETE"])[0] is True
    assert run(secret, OPERATIONS["GET"])[0] == "v"


def test_get_of_an_html_200_says_not_edc_and_not_json() -> None:
    raised, _ = run(html(200), OPERATIONS["GET"])

    assert isinstance(raised, ApiError)
    assert "not JSON" in str(raised) and "HTML page" in str(raised) and "not the EDC secrets API" in str(raised)


# -- end to end against a loopback server that answers every request with the same page ----------------


class _Everything(BaseHTTPRequestHandler):
    status = 200
    body = SSO_PAGE.encode()
    content_type = "text/html; charset=utf-8"
    seen: list[tuple[str, str]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, self.path))
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        return None


@contextlib.contextmanager
def answering(status: int, body: bytes, content_type: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_Everything,), {"status": status, "body": body, "content_type": content_type})
    handler.seen = seen
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/management", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, SSO_PAGE.encode(), "text/html; charset=utf-8"),
        (409, b'{"error": "conflict"}', "application/json"),
    ],
    ids=["html-200-to-everything", "json-409-to-everything"],
)
def test_apply_against_a_page_says_so_first_and_never_mentions_a_lock(
    tmp_path: Path, status: int, body: bytes, content_type: str
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": CANARY})
    with answering(status, body, content_type) as (url, seen):
        result = run_cli("apply", str(desired), "--auto-approve", env={"EDC_MANAGEMENT_URL": url, "EDC_API_KEY": KEY})

    assert result.code == 1
    first = result.err.strip().splitlines()[0]
    assert "not the EDC secrets API" in first, result.err
    assert "release" not in result.err and "force-unlock" not in result.err and "locked by" not in result.err
    # --api-version auto: the probes of v4, v3 and v4beta already stop it, before the lock's POST
    assert [m for m, _ in seen] == ["GET", "GET", "GET"]
    assert CANARY not in result.both and KEY not in result.both and "Sign in" not in result.both


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_read_only_commands_against_a_page_say_so(tmp_path: Path, command: str) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": CANARY})
    with answering(200, SSO_PAGE.encode(), "text/html") as (url, seen):
        result = run_cli(command, str(desired), env={"EDC_MANAGEMENT_URL": url, "EDC_API_KEY": KEY})

    assert result.code == 1
    assert "not the EDC secrets API" in result.err.strip().splitlines()[0]
    assert all(m == "GET" for m, _ in seen)
    assert KEY not in result.both


def test_when_the_lock_was_taken_the_real_cause_still_comes_first(devserver: Server, tmp_path: Path) -> None:
    """The lock is taken; the state read and the lock's release both meet a sign-on page. The error that
    stopped the run is printed first, the lock left behind after it (with how to remove it)."""
    page = {"body": SSO_PAGE, "content_type": "text/html"}
    devserver.server.faults.add(Fault(200, method="GET", alias="vaultsync-state", **page))
    devserver.server.faults.add(Fault(200, method="GET", alias="vaultsync-lock", **page))
    desired = write_desired(tmp_path / "d.json", {"a": CANARY})

    result = run_cli("apply", str(desired), "--auto-approve", env={"EDC_MANAGEMENT_URL": devserver.url})

    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert "vaultsync-state" in lines[0] and "not the EDC secrets API" in lines[0], result.err
    assert "could not release the lock" in lines[-1] and "force-unlock" in lines[-1]
    assert "vaultsync-lock" in devserver.secrets  # it really is left behind, as the message says


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "GET"])
def test_a_405_means_the_path_is_not_the_secrets_api(method: str) -> None:
    """Measured on EDC 0.15.1: a wrong base path answers POST with Jetty's 405; EDC's secrets paths take all four."""
    jetty = httpx.Response(405, json={"message": f"HTTP method {method} is not supported by this URL", "status": "405"})
    raised, seen = run(jetty, OPERATIONS[method])

    assert isinstance(raised, NotEdcError), raised
    assert "does not serve the EDC secrets API" in str(raised) and "--api-version" in str(raised)
    assert len(seen) == 1
