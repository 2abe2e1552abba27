"""Interrupting a real `vaultsync apply` process: SIGINT/SIGTERM stop cleanly, kill -9 never corrupts.

The apply runs as a subprocess (`python -m vaultsync`) against the in-process dev-server, whose
delay fault holds the writes in flight; the test signals it once the server has seen them arrive.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

from vaultsync.devserver import Fault
from vaultsync.state import decode

DELAY = 1.0  # seconds each delayed request is held: long enough to signal while it is in flight
APPS = {f"app-{i}": f"{CANARY}-{i}" for i in range(6)}


def start(devserver: Server, file: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "EDC_MANAGEMENT_URL": devserver.url, "NO_COLOR": "1"}
    env.pop("EDC_API_KEY", None)
    command = [sys.executable, "-m", "vaultsync", "apply", str(file), "--auto-approve", "--parallelism", "2", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_in_flight(devserver: Server, proc: subprocess.Popen[str], count: int) -> None:
    if not devserver.server.faults.wait_for_hits(count, timeout=30):
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"apply never got {count} requests in flight:\n{out}\n{err}")


def cli(devserver: Server, *args: str) -> Result:
    result = run_cli(*args, env={"EDC_MANAGEMENT_URL": devserver.url})
    assert "Traceback" not in result.both
    return result


def apps_in_vault(devserver: Server) -> set[str]:
    return {a for a in devserver.secrets if a.startswith("app-")}


def managed_in(text: str) -> set[str]:
    record = decode(text, "state").record
    assert record is not None
    return set(record.managed)


def converges(devserver: Server, file: Path, *args: str) -> None:
    again = cli(devserver, "apply", str(file), "--auto-approve", *args)
    assert again.code == 0, again.both
    assert cli(devserver, "plan", str(file), "--detailed-exitcode", *args).code == 0
    assert apps_in_vault(devserver) == set(APPS)
    assert all(devserver.secrets[a] == v for a, v in APPS.items())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_apply_finishes_in_flight_calls_records_state_and_exits_130(
    devserver: Server, tmp_path: Path, sig: signal.Signals
) -> None:
    file = write_desired(tmp_path / "d.json", APPS)
    devserver.server.faults.add(Fault("delay", method="POST", alias="app-*", times=100, delay=DELAY))
    proc = start(devserver, file)
    wait_in_flight(devserver, proc, 2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "interrupted: finishing the calls in flight" in err
    assert "Traceback" not in err
    assert CANARY not in out + err
    # The two calls in flight finished; no new call started.
    created = apps_in_vault(devserver)
    assert len(created) == 2
    assert sorted(a for m, a in devserver.secret_writes() if m == "POST") == sorted(created)
    assert "4 not started" in out
    # The state records exactly those, and the lock is released.
    assert managed_in(devserver.secrets["vaultsync-state"]) == created
    assert "vaultsync-lock" not in devserver.secrets

    devserver.server.faults.clear()
    converges(devserver, file)


def test_a_signal_while_reading_stops_before_any_write(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", APPS)
    devserver.server.faults.add(Fault("delay", method="GET", alias="app-*", times=100, delay=DELAY))
    proc = start(devserver, file)
    wait_in_flight(devserver, proc, 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "interrupted while reading the vault; nothing was written" in err
    assert "Traceback" not in err
    assert devserver.secret_writes() == []
    reads = [path for method, path, _ in devserver.requests if method == "GET" and "/app-" in path]
    assert len(reads) == 2  # no new read started after the signal
    assert "vaultsync-lock" not in devserver.secrets

    devserver.server.faults.clear()
    converges(devserver, file)


@pytest.mark.parametrize("backend", ["vault", "file"])
def test_kill_9_mid_apply_never_corrupts_state_and_the_next_run_converges(
    devserver: Server, tmp_path: Path, backend: str
) -> None:
    state_args = ("--state-file", str(tmp_path / "state.json")) if backend == "file" else ()
    file = write_desired(tmp_path / "d.json", {"keep": "kept-value"})
    assert cli(devserver, "apply", str(file), "--auto-approve", *state_args).code == 0
    state_before = (tmp_path / "state.json").read_text() if backend == "file" else devserver.secrets["vaultsync-state"]

    write_desired(file, {"keep": "kept-value", **APPS})
    devserver.server.faults.add(Fault("delay", method="POST", alias="app-*", times=100, delay=DELAY))
    proc = start(devserver, file, *state_args)
    wait_in_flight(devserver, proc, 2)
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # The server still completes the two writes it had received; let them land.
    deadline = time.monotonic() + 30
    while len(apps_in_vault(devserver)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    devserver.server.faults.clear()

    # The state is whole: exactly what it was before the killed run (which never got to record).
    state_after = (tmp_path / "state.json").read_text() if backend == "file" else devserver.secrets["vaultsync-state"]
    assert state_after == state_before
    assert managed_in(state_after) == {"keep"}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    # The stale lock is refused with a message naming the command that removes it.
    writes_before = len(devserver.secret_writes())
    refused = cli(devserver, "apply", str(file), "--auto-approve", *state_args)
    assert refused.code == 1
    assert f"pid {proc.pid}" in refused.err
    found = re.search(r"`vaultsync force-unlock (\S+) FILE`", refused.err)
    assert found, refused.err
    assert len(devserver.secret_writes()) == writes_before

    unlocked = cli(devserver, "force-unlock", found.group(1), str(file))
    assert unlocked.code == 0, unlocked.err
    assert "vaultsync-lock" not in devserver.secrets

    # The writes the killed run made are found and adopted; the rest are created.
    again = cli(devserver, "apply", str(file), "--auto-approve", *state_args)
    assert again.code == 0, again.both
    adopted = {line.split()[2] for line in again.out.splitlines() if line.split()[:2] == ["=", "adopt"]}
    assert adopted == apps_in_vault(devserver) - {a for a in APPS if f"created {a}" in again.out}
    assert len(adopted) == 2
    assert "4 created" in again.out
    assert cli(devserver, "plan", str(file), "--detailed-exitcode", *state_args).code == 0
    state_final = (tmp_path / "state.json").read_text() if backend == "file" else devserver.secrets["vaultsync-state"]
    assert managed_in(state_final) == {"keep", *APPS}
