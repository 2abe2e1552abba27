"""The progress bar: on a terminal for long runs, erased when done; nothing at all anywhere else."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from conftest import Server, Terminal, run_with_stderr, write_desired

from vaultsync.console import Console, Progress

BAR = re.compile(r"\r[^\r\n]* \[[#-]+\] \d+/\d+")
ERASE = "\r\x1b[K"


def without_bar(text: str) -> str:
    return BAR.sub("", text).replace(ERASE, "")


@pytest.fixture
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run counts as long and every step redraws, so the test does not depend on speed."""
    monkeypatch.setattr(Progress, "DELAY", 0.0)
    monkeypatch.setattr(Progress, "INTERVAL", 0.0)


def many(tmp_path: Path, count: int) -> Path:
    return write_desired(tmp_path / "d.json", {f"s{i:04d}": f"v{i}" for i in range(count)})


@pytest.mark.usefixtures("no_delay")
def test_a_long_plan_on_a_terminal_draws_a_bar_up_to_the_total_and_erases_it(tmp_path: Path, devserver: Server) -> None:
    file = many(tmp_path, 250)
    result = run_with_stderr("plan", str(file), "--format", "json", "--url", devserver.url, err=Terminal())
    assert result.code == 0, result
    frames = BAR.findall(result.err)
    assert frames and frames[0].startswith(f"\rreading {file}")
    assert frames[-1].endswith("[" + "#" * 30 + "] 250/250")
    # The terminal is left clean: the last frame is erased (a note may follow, on a clean line).
    assert result.err.endswith(ERASE) or ERASE + "no state found" in result.err
    assert json.loads(result.out)  # stdout untouched: still one JSON document
    assert "\r" not in result.out


@pytest.mark.usefixtures("no_delay")
def test_when_stderr_is_not_a_terminal_the_output_is_exactly_the_same_minus_the_bar(
    tmp_path: Path, devserver: Server
) -> None:
    file = many(tmp_path, 250)
    on_terminal = run_with_stderr("plan", str(file), "--url", devserver.url, "--no-color", err=Terminal())
    devserver.reset_log()
    piped = run_with_stderr("plan", str(file), "--url", devserver.url, "--no-color", err=io.StringIO())
    assert BAR.search(on_terminal.err)
    assert "\r" not in piped.err and "\x1b" not in piped.err
    assert piped.err == without_bar(on_terminal.err)
    assert piped.out == on_terminal.out


@pytest.mark.usefixtures("no_delay")
def test_apply_on_a_terminal_shows_its_writes_progressing(tmp_path: Path, devserver: Server) -> None:
    file = many(tmp_path, 220)
    result = run_with_stderr("apply", str(file), "--auto-approve", "--url", devserver.url, err=Terminal())
    assert result.code == 0, result
    assert any(f.startswith(f"\rapplying {file}") for f in BAR.findall(result.err))
    assert len(devserver.secrets) >= 220


@pytest.mark.usefixtures("no_delay")
@pytest.mark.parametrize(
    ("count", "flags"),
    [(20, ()), (250, ("-q",))],
    ids=["short run", "quiet"],
)
def test_no_bar_for_a_short_run_or_with_quiet(
    tmp_path: Path, devserver: Server, count: int, flags: tuple[str, ...]
) -> None:
    result = run_with_stderr("plan", str(many(tmp_path, count)), "--url", devserver.url, *flags, err=Terminal())
    assert result.code == 0, result
    assert "\r" not in result.err


def test_a_run_that_ends_before_the_delay_shows_nothing_and_a_slow_one_does() -> None:
    now = [0.0]
    err = Terminal()
    quick = Progress(Console(err=err), "reading", 1000, clock=lambda: now[0])
    for _ in range(1000):
        quick(1)
    quick.close()
    assert err.getvalue() == ""

    slow = Progress(Console(err=err), "reading", 1000, clock=lambda: now[0])
    slow(10)
    now[0] = Progress.DELAY + 0.01
    slow(10)
    assert err.getvalue() == "\rreading [" + "-" * 30 + "] 20/1000"


def test_a_message_during_the_bar_starts_on_a_clean_line(no_delay: None) -> None:
    err = Terminal()
    console = Console(err=err)
    bar = Progress(console, "reading", 300)
    bar(150)
    console.warn("the connector answered slowly")
    bar(1)
    bar.close()
    text = err.getvalue()
    assert "] 150/300" + ERASE + "Warning: the connector answered slowly\n" in text
    assert text.endswith("] 151/300" + ERASE)
