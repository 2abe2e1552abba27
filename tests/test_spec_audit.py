"""Regressions found by auditing the CLI against the user-facing contract (shared vaultsync-spec.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CANARY, Server, run_cli, running_devserver, write_desired


@pytest.fixture
def keyed_server() -> Iterator[Server]:
    with running_devserver(api_key="k") as server:
        yield server


def test_verbose_logs_every_request_even_with_quiet(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    """-v is an explicit request for the request log; -q drops hints and progress, not what -v asked for."""
    path = write_desired(tmp_path / "d.json", {"a": CANARY, "b": "x"})
    result = run_cli("apply", str(path), "--auto-approve", "-v", "-q", env=env_for)
    assert result.code == 0, result.err
    logged = [line for line in result.err.splitlines() if line.startswith(("GET ", "POST ", "PUT ", "DELETE "))]
    assert any(line.startswith("POST /api/management/v3/secrets 200") for line in logged), result.err
    assert any(line.startswith("GET /api/management/v3/secrets/a ") for line in logged), result.err
    assert CANARY not in result.both


def test_quiet_without_verbose_logs_no_request(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("plan", str(path), "-q", env=env_for)
    assert result.code == 0, result.err
    assert "GET " not in result.err


def test_api_key_file_strips_exactly_one_trailing_newline(tmp_path: Path, keyed_server: Server) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"k\n\n")  # the key is "k\n": refused, never silently trimmed to "k"
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    result = run_cli("apply", str(path), "--auto-approve", "--url", keyed_server.url, "--api-key-file", str(key_file))
    assert result.code == 1
    assert "--api-key-file" in result.err
    assert keyed_server.requests == []
    assert "a" not in keyed_server.secrets
