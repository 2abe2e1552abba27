"""bench/bench.py --quick runs end to end and reports every row and target (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_ROWS = [
    ("dev-server", "vaultsync plan (--parallelism 10)"),
    ("dev-server", "vaultsync engine in-process"),
    ("dev-server", "vaultsync plan --parallelism 1"),
    ("dev-server", "raw floor: httpx.AsyncClient loop, GET (parallelism 10)"),
    ("dev-server", "sequential httpx.Client, GET"),
    ("dev-server", "vaultsync apply (creates)"),
    ("dev-server", "vaultsync apply (updates)"),
    ("dev-server", "raw floor: httpx.AsyncClient loop, GET + PUT"),
    ("dev-server", "sequential httpx.Client, GET + PUT"),
    ("dev-server +2 ms", "vaultsync plan (--parallelism 10)"),
    ("dev-server +2 ms", "raw floor: httpx.AsyncClient loop, GET"),
    ("dev-server +2 ms", "sequential httpx.Client, GET"),
    ("dev-server", "vaultsync plan, peak memory"),
    ("start-up", "python -c pass"),
    ("start-up", "vaultsync --version"),
    ("start-up", "vaultsync --help"),
    ("start-up", "vaultsync validate"),
]


def test_quick_benchmark_prints_and_writes_the_whole_table(tmp_path: Path) -> None:
    out = tmp_path / "latest.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text("utf-8")
    assert report.strip() == done.stdout.strip()  # what is printed is what is written

    rows = [line.split("|")[1:-1] for line in report.splitlines() if line.startswith("| ") and "---" not in line]
    header, body = rows[0], rows[1:]
    assert [c.strip() for c in header][:4] == ["scenario", "secrets", "run", "seconds"]
    for scenario, what in EXPECTED_ROWS:
        matching = [r for r in body if r[0].strip() == scenario and r[2].strip().startswith(what)]
        assert matching, f"no row {scenario} / {what} in:\n{report}"
        assert float(matching[0][3]) > 0  # a measured time, whatever it is

    targets = report.split("### Against the targets", 1)[1]
    for needle in ("vs the raw floor", "vs the sequential client", "`vaultsync --version`", "`vaultsync validate`"):
        assert needle in targets
    assert "peak memory of a plan over" in targets
    assert re.search(r"real connector: no rows \(skipped: not requested", targets)  # said why, not silently absent
