"""``fromCommand``: a program's standard output as the value, run only when the user allows it.

The output is a secret: it is never printed, not even when the program fails (a password manager's
error can echo what it was asked for, and a half-written secret is still a secret). Only the program's
name and exit status appear in messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

# run: plan and apply with --allow-commands. refuse: plan and apply without it (no program runs).
# check: validate and the commands that never use values (import, state, force-unlock): the form is
# checked, no program runs, and the value is a placeholder that is never sent anywhere.
CommandPolicy = Literal["run", "refuse", "check"]
COMMAND_PLACEHOLDER = "(output of a program at run time)"
DEFAULT_TIMEOUT = 30.0
MAX_OUTPUT = 64 * 1024 * 1024

REFUSED = (
    "runs a program, which plan, apply and drift do only with --allow-commands (a desired-state file "
    "from an untrusted branch must not run programs on a CI runner); no program was run"
)


def _name(argv: Sequence[str]) -> str:
    return json.dumps(argv[0])


def run_command(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> tuple[str | None, str | None]:
    """(value, problem): run ``argv`` (no shell) in ``cwd`` and take its stdout minus one trailing newline."""
    name = _name(argv)
    try:
        # A session of its own: on a timeout the whole group goes, so a grandchild holding the pipe open
        # cannot keep vaultsync waiting. stdin is closed: a program asking for a password must not hang CI.
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        where = "in the desired-state file's folder" if "/" in argv[0] else "on PATH"
        return None, f"program {name} not found ({where}); no program was run"
    except PermissionError:
        return None, f"program {name} cannot be run: permission denied"
    except OSError as exc:
        return None, f"program {name} cannot be run: {exc.strerror}"
    except ValueError:  # a NUL character in an argument
        return None, f"program {name} cannot be run: an argument contains a NUL character"
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        return None, f"program {name} did not finish within {timeout:g} s and was stopped; its output is not shown"
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C): leave no program behind
            _kill_group(proc)
            proc.wait()
    status = proc.returncode
    if status < 0:
        return None, f"program {name} was killed by signal {-status}; its output is not shown"
    if status != 0:
        return None, f"program {name} failed with exit status {status}; its output is not shown (it may hold secrets)"
    return _value(name, stdout)


def _value(name: str, stdout: bytes) -> tuple[str | None, str | None]:
    if len(stdout) > MAX_OUTPUT:
        return None, f"program {name} printed more than {MAX_OUTPUT} bytes (exit status 0)"
    if b"\x00" in stdout:
        return None, f"program {name} printed NUL bytes (exit status 0): print binary values base64-encoded"
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"program {name} printed bytes that are not UTF-8 text (exit status 0)"
    text = text.removesuffix("\n")
    if not text.strip():
        return None, f"program {name} printed nothing (exit status 0): EDC refuses an empty or blank value"
    return text, None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
