"""Progress of a long apply: counts every few seconds where stderr is no terminal (a CI log), a bar on a
terminal, each failure as it happens, nothing with -q, and never a value."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import CANARY, Server, Terminal, run_with_stderr, write_desired

from vaultsync.console import Console, Progress
from vaultsync.devserver import Fault
from vaultsync.plan import Action, Outcome
from vaultsync.progress import ApplyProgress

COUNT_LINE = re.compile(r"^applying (\S+): ([\d,]+)/([\d,]+) changes \((\d+) %\)(, ([\d,]+) failed)?$")


@pytest.fixture
def every_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """A count line (or a bar frame) after every change, so the test does not depend on speed."""
    monkeypatch.setattr(ApplyProgress, "INTERVAL", 0.0)
    monkeypatch.setattr(Progress, "DELAY", 0.0)
    monkeypatch.setattr(Progress, "INTERVAL", 0.0)


def many(tmp_path: Path, count: int) -> Path:
    return write_desired(tmp_path / "d.json", {f"s{i:04d}": f"{CANARY}-{i}" for i in range(count)})


@pytest.mark.usefixtures("every_change")
def test_a_long_apply_in_a_ci_log_prints_growing_counts_and_each_failure_as_it_happens(
    tmp_path: Path, devserver: Server
) -> None:
    file = many(tmp_path, 240)
    devserver.server.faults.add(Fault(400, method="POST", alias="s0100"))
    result = run_with_stderr(
        "apply", str(file), "--auto-approve", "--url", devserver.url, "--parallelism", "2", err=io.StringIO()
    )
    assert result.code == 1, result.both
    assert "\r" not in result.err and "\x1b" not in result.err  # no terminal: plain lines only
    assert CANARY not in result.both
    lines = result.err.splitlines()
    counts = [(i, COUNT_LINE.match(line)) for i, line in enumerate(lines) if COUNT_LINE.match(line)]
    assert len(counts) > 100
    done = [int(m.group(2).replace(",", "")) for _, m in counts if m]
    assert done == sorted(done) and done[-1] < 240 and {m.group(3) for _, m in counts if m} == {"240"}
    (failure,) = [i for i, line in enumerate(lines) if line.startswith("FAILED: create s0100: ")]
    assert "HTTP 400" in lines[failure]
    assert counts[0][0] < failure < counts[-1][0]  # told while the apply was still going, not at the end
    assert any(m and m.group(6) == "1" for _, m in counts[-5:])  # and counted from then on


@pytest.mark.usefixtures("every_change")
def test_quiet_silences_progress_and_failures_as_they_happen(tmp_path: Path, devserver: Server) -> None:
    file = many(tmp_path, 240)
    devserver.server.faults.add(Fault(400, method="POST", alias="s0100"))
    result = run_with_stderr("apply", str(file), "--auto-approve", "--url", devserver.url, "-q", err=io.StringIO())
    assert result.code == 1
    assert not any(COUNT_LINE.match(line) for line in result.err.splitlines())
    assert "FAILED: create" not in result.err
    assert "create s0100 FAILED" in result.out  # the result still lists it


@pytest.mark.usefixtures("every_change")
def test_on_a_terminal_the_bar_moves_and_a_failure_gets_its_own_clean_line(tmp_path: Path, devserver: Server) -> None:
    file = many(tmp_path, 240)
    devserver.server.faults.add(Fault(400, method="POST", alias="s0100"))
    result = run_with_stderr("apply", str(file), "--auto-approve", "--url", devserver.url, err=Terminal())
    assert result.code == 1
    assert not any(COUNT_LINE.match(line) for line in result.err.splitlines())  # the bar, not count lines
    assert re.search(r"\rapplying \S+ \[[#-]+\] \d+/240", result.err)
    assert "\r\x1b[KFAILED: create s0100: " in result.err
    assert CANARY not in result.both


def test_count_lines_come_every_interval_and_a_short_run_prints_none() -> None:
    now = [0.0]
    err = io.StringIO()
    progress = ApplyProgress(Console(err=err), "applying d.json", 4_000, clock=lambda: now[0])
    for i in range(1, 1_001):
        now[0] = i / 100  # 100 changes a second
        progress(1)
    lines = err.getvalue().splitlines()
    assert len(lines) == 2  # at 5 s and 10 s
    assert lines == ["applying d.json: 500/4,000 changes (12 %)", "applying d.json: 1,000/4,000 changes (25 %)"]
    short = io.StringIO()
    quick = ApplyProgress(Console(err=short), "applying d.json", 150, clock=lambda: now[0])
    for _ in range(150):
        now[0] += 1.0
        quick(1)
    assert short.getvalue() == ""


def test_many_failures_are_told_up_to_a_few_then_counted() -> None:
    err = io.StringIO()
    progress = ApplyProgress(Console(err=err), "applying d.json", 4_000)
    for i in range(500):
        progress.outcome(Outcome(f"a{i}", Action.UPDATE, "failed", "PUT http://x/v3/secrets failed: HTTP 400: bad"))
        progress(1)
    lines = err.getvalue().splitlines()
    assert len([line for line in lines if line.startswith("FAILED:")]) == ApplyProgress.FAILURES_TOLD
    assert lines[-1] == "(further failures are counted, and listed by cause at the end)"
    assert progress.count_line() == "applying d.json: 500/4,000 changes (12 %), 500 failed"


def test_a_thousand_failures_alike_are_one_line_in_the_result(tmp_path: Path, devserver: Server) -> None:
    file = many(tmp_path, 60)
    devserver.server.faults.add(Fault(400, method="POST", alias="s*", times=1_000))
    result = run_with_stderr("apply", str(file), "--auto-approve", "--url", devserver.url, err=io.StringIO())
    assert result.code == 1
    failed = [line for line in result.out.splitlines() if "FAILED" in line]
    assert len(failed) == 1, result.out
    assert "60 changes FAILED: POST" in failed[0] and "HTTP 400" in failed[0]
    assert "(s0000, s0001, s0002 and 57 more)" in result.out
    assert CANARY not in result.both
