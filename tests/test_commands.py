"""fromCommand entries: programs run only with --allow-commands, never by validate, and never leak."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

from vaultsync.desired import parse_desired
from vaultsync.errors import InputError
from vaultsync.sources import Sources
from vaultsync.statecodec import unpack


def program(code: str, marker: Path | None = None) -> list[str]:
    """argv running Python ``code``; with ``marker``, it first appends a line there (proof that it ran)."""
    prefix = f"open({str(marker)!r}, 'a').write('ran\\n')\n" if marker else ""
    return [sys.executable, "-c", prefix + code]


def canary(suffix: str = "") -> str:
    """Python source for CANARY + suffix that does not contain CANARY itself (the file must not hold it)."""
    return f"({CANARY[:8]!r} + {CANARY[8:] + suffix!r})"


def ran(marker: Path) -> int:
    return marker.read_text().count("ran") if marker.exists() else 0


def cli(server: Server, *args: str, **env: str) -> Result:
    return run_cli(*args, "--no-color", env={"EDC_MANAGEMENT_URL": server.url, **env})


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "ran.log"


def secret_file(tmp_path: Path, marker: Path, **more: Any) -> Path:
    code = f"import sys; sys.stdout.write({canary('-cmd')} + '\\n\\n')"
    return write_desired(
        tmp_path / "desired.json", {"from-program": {"fromCommand": program(code, marker)}, "plain": "p", **more}
    )


def test_plan_and_apply_refuse_commands_without_the_flag_running_nothing_and_sending_nothing(
    devserver: Server, tmp_path: Path, marker: Path
) -> None:
    desired = secret_file(tmp_path, marker)
    for args in (("plan",), ("apply", "--auto-approve"), ("drift",)):
        result = cli(devserver, args[0], str(desired), *args[1:])
        assert result.code == 1, result.out
        assert f"{desired}: secrets.from-program.fromCommand: runs a program" in result.err
        assert "--allow-commands" in result.err
    assert ran(marker) == 0
    assert devserver.requests == []


def test_with_the_flag_the_output_minus_one_newline_is_the_value(
    devserver: Server, tmp_path: Path, marker: Path
) -> None:
    desired = secret_file(tmp_path, marker)
    applied = cli(devserver, "apply", str(desired), "--auto-approve", "--allow-commands")
    assert applied.code == 0, applied.err
    assert devserver.secrets["from-program"] == CANARY + "-cmd\n"  # one newline stripped, the other kept
    assert ran(marker) == 1
    again = cli(devserver, "plan", str(desired), "--allow-commands", "--detailed-exitcode")
    assert again.code == 0, again.both
    drift = cli(devserver, "drift", str(desired), "--allow-commands")
    assert drift.code == 0, drift.both
    assert CANARY not in applied.both + again.both + drift.both


def test_the_program_runs_in_the_desired_file_folder_without_a_shell(devserver: Server, tmp_path: Path) -> None:
    (tmp_path / "value.txt").write_text("from-the-folder")
    code = "import sys; sys.stdout.write(open('value.txt').read() + sys.argv[1])"
    desired = write_desired(tmp_path / "d.json", {"a": {"fromCommand": [*program(code), " $HOME; `x`"]}})
    result = cli(devserver, "apply", str(desired), "--auto-approve", "--allow-commands")
    assert result.code == 0, result.err
    assert devserver.secrets["a"] == "from-the-folder $HOME; `x`"


def test_validate_checks_the_form_and_never_runs_programs(devserver: Server, tmp_path: Path, marker: Path) -> None:
    desired = secret_file(tmp_path, marker)
    ok = run_cli("validate", str(desired))
    assert ok.code == 0, ok.err
    assert "valid (2 secrets)" in ok.out
    bad = write_desired(
        tmp_path / "bad.json",
        {
            "empty": {"fromCommand": []},
            "shell": {"fromCommand": "op read x"},
            "num": {"fromCommand": ["op", 3]},
            "blank": {"fromCommand": ["", "x"]},
        },
    )
    result = run_cli("validate", str(bad))
    assert result.code == 1
    assert "secrets.empty.fromCommand: must name a program" in result.err
    assert "secrets.shell.fromCommand: must be a list of strings" in result.err
    assert "secrets.num.fromCommand[1]: each argument must be a string" in result.err
    assert "secrets.blank.fromCommand[0]: the program name must not be empty" in result.err
    assert ran(marker) == 0


def test_import_and_state_use_the_file_without_running_programs(
    devserver: Server, tmp_path: Path, marker: Path
) -> None:
    desired = secret_file(tmp_path, marker)
    devserver.secrets["from-program"] = "set by hand"
    imported = cli(devserver, "import", str(desired), "from-program")
    assert imported.code == 0, imported.err
    listed = cli(devserver, "state", "list", str(desired))
    assert listed.out.split() == ["from-program"]
    assert ran(marker) == 0
    assert devserver.secrets["from-program"] == "set by hand"


def test_a_saved_plan_never_carries_the_permission(devserver: Server, tmp_path: Path, marker: Path) -> None:
    desired = secret_file(tmp_path, marker)
    out = tmp_path / "reviewed.plan"
    planned = cli(devserver, "plan", str(desired), "--allow-commands", "--out", str(out))
    assert planned.code == 0, planned.err
    assert CANARY.encode() not in out.read_bytes()
    assert ran(marker) == 1
    devserver.reset_log()
    refused = cli(devserver, "apply", str(out))
    assert refused.code == 1
    assert "--allow-commands" in refused.err
    assert devserver.requests == [] and ran(marker) == 1
    applied = cli(devserver, "apply", str(out), "--allow-commands")
    assert applied.code == 0, applied.err
    assert devserver.secrets["from-program"] == CANARY + "-cmd\n"
    assert CANARY not in planned.both + refused.both + applied.both


def test_failing_programs_are_reported_together_naming_alias_and_status_never_their_output(
    devserver: Server, tmp_path: Path
) -> None:
    noisy = f"import sys; print({canary()}); print({canary()}, file=sys.stderr)"
    desired = write_desired(
        tmp_path / "d.json",
        {
            "fails": {"fromCommand": program(noisy + "; sys.exit(3)")},
            "silent": {"fromCommand": program("print()")},
            "blank": {"fromCommand": program("print('   ')")},
            "slow": {"fromCommand": program(noisy + "; sys.stdout.flush(); import time; time.sleep(60)")},
            "binary": {"fromCommand": program("import sys; sys.stdout.buffer.write(b'\\xff\\xfe')")},
            "killed": {"fromCommand": program("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")},
            "missing": {"fromCommand": ["vaultsync-no-such-program-xyz", "read"]},
            "not-executable": {"fromCommand": [str(desired_path := tmp_path / "d.json")]},
        },
    )
    assert desired == desired_path
    started = time.monotonic()
    result = cli(devserver, "plan", str(desired), "--allow-commands", "-v", VAULTSYNC_COMMAND_TIMEOUT="1")
    assert time.monotonic() - started < 20
    assert result.code == 1
    assert devserver.requests == []
    assert CANARY not in result.both
    assert "Traceback" not in result.err
    err = result.err
    assert f"{desired}: secrets.fails.fromCommand: program " in err and "failed with exit status 3" in err
    assert "secrets.silent.fromCommand: program" in err and "printed nothing (exit status 0)" in err
    assert "secrets.blank.fromCommand: program" in err
    assert "secrets.slow.fromCommand: program" in err and "did not finish within 1 s" in err
    assert "secrets.binary.fromCommand: program" in err and "not UTF-8" in err
    assert "secrets.killed.fromCommand: program" in err and "killed by signal 9" in err
    assert 'secrets.missing.fromCommand: program "vaultsync-no-such-program-xyz" not found (on PATH)' in err
    assert "secrets.not-executable.fromCommand: program" in err and "permission denied" in err


def test_a_bad_timeout_setting_is_a_clear_error(devserver: Server, tmp_path: Path, marker: Path) -> None:
    desired = secret_file(tmp_path, marker)
    result = cli(devserver, "plan", str(desired), "--allow-commands", VAULTSYNC_COMMAND_TIMEOUT="soon")
    assert result.code == 1
    assert "VAULTSYNC_COMMAND_TIMEOUT='soon'" in result.err
    assert ran(marker) == 0 and devserver.requests == []


def test_program_outputs_never_leak_to_outputs_plans_state_or_files(
    devserver: Server, tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))  # in-process temporary files would land there too
    code = f"import sys; sys.stdout.write({canary('-json')})"
    desired = secret_file(repo, marker, other={"fromCommand": program(code)})
    plan_out = repo / "p.plan"
    runs = [
        cli(devserver, "plan", str(desired), "--allow-commands", "-v", "--out", str(plan_out), TMPDIR=str(tmpdir)),
        cli(devserver, "plan", str(desired), "--allow-commands", "--format", "json", TMPDIR=str(tmpdir)),
        cli(devserver, "plan", str(desired), "--allow-commands", "--format", "markdown", TMPDIR=str(tmpdir)),
        cli(devserver, "apply", str(plan_out), "--allow-commands", "-v", TMPDIR=str(tmpdir)),
        cli(devserver, "apply", str(desired), "--allow-commands", "--auto-approve", "-v", TMPDIR=str(tmpdir)),
    ]
    assert [r.code for r in runs] == [0] * 5, [r.err for r in runs]
    for result in runs:
        assert CANARY not in result.both
    assert devserver.secrets["other"] == CANARY + "-json"
    assert CANARY not in unpack(devserver.secrets["vaultsync-state"], {}, "state")
    for path in repo.rglob("*"):
        assert CANARY.encode() not in path.read_bytes(), path
    assert sorted(p.name for p in repo.iterdir()) == ["desired.json", "p.plan"]
    assert list(tmpdir.iterdir()) == []


def test_parse_desired_refuses_commands_by_default() -> None:
    data = json.dumps({"version": 1, "secrets": {"a": {"fromCommand": ["true"]}}}).encode()
    with pytest.raises(InputError, match="runs a program"):
        parse_desired("f.json", data, env={}, reserved=())
    checked = parse_desired("f.json", data, env={}, reserved=(), sources=Sources({}, "check"))
    assert checked.secrets["a"].kind == "fromCommand"
