"""bench/bench.py --url (the real-connector path, bench/real.py) runs end to end against a running dev-server.

No timing is asserted: that the rows, the connector's CPU (found by its port) and the ratios are there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_url_mode_reports_client_and_connector_cpu_side_by_side(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "vaultsync", "dev-server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip().split("=", 1)[1]
        out = tmp_path / "latest.md"
        cmd = [sys.executable, str(ROOT / "bench" / "bench.py"), "--quick", "--url", url, "--out", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text("utf-8")
    real = report.split("### Real connector: ", 1)[1]
    assert real.startswith("EDC at 127.0.0.1:")
    assert f"utime + stime of pid {server.pid} " in real  # the process listening on the URL's port

    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in real.splitlines() if line.startswith("| ")}
    for what in (
        "vaultsync plan (--parallelism 10)",
        "vaultsync engine in-process (requests + planning only)",
        "raw floor: httpx.AsyncClient loop, GET (parallelism 10)",
        "sequential httpx.Client, GET",
        "vaultsync apply (updates)",
        "raw floor: httpx.AsyncClient loop, GET + PUT (parallelism 10)",
        "sequential httpx.Client, GET + PUT",
    ):
        cells = [c.strip() for c in rows[what]]
        assert float(cells[1]) > 0 and float(cells[3]) >= 0, (what, cells)  # seconds; connector CPU measured
    assert re.search(r"- apply \(updates\) of 100 on EDC at \S+: [\d.]+x the raw floor's time \(target <= 1.2x\)", real)
    cpu = r"- plan \(whole command\) of 100 on .*connector [\d.]+ s .*x the connector's|below /proc's clock tick"
    assert re.search(cpu, real)
    assert "real connector: no rows" not in report
