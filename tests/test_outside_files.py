"""`fromFile` reads only inside the desired-state file's folder tree, unless `--allow-outside-files` says otherwise.

A branch's desired-state file must not be able to ship any file of the CI runner (`/etc/hostname`, a
neighbouring workspace's API key) into the vault: absolute paths, `..` escapes and symlinks pointing out
are refused by validation, with zero requests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import CANARY, Server, run_cli, write_desired

from vaultsync.desired import load_desired

OUTSIDE_VALUE = CANARY + "-outside"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """ws/apikey outside the repository; repo/connectors/ holds the desired file and keys/ beside it."""
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "apikey").write_text(OUTSIDE_VALUE)
    folder = tmp_path / "repo" / "connectors"
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "tls.pem").write_text("inside-value")
    (tmp_path / "repo" / "other.pem").write_text(OUTSIDE_VALUE)  # in the repository, but above the file's folder
    return folder


def escapes(folder: Path) -> dict[str, str]:
    """Every way out of the folder, each as a fromFile reference."""
    (folder / "link-out").symlink_to(folder.parent.parent / "ws" / "apikey")
    (folder / "keys" / "dir-link").symlink_to(folder.parent.parent / "ws", target_is_directory=True)
    return {
        "absolute": str(folder.parent.parent / "ws" / "apikey"),
        "dotdot": "../../ws/apikey",
        "dotdot-in-repo": "../other.pem",
        "inner-dotdot": "keys/../../other.pem",
        "symlink-file": "link-out",
        "symlink-dir": "keys/dir-link/apikey",
    }


def test_every_escape_is_refused_naming_alias_file_and_flag(layout: Path) -> None:
    refs = escapes(layout)
    desired = write_desired(layout / "d.json", {alias: {"fromFile": ref} for alias, ref in refs.items()})

    result = run_cli("validate", str(desired))

    assert result.code == 1
    lines = result.err.strip().splitlines()
    for alias in refs:
        (line,) = [line for line in lines if f"secrets.{alias}.fromFile" in line]
        assert str(desired) in line
        assert "outside" in line and "--allow-outside-files" in line
    assert OUTSIDE_VALUE not in result.both


def test_files_inside_the_folder_tree_are_fine_symlinks_included(layout: Path) -> None:
    (layout / "keys" / "alias-link").symlink_to(layout / "keys" / "tls.pem")
    desired = write_desired(
        layout / "d.json",
        {
            "a": {"fromFile": "keys/tls.pem"},
            "b": {"fromFile": "./keys/../keys/tls.pem"},
            "c": {"fromFile": "keys/alias-link"},
        },
    )

    state = load_desired(str(desired), env={}, reserved=())

    assert {a: s.value for a, s in state.secrets.items()} == dict.fromkeys("abc", "inside-value")


def test_the_folder_is_the_real_one_when_reached_through_a_symlink(tmp_path: Path, layout: Path) -> None:
    """A desired file opened through a symlinked folder reads relative to where it is; still confined."""
    (tmp_path / "via").symlink_to(layout, target_is_directory=True)
    desired = write_desired(layout / "d.json", {"a": {"fromFile": "keys/tls.pem"}, "b": {"fromFile": "../other.pem"}})

    result = run_cli("validate", str(tmp_path / "via" / "d.json"))

    assert result.code == 1 and "secrets.b.fromFile" in result.err and "secrets.a" not in result.err
    assert desired.is_file()


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_plan_and_apply_refuse_before_any_request(
    layout: Path, devserver: Server, env_for: dict[str, str], command: str
) -> None:
    desired = write_desired(layout / "d.json", {"ok": "v", "key": {"fromFile": "../../ws/apikey"}})
    extra = ["--auto-approve"] if command == "apply" else []

    result = run_cli(command, str(desired), *extra, env=env_for)

    assert result.code == 1
    assert "secrets.key.fromFile" in result.err and "--allow-outside-files" in result.err
    assert devserver.requests == []
    assert OUTSIDE_VALUE not in result.both


def test_the_flag_allows_it_on_validate_plan_and_apply(
    layout: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    desired = write_desired(layout / "d.json", {"key": {"fromFile": "../../ws/apikey"}})

    validated = run_cli("validate", str(desired), "--allow-outside-files")
    planned = run_cli("plan", str(desired), "--allow-outside-files", env=env_for)
    applied = run_cli("apply", str(desired), "--auto-approve", "--allow-outside-files", env=env_for)

    assert (validated.code, planned.code, applied.code) == (0, 0, 0), applied.err
    assert devserver.secrets["key"] == OUTSIDE_VALUE
    assert OUTSIDE_VALUE not in validated.both + planned.both + applied.both


def test_a_saved_plan_does_not_carry_the_permission(layout: Path, devserver: Server, env_for: dict[str, str]) -> None:
    desired = write_desired(layout / "d.json", {"key": {"fromFile": "../../ws/apikey"}})
    planfile = layout / "vaultsync.plan"
    assert run_cli("plan", str(desired), "--out", str(planfile), "--allow-outside-files", env=env_for).code == 0
    devserver.reset_log()

    refused = run_cli("apply", str(planfile), env=env_for)
    assert refused.code == 1 and "--allow-outside-files" in refused.err
    assert devserver.requests == []

    allowed = run_cli("apply", str(planfile), "--allow-outside-files", env=env_for)
    assert allowed.code == 0, allowed.err
    assert devserver.secrets["key"] == OUTSIDE_VALUE


def test_an_outside_file_that_does_not_exist_says_outside_not_missing(layout: Path) -> None:
    """Whether a file exists outside the tree is not revealed either."""
    desired = write_desired(layout / "d.json", {"a": {"fromFile": "/nonexistent-dir/secret"}})

    result = run_cli("validate", str(desired))

    assert result.code == 1 and "outside" in result.err and "does not exist" not in result.err


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root reads everything")
def test_unreadable_inside_file_still_reports_why(layout: Path) -> None:
    secret = layout / "keys" / "locked.pem"
    secret.write_text("x")
    secret.chmod(0)
    desired = write_desired(layout / "d.json", {"a": {"fromFile": "keys/locked.pem"}})

    result = run_cli("validate", str(desired))

    assert result.code == 1 and "cannot read" in result.err
