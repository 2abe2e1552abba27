"""Shared fixtures: an in-process dev-server on loopback and an in-process CLI runner."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vaultsync.cli import main
from vaultsync.devserver import DevServer, Request, SecretsApi

# Fails the session when a process the tests started outlives it (JVMs, dev-servers, vaultsync runs).
pytest_plugins = ("process_guard",)

CANARY = "CANARY-7f3e9b1c-do-not-print"  # a value that must never appear in any output


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> Result:
    """Run ``vaultsync ARGS`` in-process with its own stdout/stderr and environment overrides."""
    out, err = io.StringIO(), io.StringIO()
    saved_env = dict(os.environ)
    saved_stdin = sys.stdin
    try:
        if env:
            os.environ.update(env)
        sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.stdin = saved_stdin
    return Result(code, out.getvalue(), err.getvalue())


class Server:
    """A running dev-server plus conveniences for assertions."""

    def __init__(self, server: DevServer) -> None:
        self.server = server
        self.url = server.url
        # (method, alias, status) of every write the API handled; POST/PUT name their alias in the body only.
        self.alias_writes: list[tuple[str, str, int]] = []
        handle = server.api.handle

        def logged(request: Request) -> tuple[int, Any]:
            status, doc = handle(request)
            if request.method in ("POST", "PUT", "DELETE") and not _is_assets(request.path):
                self.alias_writes.append((request.method, _alias_of(request), status))
            return status, doc

        server.api.handle = logged  # type: ignore[method-assign]

    @property
    def secrets(self) -> dict[str, str]:
        return self.server.secrets

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """The secrets API's request log (the assets queries made for references are in ``asset_requests``)."""
        return [r for r in self.server.requests if not _is_assets(r[1])]

    @property
    def asset_requests(self) -> list[tuple[str, str, int]]:
        return [r for r in self.server.requests if _is_assets(r[1])]

    def reset_log(self) -> None:
        self.server.requests.clear()
        self.alias_writes.clear()

    def count(self, method: str | None = None, exclude_reserved: bool = True) -> int:
        return sum(
            1
            for m, path, _ in self.requests
            if (method is None or m == method)
            and not (exclude_reserved and ("vaultsync-state" in path or "vaultsync-lock" in path))
        )

    def writes(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] in ("POST", "PUT", "DELETE")]

    def secret_writes(self, reserved: tuple[str, ...] = ("vaultsync-state", "vaultsync-lock")) -> list[tuple[str, str]]:
        """(method, alias) of every write to a non-reserved alias (state and lock excluded), answered or refused."""
        return [(m, a) for m, a, _ in self.alias_writes if a not in reserved]


def _is_assets(path: str) -> bool:
    """The assets API (read for references): not a request to the secrets API."""
    return "/assets" in path


def _alias_of(request: Request) -> str:
    route = SecretsApi.route(request.path)
    if route is not None and route[1] is not None:
        return route[1]
    try:
        doc = json.loads(request.body or b"null")
    except ValueError:
        return ""
    return str(doc.get("@id", "")) if isinstance(doc, dict) else ""


@contextlib.contextmanager
def running_devserver(api_key: str | None = None) -> Iterator[Server]:
    """A dev-server on a free loopback port for the duration of the block."""
    server = DevServer("127.0.0.1", 0, api_key=api_key)
    server.start_background()
    try:
        yield Server(server)
    finally:
        server.stop()


@pytest.fixture
def devserver() -> Iterator[Server]:
    with running_devserver() as server:
        yield server


@pytest.fixture
def env_for(devserver: Server) -> dict[str, str]:
    """Environment pointing the CLI at the dev-server, API version v3 (``auto`` has its own tests: test_versions.py)."""
    return {"EDC_MANAGEMENT_URL": devserver.url, "EDC_API_VERSION": "v3"}


def write_desired(path: Path, secrets: dict[str, Any], **extra: Any) -> Path:
    """Write a desired-state file and return its path."""
    path.write_text(json.dumps({"version": 1, "secrets": secrets, **extra}, indent=2), encoding="utf-8")
    return path


def require_actionlint() -> str:
    """The actionlint binary (.ci/bin first): a skip on a laptop without it, a failure in CI, which installs it."""
    local = Path(__file__).resolve().parent.parent / ".ci" / "bin" / "actionlint"
    found = str(local) if local.is_file() and os.access(local, os.X_OK) else shutil.which("actionlint")
    if found is None:
        message = "actionlint is not installed: run .ci/install-actionlint.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: this check must not be skipped)")
        pytest.skip(message)
    return found


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_with_stderr(*args: str, err: io.StringIO) -> Result:
    """Run the CLI in-process with ``err`` (e.g. a ``Terminal``) as its stderr."""
    from vaultsync.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())
