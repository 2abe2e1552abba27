"""The session-end check: a process the tests started and left running fails the run, and is stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from process_guard import TOKEN_ENV, processes_with

TESTS = Path(__file__).parent

LEAKY = """
import subprocess, pathlib
def test_leaks_a_process(tmp_path):
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)  # like a JVM a failing fixture forgot
    pathlib.Path("{pidfile}").write_text(str(proc.pid))
"""

TIDY = """
import subprocess
def test_stops_what_it_starts():
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    proc.terminate()
    proc.wait()
"""


def run_inner(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "process_guard", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(tmp_path / "test_inner.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip


def test_a_leaked_process_fails_the_session_and_is_stopped(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    done = run_inner(tmp_path, LEAKY.format(pidfile=pidfile))
    assert done.returncode == 1, done.stdout + done.stderr  # the test itself passed
    assert "1 passed" in done.stdout
    assert "LEAKED PROCESSES" in done.stdout
    pid = int(pidfile.read_text())
    assert f"pid {pid}: sleep 300" in done.stdout
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1][:3]


def test_a_session_that_stops_its_processes_passes(tmp_path: Path) -> None:
    done = run_inner(tmp_path, TIDY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LEAKED" not in done.stdout


def test_this_session_is_tagged_and_finds_its_own_children() -> None:
    token = os.environ[TOKEN_ENV]
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        assert proc.pid in processes_with(token)
        assert proc.pid not in processes_with(token + "-other")
    finally:
        proc.kill()
        proc.wait()
    assert proc.pid not in processes_with(token)
