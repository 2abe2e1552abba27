"""A pytest plugin that fails the session when a process the tests started is still running at its end.

A real-connector test that fails half-way must not leave its JVM (or a dev-server, or a vaultsync run)
behind: it would skew every later test and CI run on the machine. Every process the tests start inherits
``VAULTSYNC_TEST_SESSION`` (set here, unique per session) in its environment, even one started in a new
session and reparented to init, so the end of the session finds each one by reading ``/proc/*/environ``.
Those found are stopped (they are this session's own) and the session fails, naming them. A
``tests/edc/.build/run.json`` (what ``runtime.py up`` records) written during the session is a leak too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

import pytest

TOKEN_ENV = "VAULTSYNC_TEST_SESSION"
RUN_FILE = Path(__file__).parent / "edc" / ".build" / "run.json"
_started = time.time()


def processes_with(token: str) -> dict[int, str]:
    """pid -> command line of every live process (not this one) whose environment holds ``token``."""
    needle = f"{TOKEN_ENV}={token}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if stat.rsplit(")", 1)[-1].split()[0] != "Z":  # a zombie is gone, only not reaped yet
            found[int(entry.name)] = cmdline.strip()[:200]
    return found


def stop(pids: list[int], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL what is still there after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
            if not set(pids) & set(processes_with(os.environ.get(TOKEN_ENV, ""))):
                return
            time.sleep(0.1)


def pytest_configure(config: pytest.Config) -> None:
    # Always a new token: a pytest run inside a test must not claim (and stop) its parent session's processes.
    os.environ[TOKEN_ENV] = f"{os.getpid()}-{secrets.token_hex(6)}"
    config.stash[_token_key] = os.environ[TOKEN_ENV]


_token_key = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown, which stops the connectors
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    token = session.config.stash.get(_token_key, "")
    if not token:
        return
    deadline = time.monotonic() + 5  # a process told to stop may still be on its way out
    left = processes_with(token)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = processes_with(token)
    problems = [f"pid {pid}: {cmdline}" for pid, cmdline in sorted(left.items())]
    with contextlib.suppress(OSError):
        if RUN_FILE.stat().st_mtime >= _started:
            problems.append(f"{RUN_FILE} (written by `runtime.py up` during the session and not removed)")
            RUN_FILE.unlink()
    if not problems:
        return
    stop(list(left))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    text = "processes started by the tests were still running at the end of the session (now stopped):\n  "
    text += "\n  ".join(problems)
    if reporter is not None:
        reporter.write_sep("=", "LEAKED PROCESSES", red=True, bold=True)
        reporter.write_line(text, red=True)
    else:
        print(text)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
