"""The pieces of the value sources that need no sops: JSON Pointers, confinement, running programs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from vaultsync.errors import UsageError
from vaultsync.sources import Sources
from vaultsync.sources.command import run_command
from vaultsync.sources.paths import confined
from vaultsync.sources.sops import find_sops, input_type, pointer_get

DOC = {"": "empty key", "a/b": 1, "m~n": 2, "list": ["zero", "one"], "obj": {"k": None}}


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("", DOC),
        ("/", "empty key"),
        ("/a~1b", 1),
        ("/m~0n", 2),
        ("/list/0", "zero"),
        ("/list/1", "one"),
        ("/obj/k", None),
    ],
)
def test_rfc_6901_pointers_find_their_value(pointer: str, expected: object) -> None:
    assert pointer_get(DOC, pointer) == (expected, None)


@pytest.mark.parametrize(
    ("pointer", "message"),
    [
        ("/list/01", '"01" is not an array index (at "/list")'),
        ("/list/-", '"-" is not an array index'),
        ("/list/2", 'the array at "/list" has 2 items'),
        ("/obj/k/x", '"/obj/k" holds null, not an object or an array'),
        ("/nope", 'no key "nope" at the top of the document'),
        ("list", "is not a JSON Pointer"),
    ],
)
def test_pointers_that_miss_say_where(pointer: str, message: str) -> None:
    value, problem = pointer_get(DOC, pointer)
    assert value is None and problem is not None and message in problem


def test_confinement_refuses_escapes_and_absolute_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    assert confined(tmp_path, "sub/x.json") == ((tmp_path / "sub" / "x.json").resolve(), None)
    for ref in ("../x.json", "/etc/passwd", "sub/../../x.json"):
        path, problem = confined(tmp_path, ref)
        assert path is None and problem is not None and "outside the desired-state file's folder" in problem
    assert confined(tmp_path, "a\x00b")[1] is not None


def test_input_types_follow_the_extension() -> None:
    assert [input_type(Path(n)) for n in ("a.sops.json", "a.yaml", "B.YML", "x.env", "y.ini", "z")] == [
        "json",
        "yaml",
        "yaml",
        "dotenv",
        "ini",
        "json",
    ]


def test_find_sops_prefers_vaultsync_sops(tmp_path: Path) -> None:
    program = tmp_path / "my-sops"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert find_sops({"VAULTSYNC_SOPS": str(program), "PATH": ""}) == (str(program), None)
    assert "not installed" in str(find_sops({"PATH": str(tmp_path)})[1])


def test_a_timed_out_program_is_stopped_with_its_children(tmp_path: Path) -> None:
    # The child keeps stdout open; without killing the whole group, reading it would wait 60 s.
    sleeper = "import time; time.sleep(60)"
    code = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); time.sleep(60)"
    started = time.monotonic()
    value, problem = run_command([sys.executable, "-c", code], cwd=tmp_path, env={}, timeout=0.5)
    assert time.monotonic() - started < 10
    assert value is None and problem is not None and "did not finish within 0.5 s" in problem


def test_output_keeps_all_but_one_trailing_newline(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; sys.stdout.write(' x\\r\\n\\n')"]
    assert run_command(argv, cwd=tmp_path, env={}, timeout=10) == (" x\r\n", None)


def test_the_timeout_setting_is_checked() -> None:
    assert Sources.for_run({"VAULTSYNC_COMMAND_TIMEOUT": "2.5"}, "run").command_timeout == 2.5
    for bad in ("0", "-1", "nan", "inf", "soon"):
        with pytest.raises(UsageError, match="VAULTSYNC_COMMAND_TIMEOUT"):
            Sources.for_run({"VAULTSYNC_COMMAND_TIMEOUT": bad}, "run")


def test_sources_never_show_values_in_their_repr() -> None:
    sources = Sources({"SECRET": "s3cr3t"}, "run")
    sources._decrypted[Path("/x")] = ({"k": "s3cr3t"}, None)
    assert "s3cr3t" not in repr(sources)
