"""bench/bench.py --url (the real-connector path) runs end to end against a running dev-server.

No timing is asserted: that the connector's process is found by its port (so its CPU is measured),
and that the CPU-per-request section and its target are reported.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_url_mode_finds_the_connector_and_reports_client_and_connector_cpu(tmp_path: Path) -> None:
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
        cmd = [sys.executable, str(ROOT / "bench" / "bench.py"), "--quick", "--skip-dev-server", "--url", url]
        done = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, timeout=300, check=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text("utf-8")
    scenario = f"connector at {url}"

    table = [line.split("|")[1:-1] for line in report.split("### Against")[0].splitlines() if line.startswith("| ")]
    header = [c.strip() for c in table[0]]
    mine = [dict(zip(header, (c.strip() for c in r), strict=True)) for r in table[1:] if r[0].strip() == scenario]
    whats = {r["run"] for r in mine}
    assert {"vaultsync plan (--parallelism 10)", "vaultsync apply (updates)", "sequential httpx.Client, GET"} <= whats
    measured = [r for r in mine if r["run"].startswith(("vaultsync plan (", "vaultsync apply (updates)"))]
    assert all(re.fullmatch(r"\d+\.\d\d", r["connector CPU s"]) for r in measured), measured  # pid found by port

    section = report.split("### Real connector: client and connector CPU per request", 1)[1]
    assert f"| {scenario} | 40 | vaultsync plan (--parallelism 10) |" in section
    verdict = r"- plan \(whole command\) of 40 \(connector at \S+\): (client CPU .*x the connector's|.*clock tick)"
    assert re.search(verdict, section)
