"""Hostile desired-state files: each is refused with exit 1, a message naming the problem and its place,
no traceback, and not a single HTTP request.

The committed corpus lives in tests/inputs/ with its expectations in tests/inputs/expected.json; very
large, very deep and special files (FIFOs, unreadable files) are generated here at run time.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Result, Server, run_cli, running_devserver, write_desired

from vaultsync.desired import MAX_FILE_BYTES

INPUTS = Path(__file__).parent / "inputs"
EXPECTED: dict[str, object] = json.loads((INPUTS / "expected.json").read_text("utf-8"))
CASES = sorted(name for name in EXPECTED if not name.startswith("_"))
UNSET = ("VAULTSYNC_CORPUS_UNSET_VARIABLE", "VAULTSYNC_CORPUS_UNSET_KEY")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # anything but \t and \n would drive a terminal


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def _server() -> Iterator[Server]:
    with running_devserver() as dev:
        yield dev


@pytest.fixture
def devserver(_server: Server) -> Server:
    """One dev-server for the whole corpus (hundreds of runs), its request log emptied for each test."""
    _server.reset_log()
    return _server


def run(command: str, file: Path, devserver: Server) -> Result:
    extra = ["--auto-approve"] if command == "apply" else []
    env = {"EDC_MANAGEMENT_URL": devserver.url, "VAULTSYNC_CORPUS_EMPTY_VARIABLE": ""}
    return run_cli(command, str(file), *extra, env=env)


def assert_refused(result: Result, file: Path, messages: list[str], devserver: Server) -> None:
    assert result.code == 1, result
    assert "Traceback" not in result.both
    assert result.out == ""
    assert result.err.startswith("Error: ")
    assert str(file) in result.err  # the file is named
    for message in messages:
        assert message in result.err
    assert not CONTROL.search(result.err), "unescaped control character reached the terminal"
    assert devserver.requests == [], "a bad file must cost zero requests"


def test_the_corpus_is_big_enough_and_fully_described() -> None:
    on_disk = {p.name for p in INPUTS.glob("*.json")} - {"expected.json"}
    assert on_disk == set(CASES)
    assert len(CASES) >= 40


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
@pytest.mark.parametrize("name", CASES)
def test_every_corpus_file_is_refused_clearly_without_a_request(devserver: Server, name: str, command: str) -> None:
    expected = EXPECTED[name]
    if isinstance(expected, dict):
        messages, validate_ok = list(expected["messages"]), expected.get("validate") == "ok"
    else:
        assert isinstance(expected, list)
        messages, validate_ok = list(expected), False
    file = INPUTS / name
    result = run(command, file, devserver)
    if command == "validate" and validate_ok:
        assert result.code == 0, result  # validate needs no key, so an unset apiKeyEnv is fine there
        assert devserver.requests == []
        return
    assert_refused(result, file, messages, devserver)


# -- generated at run time: too big for the repository, or not files git can hold ------------------------


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_file_over_the_size_limit(devserver: Server, tmp_path: Path, command: str) -> None:
    file = tmp_path / "huge.json"
    with file.open("wb") as handle:
        handle.write(b'{"version": 1, "secrets": {"a": "')
        handle.truncate(MAX_FILE_BYTES + 1)
    assert_refused(run(command, file, devserver), file, [f"the limit is {MAX_FILE_BYTES}"], devserver)


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_a_very_deeply_nested_document(devserver: Server, tmp_path: Path, command: str) -> None:
    file = tmp_path / "deep.json"
    file.write_text('{"version": 1, "secrets": {"a": {"json": ' + "[" * 200_000 + "]" * 200_000 + "}}}")
    assert_refused(run(command, file, devserver), file, ["invalid JSON: nested too deeply"], devserver)


def test_a_very_large_document_with_one_bad_entry_names_it(devserver: Server, tmp_path: Path) -> None:
    secrets: dict[str, object] = {f"alias-{i:05d}": f"value-{i}" for i in range(5000)}
    secrets["alias-04321"] = {"value": {"nested": True}}
    file = write_desired(tmp_path / "large.json", secrets)
    assert_refused(run("plan", file, devserver), file, ["secrets.alias-04321.value: nested JSON value"], devserver)


def test_a_fromfile_that_is_a_fifo_is_refused_without_blocking(devserver: Server, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    file = write_desired(tmp_path / "d.json", {"a": {"fromFile": "pipe"}})
    assert_refused(run("plan", file, devserver), file, ['secrets.a.fromFile: "pipe"'], devserver)


def test_a_fromfile_that_is_a_dangling_symlink(devserver: Server, tmp_path: Path) -> None:
    (tmp_path / "link.pem").symlink_to(tmp_path / "gone.pem")
    file = write_desired(tmp_path / "d.json", {"a": {"fromFile": "link.pem"}})
    message = 'secrets.a.fromFile: file "link.pem" does not exist'
    assert_refused(run("plan", file, devserver), file, [message], devserver)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_fromfile(devserver: Server, tmp_path: Path) -> None:
    secret = tmp_path / "key.pem"
    secret.write_text("-----BEGIN KEY-----")
    secret.chmod(0)
    file = write_desired(tmp_path / "d.json", {"a": {"fromFile": "key.pem"}})
    assert_refused(run("plan", file, devserver), file, ['secrets.a.fromFile: cannot read "key.pem"'], devserver)


def test_a_missing_desired_state_file(devserver: Server, tmp_path: Path) -> None:
    file = tmp_path / "nowhere.json"
    assert_refused(run("plan", file, devserver), file, ["no such file"], devserver)


def test_every_file_of_several_is_checked_before_any_request(devserver: Server, tmp_path: Path) -> None:
    good = write_desired(tmp_path / "good.json", {"a": "aaaa"})
    result = run_cli(
        "plan",
        str(good),
        str(INPUTS / "value-number.json"),
        str(INPUTS / "fromenv-unset.json"),
        env={"EDC_MANAGEMENT_URL": devserver.url},
    )
    assert result.code == 1
    assert "value-number.json: secrets.a.value" in result.err
    assert "fromenv-unset.json: secrets.oauth-client.fromEnv" in result.err
    assert devserver.requests == []
