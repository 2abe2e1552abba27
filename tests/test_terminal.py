"""Terminal manners: colour only on a terminal, NO_COLOR / --no-color, --quiet, completion, clean pipes."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CANARY, Server, run_cli, write_desired

from vaultsync.cli import main
from vaultsync.devserver import Fault

ANSI = "\x1b["


def run_on_terminal(args: list[str], env: dict[str, str], *, tty_out: bool, tty_err: bool) -> tuple[int, str, str]:
    """Run the real ``vaultsync`` process with stdout and/or stderr on a pseudo-terminal."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "EDC_MANAGEMENT_URL", "EDC_API_KEY")}
    full_env = {**base, "TERM": "xterm-256color", **env}
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vaultsync", *args],
            stdin=subprocess.DEVNULL,
            stdout=slave if tty_out else subprocess.PIPE,
            stderr=slave if tty_err else subprocess.PIPE,
            env=full_env,
        )
        os.close(slave)
        on_tty = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError as exc:  # EIO: the process closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            on_tty += chunk
        piped_out = proc.stdout.read() if proc.stdout else b""
        piped_err = proc.stderr.read() if proc.stderr else b""
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
    tty_text = on_tty.decode("utf-8", "replace").replace("\r\n", "\n")
    out = tty_text if tty_out else piped_out.decode()
    err = tty_text if tty_err and not tty_out else piped_err.decode()
    return code, out, err


@pytest.fixture
def desired(tmp_path: Path) -> Path:
    return write_desired(tmp_path / "s.json", {"alpha": CANARY, "beta": CANARY + "2"})


# -- colour ----------------------------------------------------------------------------------------


def test_no_colour_when_stdout_is_not_a_terminal(devserver: Server, desired: Path) -> None:
    result = run_cli("plan", str(desired), env={"EDC_MANAGEMENT_URL": devserver.url})
    assert result.code == 0
    assert "+ create   alpha" in result.out
    assert ANSI not in result.both


@pytest.mark.parametrize(
    ("env", "flags", "coloured"),
    [
        ({}, [], True),
        ({"NO_COLOR": "1"}, [], False),
        ({"NO_COLOR": ""}, [], True),  # no-color.org: only a non-empty NO_COLOR counts
        ({}, ["--no-color"], False),
        ({"TERM": "dumb"}, [], False),
    ],
    ids=["terminal", "NO_COLOR", "empty-NO_COLOR", "--no-color", "TERM=dumb"],
)
def test_colour_on_a_terminal_unless_turned_off(
    devserver: Server, desired: Path, env: dict[str, str], flags: list[str], coloured: bool
) -> None:
    code, out, _ = run_on_terminal(
        ["plan", str(desired), *flags], {"EDC_MANAGEMENT_URL": devserver.url, **env}, tty_out=True, tty_err=False
    )
    assert code == 0
    assert "create" in out and "alpha" in out
    assert (ANSI in out) is coloured
    assert CANARY not in out


def test_diagnostics_are_coloured_only_when_stderr_itself_is_a_terminal(devserver: Server, desired: Path) -> None:
    # 0.0.0.0 reaches the loopback server but is not a loopback name: vaultsync warns about the key over plain HTTP.
    url = devserver.url.replace("127.0.0.1", "0.0.0.0")
    env = {"EDC_MANAGEMENT_URL": url, "EDC_API_KEY": "k"}
    code, out, err = run_on_terminal(["plan", str(desired)], env, tty_out=True, tty_err=False)
    assert code == 0
    assert "Warning: the API key and secret values travel unencrypted" in err
    assert ANSI in out and ANSI not in err  # stderr goes to a log file: no escape codes in it

    code, out, err = run_on_terminal(["plan", str(desired)], env, tty_out=False, tty_err=True)
    assert code == 0
    assert ANSI not in out  # the plan goes to a pipe
    assert f"{ANSI}33;1mWarning: {ANSI}0m" in err


