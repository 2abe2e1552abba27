"""Papercuts a new user met (issue 16): messages that misled, and an interrupted apply that flooded the terminal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CANARY, Server, run_cli, write_desired

from vaultsync.console import Console
from vaultsync.devserver import Fault
from vaultsync.model import DesiredSecret
from vaultsync.plan import Action, Outcome, Plan, diff, unsafe_deletes
from vaultsync.render import text_outcomes

# -- --help: EDC_API_KEY holds the key, not a path ---------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["plan", "--help"], ["apply", "--help"]])
def test_help_does_not_say_that_edc_api_key_holds_a_path(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.code == 0
    text = " ".join(result.out.split())  # help text is wrapped: compare it as one line
    assert "[env EDC_API_KEY]" not in text
    assert "EDC_API_KEY (the key itself" in text
    assert "--api-key-file / EDC_API_KEY" not in text


# -- desired-state files that are not JSON, or are cut short -------------------------------------------------


def _validate(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.code == 1, result
    assert "Traceback" not in result.both
    return result.err


@pytest.mark.parametrize("name", ["desired.yaml", "desired.json"])
def test_a_yaml_file_is_called_yaml_not_expecting_value(tmp_path: Path, name: str) -> None:
    err = _validate(tmp_path, name, f"version: 1\nsecrets:\n  oauth: {CANARY}\n")
    assert "Expecting value" not in err
    assert f"{name}:1:1: " in err
    assert "not JSON" in err and "YAML" in err and "not supported" in err
    assert CANARY not in err


def test_a_yaml_document_marker_is_called_yaml(tmp_path: Path) -> None:
    err = _validate(tmp_path, "d.json", "---\nversion: 1\n")
    assert "YAML" in err and "not supported" in err


def test_a_file_that_is_neither_json_nor_yaml_says_it_is_not_json(tmp_path: Path) -> None:
    err = _validate(tmp_path, "d.json", "<html>oops</html>\n")
    assert "Expecting value" not in err
    assert "not JSON" in err


@pytest.mark.parametrize(
    "content",
    [
        '{"version": 1, "secrets": {"a": "' + CANARY,  # the file ends inside a string
        '{"version": 1, "secrets": {"a": "' + CANARY + "\n}}\n",  # a closing quote forgotten
    ],
    ids=["truncated", "unclosed-quote"],
)
def test_a_string_cut_short_gets_a_complete_sentence(tmp_path: Path, content: str) -> None:
    err = _validate(tmp_path, "d.json", content)
    line = err.strip().splitlines()[-1]
    assert not re.search(r"\b(at|starting at)$", line), f"message cut mid-sentence: {line!r}"
    assert "string" in line and ("closing quote" in line or "cut short" in line)
    assert CANARY not in err


def test_a_file_ending_early_says_it_may_be_cut_short(tmp_path: Path) -> None:
    err = _validate(tmp_path, "d.json", '{"version": 1, "secrets": {"a": "x",')
    assert "cut short" in err


# -- numbers and booleans are not "nested JSON" ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "kind", "place"),
    [
        (123456, "a number", "secrets.a"),
        (1.5, "a number", "secrets.a"),
        (True, "a boolean", "secrets.a"),
        ({"value": 42}, "a number", "secrets.a.value"),
        ({"value": False}, "a boolean", "secrets.a.value"),
    ],
)
def test_a_number_or_boolean_is_told_to_be_quoted(tmp_path: Path, entry: object, kind: str, place: str) -> None:
    file = write_desired(tmp_path / "d.json", {"a": entry})
    result = run_cli("validate", str(file))
    assert result.code == 1
    assert f"{place}: {kind}" in result.err
    assert "quote it" in result.err
    assert "nested JSON" not in result.err
    assert "123456" not in result.err  # the value itself is never echoed


def test_an_object_value_is_still_nested_json(tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": {"value": {"accessKeyId": "x"}}})
    result = run_cli("validate", str(file))
    assert "secrets.a.value: nested JSON value refused" in result.err


# -- percentages are never rounded to 100% or 0% when they are not ---------------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        (3000, 3005, "99.8%"),
        (9999, 10000, "99.99%"),
        (1, 10000, "0.01%"),
        (1, 3, "33%"),
        (3, 10, "30%"),
        (10, 10, "100%"),
        (0, 10, "0%"),
    ],
)
def test_percent_never_rounds_to_a_wrong_whole(part: int, whole: int, shown: str) -> None:
    from vaultsync.text import percent

    assert percent(part, whole) == shown


def plan_deleting(deletes: int, managed: int) -> Plan:
    aliases = [f"s{i:04}" for i in range(managed)]
    keep = {a: DesiredSecret(a, "value", "v") for a in aliases[deletes:]}
    return diff(keep, dict.fromkeys(aliases, "v"), aliases)


def test_the_mass_deletion_message_does_not_say_100_percent_of_3005() -> None:
    reason = unsafe_deletes(plan_deleting(3000, 3005))
    assert reason is not None
    assert "3000 of 3005" in reason
    assert "100%" not in reason
    assert "99.8%" in reason


def test_the_mass_deletion_banner_in_the_plan_shows_the_true_share(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    file = write_desired(tmp_path / "d.json", {f"s{i:04}": "v" for i in range(1001)})
    assert run_cli("apply", str(file), "--auto-approve", env=env_for).code == 0
    write_desired(file, {"s0000": "v"})
    result = run_cli("plan", str(file), env=env_for)
    assert "1000 of 1001 managed secrets (99.9%" in result.out


# -- an interrupted apply: counts and a few names, not a line per change ------------------------------------


def _skipped(n: int) -> list[Outcome]:
    actions = [Action.CREATE, Action.UPDATE, Action.DELETE]
    return [Outcome(f"alias-{i:05}", actions[i % 3], "skipped", "not started: interrupted") for i in range(n)]


def test_thousands_of_changes_not_started_are_summarised_in_a_few_lines() -> None:
    outcomes = [Outcome("done-1", Action.CREATE, "done"), *_skipped(2822)]
    text = text_outcomes(Console(), outcomes, "d.json")
    lines = text.splitlines()
    assert len(lines) <= 8, text
    assert "created done-1" in text
    assert "2822 not started" in text
    assert "941 create, 941 update, 940 delete" in text
    assert "alias-00000" in text  # a few are named
    assert "alias-02821" not in text
    assert "and 2,817 more" in text
    assert "converges" in text


def test_one_change_not_started_is_still_named() -> None:
    text = text_outcomes(Console(), _skipped(1), "d.json")
    assert "alias-00000" in text
    assert "1 not started" in text


def test_a_real_interrupted_apply_prints_a_summary_not_a_line_per_change(devserver: Server, tmp_path: Path) -> None:
    apps = {f"app-{i:03}": f"{CANARY}-{i}" for i in range(300)}
    file = write_desired(tmp_path / "d.json", apps)
    devserver.server.faults.add(Fault("delay", method="POST", alias="app-*", times=1000, delay=1.0))
    env = {**os.environ, "EDC_MANAGEMENT_URL": devserver.url, "NO_COLOR": "1"}
    env.pop("EDC_API_KEY", None)
    command = [sys.executable, "-m", "vaultsync", "apply", str(file), "--auto-approve", "--parallelism", "2"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert devserver.server.faults.wait_for_hits(2, timeout=30), "apply never got its writes in flight"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "skipped: not started" not in out
    assert "298 not started" in out
    outcome = out.split("Plan: 300 to create", 1)[1]  # what follows the plan (which lists the 300 creates)
    assert len(outcome.splitlines()) <= 10, outcome
    assert "created app-" in outcome  # the two calls in flight finished
    assert "converges" in out
    assert CANARY not in out + err
