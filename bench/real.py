"""The real-connector part of bench.py: who is the bottleneck, the client or the connector, and finding the connector.

bench.py measures every sample's client CPU (wait4 or the loop's own) and, when it knows the connector's
process, the connector's CPU meanwhile (utime + stime of all its threads, /proc/<pid>/stat). This module
- finds that process for ``--url`` on loopback (the process listening on the URL's port) when no
  ``--connector-pid`` is given, and reads ``--api-key-file``;
- turns the rows into CPU per request, client beside connector, with the target: a plan bound by the
  connector, not by us (client CPU per request at or below the connector's);
- makes SIGTERM unwind like Ctrl-C, so that a connector bench.py started is stopped on every way out.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

CPU_TARGET = 1.0  # client CPU per request at or below the connector's


def listening_pid(port: int) -> int | None:
    """The process listening on TCP ``port``, found through /proc (Linux; processes we may inspect)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text("ascii").splitlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(cols[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        return int(entry.name)
    return None


def connector_pid(url: str) -> int | None:
    """The process serving ``url`` when it is on this machine's loopback, else None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    return listening_pid(parts.port or (443 if parts.scheme == "https" else 80))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key-file", type=Path, help="the API key of --url (default: EDC_API_KEY)")


def api_key(opts: argparse.Namespace) -> str | None:
    if opts.api_key_file is not None:
        return Path(opts.api_key_file).read_text("utf-8").strip() or None
    return os.environ.get("EDC_API_KEY")


def unwind_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so that finally blocks stop the connector (and dev-servers) we started."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


# -- report ------------------------------------------------------------------------------------------------------


def _ms(seconds: float | None, requests: int) -> str:
    return f"{1000 * seconds / requests:.2f}" if seconds is not None and requests else "n/a"


def cpu_lines(rows: list[Any]) -> list[str]:
    """Client and connector CPU per request for the real-connector rows (bench.Row), and the CPU target."""
    real = [r for r in rows if r.scenario.startswith(("EDC", "connector at")) and r.samples and r.requests]
    if not real:
        return []
    lines = [
        "### Real connector: client and connector CPU per request",
        "",
        "vaultsync plan/apply rows: the whole command's CPU (start-up, validation and output included); engine, "
        "raw floor and sequential rows: their request loop's. Connector: utime + stime of its process meanwhile.",
        "",
        "| scenario | secrets | run | client CPU s | connector CPU s | client CPU ms/request "
        "| connector CPU ms/request |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in real:
        server = row.server_cpu
        lines.append(
            f"| {row.scenario} | {row.secrets:,} | {row.what} | {row.cpu:.2f} "
            f"| {'n/a' if server is None else f'{server:.2f}'} | {_ms(row.cpu, row.requests)} "
            f"| {_ms(server, row.requests)} |"
        )
    lines.append("")
    for row in real:
        if not row.what.startswith(("vaultsync plan (", "vaultsync engine")):
            continue
        label = "plan (whole command)" if row.what.startswith("vaultsync plan") else "plan engine (requests + planning)"
        where = f"{label} of {row.secrets:,} ({row.scenario})"
        server = row.server_cpu
        if server is None:
            lines.append(f"- {where}: connector CPU not measured (its process is unknown: pass --connector-pid)")
        elif server <= 0:
            lines.append(f"- {where}: the connector's CPU is below /proc's clock tick")
        else:
            ratio = row.cpu / server
            lines.append(
                f"- {where}: client CPU {_ms(row.cpu, row.requests)} ms/request, connector {_ms(server, row.requests)}"
                f" ms/request: {ratio:.2f}x the connector's (target <= {CPU_TARGET:g}x, a plan bound by the "
                f"connector): {'met' if ratio <= CPU_TARGET else 'MISSED'}"
            )
    lines.append("")
    return lines