def test_errors_are_coloured_on_a_terminal_and_plain_in_a_pipe(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    code, out, err = run_on_terminal(["validate", missing], {}, tty_out=False, tty_err=True)
    assert code == 1 and out == ""
    assert f"{ANSI}31;1mError: {ANSI}0m" in err and "nope.json: no such file" in err

    result = run_cli("validate", missing)
    assert result.code == 1 and result.out == ""
    assert result.err.startswith("Error: ") and ANSI not in result.err


# -- --quiet ---------------------------------------------------------------------------------------


def test_quiet_keeps_the_results_and_drops_the_chatter(devserver: Server, desired: Path, tmp_path: Path) -> None:
    env = {"EDC_MANAGEMENT_URL": devserver.url, "EDC_API_VERSION": "v3"}
    loud = run_cli("plan", str(desired), "--out", str(tmp_path / "p1"), env=env)
    quiet = run_cli("plan", str(desired), "--out", str(tmp_path / "p2"), "--quiet", env=env)
    assert loud.code == quiet.code == 0
    assert "Saved the plan to" in loud.err
    assert quiet.err == ""
    assert quiet.out == loud.out and "2 to create" in quiet.out
    assert (tmp_path / "p2").is_file()


def test_quiet_never_hides_errors(tmp_path: Path) -> None:
    result = run_cli("validate", "-q", str(tmp_path / "nope.json"))
    assert result.code == 1
    assert "no such file" in result.err


def test_quiet_apply_prints_outcomes_but_not_the_chatter(devserver: Server, desired: Path) -> None:
    env = {"EDC_MANAGEMENT_URL": devserver.url, "EDC_API_VERSION": "v3"}
    assert run_cli("apply", str(desired), "--auto-approve", env=env).code == 0
    again = run_cli("apply", str(desired), "--auto-approve", "-q", env=env)
    assert again.code == 0
    assert "No changes" in again.out
    assert again.err == ""  # "Nothing to apply." is chatter


# -- shell completion ------------------------------------------------------------------------------


def completion(env: dict[str, str]) -> tuple[int, str]:
    """Run main() for a completion request; click writes completion output as bytes, so stdout needs a buffer."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        with contextlib.redirect_stdout(out):
            code = main([])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out.flush()
    return code, out.buffer.getvalue().decode()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _vaultsync_completion vaultsync"),
        ("zsh", "#compdef vaultsync"),
        ("fish", "complete"),
    ],
)
def test_shell_completion_scripts_are_printed(shell: str, marker: str) -> None:
    code, out = completion({"_VAULTSYNC_COMPLETE": f"{shell}_source"})
    assert code == 0
    assert marker in out
    assert "_VAULTSYNC_COMPLETE" in out


def test_the_installed_command_prints_the_bash_completion_script() -> None:
    env = {**os.environ, "_VAULTSYNC_COMPLETE": "bash_source"}
    proc = subprocess.run([sys.executable, "-m", "vaultsync"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0
    assert "_vaultsync_completion()" in proc.stdout


def test_completion_completes_commands_and_options() -> None:
    def complete(words: str) -> list[str]:
        parts = words.split(" ")
        env = {"_VAULTSYNC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
        code, out = completion(env)
        assert code == 0
        return [line.split(",", 1)[1] for line in out.splitlines()]

    assert complete("vaultsync pl") == ["plan"]
    assert "--detailed-exitcode" in complete("vaultsync plan --de")
    assert complete("vaultsync plan --format ") == ["text", "json", "markdown"]


def test_help_documents_shell_completion() -> None:
    result = run_cli("--help")
    assert result.code == 0
    assert 'eval "$(_VAULTSYNC_COMPLETE=bash_source vaultsync)"' in result.out


# -- pipes: results on stdout, everything else on stderr -------------------------------------------


def test_plan_json_on_stdout_stays_pure_with_verbose_logs_retries_and_warnings(
    devserver: Server, desired: Path, tmp_path: Path
) -> None:
    devserver.server.faults.add(Fault(503, method="GET", alias="alpha", times=1, retry_after="0"))
    url = devserver.url.replace("127.0.0.1", "0.0.0.0")  # draws the plain-HTTP key warning, see above
    proc = subprocess.run(
        [sys.executable, "-m", "vaultsync", "plan", str(desired), "--format", "json", "-v", "--out", "p"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **os.environ,
            "EDC_MANAGEMENT_URL": url,
            "EDC_API_KEY": CANARY + "-key",
            "NO_COLOR": "",
            "EDC_API_VERSION": "v3",
        },
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert doc["summary"]["create"] == 2
    assert "Warning: the API key and secret values travel unencrypted" in proc.stderr
    assert "GET /api/management/v3/secrets/alpha 503" in proc.stderr
    assert "(attempt 2)" in proc.stderr
    assert "Saved the plan to p" in proc.stderr
    assert CANARY not in proc.stdout + proc.stderr


def test_a_failed_plan_prints_nothing_on_stdout(desired: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli(
        "plan",
        str(desired),
        "--format",
        "json",
        "--max-retries",
        "0",
        env={"EDC_MANAGEMENT_URL": f"http://127.0.0.1:{port}/api"},
    )
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("Error: ")


def test_validate_reports_valid_files_on_stdout_and_problems_on_stderr(tmp_path: Path) -> None:
    good = write_desired(tmp_path / "good.json", {"a": "x"})
    bad = write_desired(tmp_path / "bad.json", {"a": {"value": {"nested": CANARY}}})
    result = run_cli("validate", str(good), str(bad))
    assert result.code == 1
    assert result.out == f"{good}: valid (1 secret)\n"
    assert "bad.json" in result.err and "bad.json" not in result.out
    assert CANARY not in result.both
