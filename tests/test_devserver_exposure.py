"""`vaultsync dev-server --host 0.0.0.0` without a key serves an open secrets API to the network: it says so
loudly on stderr, and prints a URL that works (never `http://0.0.0.0:PORT`)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vaultsync.exposure import announcement


@contextlib.contextmanager
def dev_server(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A real `vaultsync dev-server` process; yields its first stdout line. Always stopped."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaultsync", "dev-server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stderr_of(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    return err


def reachable(url: str, key: str | None = None) -> bool:
    headers = {"X-Api-Key": key} if key else {}
    answer = httpx.get(url + "/v3/secrets/no-such-alias", headers=headers, timeout=5)
    return answer.status_code == 404 and answer.json()[0]["type"] == "ObjectNotFound"


def test_all_interfaces_without_a_key_warns_and_prints_a_reachable_url() -> None:
    with dev_server("--host", "0.0.0.0") as (line, proc):
        assert line.startswith("EDC_MANAGEMENT_URL=http://127.0.0.1:"), line
        assert "0.0.0.0" not in line
        assert reachable(line.partition("=")[2])
        err = stderr_of(proc)
    assert "WARNING" in err and "without --api-key-file" in err
    assert "anyone" in err and "--host 127.0.0.1" in err
    assert "other machines" in err  # and how they reach it


def test_all_interfaces_with_a_key_does_not_warn_about_an_open_api(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("dev-key\n")
    with dev_server("--host", "0.0.0.0", "--api-key-file", str(tmp_path / "key")) as (line, proc):
        assert line.startswith("EDC_MANAGEMENT_URL=http://127.0.0.1:"), line
        assert reachable(line.partition("=")[2], "dev-key")
        err = stderr_of(proc)
    assert "WARNING" not in err
    assert "X-Api-Key required" in err


def test_loopback_stays_quiet() -> None:
    with dev_server() as (line, proc):
        assert line.startswith("EDC_MANAGEMENT_URL=http://127.0.0.1:")
        err = stderr_of(proc)
    assert "WARNING" not in err and "other machines" not in err


@pytest.mark.parametrize(
    ("host", "announced", "shown"),
    [
        ("0.0.0.0", "http://0.0.0.0:8181/api/management", "http://127.0.0.1:8181/api/management"),
        ("", "http://0.0.0.0:8181/api/management", "http://127.0.0.1:8181/api/management"),
        ("::", "http://[::]:8181/api/management", "http://[::1]:8181/api/management"),
        ("192.0.2.7", "http://192.0.2.7:8181/api/management", "http://192.0.2.7:8181/api/management"),
        ("127.0.0.1", "http://127.0.0.1:8181/api/management", "http://127.0.0.1:8181/api/management"),
        ("localhost", "http://127.0.0.1:8181/api/management", "http://127.0.0.1:8181/api/management"),
    ],
)
def test_the_announced_url_is_one_a_client_can_use(host: str, announced: str, shown: str) -> None:
    line, notes = announcement(f"EDC_MANAGEMENT_URL={announced}", host, has_key=True)
    assert line == f"EDC_MANAGEMENT_URL={shown}"
    assert not any("WARNING" in n for n in notes)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "edc.example.test"])
def test_every_non_loopback_host_without_a_key_warns(host: str) -> None:
    _, notes = announcement("EDC_MANAGEMENT_URL=http://192.0.2.7:8181/api/management", host, has_key=False)
    assert any(n.startswith("WARNING") for n in notes)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.1.2.3"])
def test_loopback_hosts_do_not_warn(host: str) -> None:
    _, notes = announcement("EDC_MANAGEMENT_URL=http://127.0.0.1:8181/api/management", host, has_key=False)
    assert notes == []
