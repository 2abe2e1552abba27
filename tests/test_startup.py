"""Cold start: commands that make no request must not pay for the HTTP stack, deepdiff or the dev-server.

Each case runs in a fresh interpreter (imports are per process) and reads ``sys.modules`` after
the command; the speed itself is measured by bench/bench.py, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_desired

HEAVY = ("httpx", "httpcore", "anyio", "deepdiff", "vaultsync.devserver", "vaultsync.client", "asyncio")

SNIPPET = """
import json, sys
from vaultsync.cli import main
code = main(sys.argv[1:])
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
raise SystemExit(code)
"""


def run_fresh(*args: str, cwd: Path) -> tuple[int, str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )
    head, _, modules = done.stderr.rpartition("\nMODULES ")
    return done.returncode, done.stdout + head, set(json.loads(modules))


def loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


@pytest.mark.parametrize(
    "args",
    [("--version",), ("--help",), ("plan", "--help"), ("apply", "--help"), ("dev-server", "--help")],
    ids=lambda a: " ".join(a),
)
def test_version_and_help_load_no_heavy_module(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, output, modules = run_fresh(*args, cwd=tmp_path)
    assert code == 0, output
    assert "vaultsync" in output
    assert [m for m in HEAVY if loaded(modules, m)] == []


def test_validate_of_a_large_plain_file_loads_no_heavy_module_nor_jsonschema(tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {f"alias-{i}": f"value-{i}" for i in range(2000)})
    code, output, modules = run_fresh("validate", str(file), cwd=tmp_path)
    assert code == 0, output
    assert "valid (2000 secrets)" in output
    # Plain entries are checked without jsonschema (see desired.schema_check._plain_entry): it loads only for
    # doubtful ones.
    assert [m for m in (*HEAVY, "jsonschema") if loaded(modules, m)] == []


def test_validate_of_an_invalid_file_explains_without_loading_the_http_stack(tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"ok": "x", "bad": {"nested": {"a": 1}}})
    code, output, modules = run_fresh("validate", str(file), cwd=tmp_path)
    assert code == 1
    assert "secrets.bad" in output
    assert loaded(modules, "jsonschema")  # the doubtful entry went to the schema for its message
    assert [m for m in HEAVY if loaded(modules, m)] == []
