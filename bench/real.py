"""The real-connector part of bench.py: plan and apply against a real EDC, and whose CPU they cost.

    .venv/bin/python bench/bench.py --edc                  # starts EDC 0.15.1 from tests/edc/runtime.py
    .venv/bin/python bench/bench.py --url URL [--api-key-file F] [--connector-pid PID]   # any running connector

In one run, beside each other and interleaved: vaultsync plan (the command, and its engine in-process),
the raw floor (a minimal httpx.AsyncClient loop at the same parallelism) and a sequential httpx.Client,
then apply of N updates beside the same GETs + PUTs made by both loops. Each sample also records the CPU
the connector spent meanwhile (utime + stime of its process from /proc/<pid>/stat, all its threads), so
the report can say whether a run was bound by the client or by the connector.

A connector this module starts is stopped on every way out (an error, Ctrl-C, SIGTERM). A connector
given by --url is left running; its bench-NNNNNN aliases stay in its vault.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import shutil
import signal
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import bench as b

CLK_TCK = os.sysconf("SC_CLK_TCK")
CPU_TARGET = 1.0  # client CPU per request at or below the connector's
APPLY_TARGET = 1.2  # apply within 1.2x of the raw floor's time


# -- the connector's CPU ---------------------------------------------------------------------------------------


def process_cpu(pid: int) -> float | None:
    """utime + stime of ``pid`` (every thread of it) in seconds; None once it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text("ascii")
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def listening_pid(port: int) -> int | None:
    """The process listening on loopback TCP ``port``, found through /proc (Linux; our own processes only)."""
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
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    return listening_pid(parts.port or (443 if parts.scheme == "https" else 80))


# -- rows with the connector's CPU beside the client's ---------------------------------------------------------


@dataclass
class RealRow(b.Row):
    connector_cpu: list[float] = field(default_factory=list)

    @property
    def server_cpu(self) -> float | None:
        return statistics.median(self.connector_cpu) if self.connector_cpu else None


@dataclass
class Target:
    server: b.Server
    pid: int | None
    why_no_pid: str = ""

    def timed(self, sample: Callable[[], b.Run]) -> tuple[b.Run, float | None]:
        """The sample and the connector's CPU seconds meanwhile (None when unreadable)."""
        before = process_cpu(self.pid) if self.pid else None
        run = sample()
        after = process_cpu(self.pid) if self.pid else None
        return run, (after - before) if before is not None and after is not None else None

    def measure(self, row: RealRow, sample: Callable[[], b.Run]) -> None:
        run, cpu = self.timed(sample)
        row.samples.append(run)
        if cpu is not None:
            row.connector_cpu.append(cpu)


def _pair(first: tuple[b.Run, float | None], second: tuple[b.Run, float | None]) -> tuple[b.Run, float | None]:
    """Two loops as one sample: loop times and CPU added up, the connector's too."""
    cpu = None if first[1] is None or second[1] is None else first[1] + second[1]
    return b._pair(first[0], second[0]), cpu


def throughput(
    target: Target, count: int, opts: argparse.Namespace, tmp: Path, log: Callable[[str], None]
) -> list[RealRow]:
    server = target.server
    a = b.desired_file(tmp, count, "a")
    bfile = b.desired_file(tmp, count, "b")
    env = server.env()
    par = str(opts.parallelism)
    name = server.name

    def vaultsync(*args: str) -> b.Run:
        return b.run([*b.VAULTSYNC, *args, "-q", "--parallelism", par], env)

    def loop(mode: str, file: Path, method: str = "GET") -> b.Run:
        cmd = [b.PYTHON, str(b.CLIENTS), mode, server.url, str(file), "--parallelism", par, "--method", method]
        return b.run(cmd, env)

    def timed_loop(mode: str, file: Path, method: str) -> tuple[b.Run, float | None]:
        return target.timed(lambda: loop(mode, file, method))

    log(f"{name}: apply {count:,} (seeds the vault)")
    seed = RealRow(name, count, "vaultsync apply (seeds the vault: creates, or no-ops if already there)")
    seed.requests = 2 * count
    target.measure(seed, lambda: vaultsync("apply", str(a), "--auto-approve"))

    log(f"{name}: warming up (one untimed GET loop: the JVM compiles its hot paths in the first thousands)")
    loop("floor", a)

    plan = RealRow(name, count, f"vaultsync plan (--parallelism {par})", requests=count)
    engine = RealRow(name, count, "vaultsync engine in-process (requests + planning only)", requests=count)
    floor = RealRow(name, count, f"raw floor: httpx.AsyncClient loop, GET (parallelism {par})", requests=count)
    seq = RealRow(name, count, "sequential httpx.Client, GET", requests=count)
    for row in (engine, floor, seq):
        row.seconds_of, row.cpu_of = b.loop_seconds, b.loop_cpu
    for row in (plan, engine):
        row.floor, row.sequential = floor, seq
    variants: list[tuple[RealRow, Callable[[], b.Run]]] = [
        (plan, lambda: vaultsync("plan", str(a), "--format", "json")),
        (engine, lambda: b.run([b.PYTHON, str(b.CLIENTS), "engine", str(a), "--parallelism", par], env)),
        (floor, lambda: loop("floor", a)),
        (seq, lambda: loop("sequential", a)),
    ]
    for turn in range(opts.repeat):
        shift = turn % len(variants)
        for row, sample in variants[shift:] + variants[:shift]:
            log(f"{name}: {count:,} {row.what} ({turn + 1}/{opts.repeat})")
            target.measure(row, sample)

    # The vault holds A: apply B updates every alias (N GETs + N PUTs); the loops then make the same
    # GETs and PUTs, the sequential one leaving B behind, so one untimed PUT loop puts A back.
    update = RealRow(name, count, "vaultsync apply (updates)", requests=2 * count)
    ufloor = RealRow(name, count, f"raw floor: httpx.AsyncClient loop, GET + PUT (parallelism {par})")
    useq = RealRow(name, count, "sequential httpx.Client, GET + PUT")
    ufloor.requests = useq.requests = 2 * count
    update.floor, update.sequential = ufloor, useq
    for turn in range(opts.repeat):
        log(f"{name}: {count:,} updates ({turn + 1}/{opts.repeat})")
        target.measure(update, lambda: vaultsync("apply", str(bfile), "--auto-approve"))
        for row, (run, cpu) in (
            (ufloor, _pair(timed_loop("floor", a, "GET"), timed_loop("floor", a, "PUT"))),
            (useq, _pair(timed_loop("sequential", bfile, "GET"), timed_loop("sequential", bfile, "PUT"))),
        ):
            row.samples.append(run)
            if cpu is not None:
                row.connector_cpu.append(cpu)
        loop("floor", a, "PUT")
    return [plan, engine, floor, seq, seed, update, ufloor, useq]


# -- report ----------------------------------------------------------------------------------------------------


def _ms(seconds: float | None, requests: int) -> str:
    return f"{1000 * seconds / requests:.2f}" if seconds is not None and requests else "n/a"


def cpu_table(rows: list[RealRow]) -> str:
    lines = [
        "| run | secrets | seconds | client CPU s | connector CPU s | client CPU ms/request "
        "| connector CPU ms/request | vs raw floor (time) | speed-up vs sequential |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        server = row.server_cpu
        lines.append(
            f"| {row.what} | {row.secrets:,} | {row.seconds:.2f} | {row.cpu:.2f} "
            f"| {'n/a' if server is None else f'{server:.2f}'} | {_ms(row.cpu, row.requests)} "
            f"| {_ms(server, row.requests)} | {b.fmt_ratio(row, row.floor, False)} "
            f"| {b.fmt_ratio(row, row.sequential, True)} |"
        )
    return "\n".join(lines)


def ratio_lines(rows: list[RealRow], target: Target) -> list[str]:
    lines = []
    for count in dict.fromkeys(r.secrets for r in rows):
        mine = [r for r in rows if r.secrets == count]
        plan = next(r for r in mine if r.what.startswith("vaultsync plan ("))
        engine = next(r for r in mine if r.what.startswith("vaultsync engine"))
        update = next(r for r in mine if r.what == "vaultsync apply (updates)")
        name = target.server.name
        for row in (plan, update):
            assert row.floor is not None and row.sequential is not None
            what = "plan" if row is plan else "apply (updates)"
            goal = f" (target <= {APPLY_TARGET}x): {b.verdict(row.seconds / row.floor.seconds <= APPLY_TARGET)}"
            lines.append(
                f"- {what} of {count:,} on {name}: {row.seconds / row.floor.seconds:.2f}x the raw floor's time"
                f"{goal if row is update else ''}; {row.sequential.seconds / row.seconds:.2f}x faster than sequential"
            )
        for row in (plan, engine):
            server = row.server_cpu
            if server is None:
                lines.append(f"- client vs connector CPU on {name}: not measured ({target.why_no_pid or 'no pid'})")
                break
            if server <= 0:
                lines.append(f"- client vs connector CPU on {name}: the connector's is below /proc's clock tick")
                break
            label = "plan (whole command)" if row is plan else "plan engine (requests + planning)"
            ratio = row.cpu / server
            lines.append(
                f"- {label} of {count:,} on {name}: client CPU {row.cpu:.2f} s ({_ms(row.cpu, count)} ms/request), "
                f"connector {server:.2f} s ({_ms(server, count)} ms/request): {ratio:.2f}x the connector's "
                f"(target <= {CPU_TARGET:g}x, a plan bound by the connector): {b.verdict(ratio <= CPU_TARGET)}"
            )
    return lines


# -- connectors --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises SystemExit here, so that the finally blocks stop the connector we started."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def started_edc(version: str) -> Iterator[Target]:
    """EDC ``version`` from tests/edc/runtime.py; raises RuntimeError saying why when it cannot run here."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{' and '.join(missing)} not installed")
    sys.path.insert(0, str(b.ROOT / "tests" / "edc"))
    try:
        import runtime  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError(f"tests/edc/runtime.py is not importable ({exc})") from None
    with _sigterm_unwinds():
        try:
            connector = runtime.start(version)
        except Exception as exc:  # the runtime says why (no secrets API, no Maven artifacts, did not boot)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RuntimeError(first) from None
        try:
            if "v3" not in connector.secrets_api:
                raise RuntimeError(f"EDC {version} serves no v3 secrets API (serves {connector.secrets_api})")
            server = b.Server(f"EDC {version}", connector.url, connector.api_key, connector.stop)
            yield Target(server, connector.process.pid)
        finally:
            connector.stop()


def given_url(opts: argparse.Namespace) -> Target:
    key = os.environ.get("EDC_API_KEY")
    if opts.api_key_file is not None:
        key = Path(opts.api_key_file).read_text("utf-8").strip()
    server = b.Server(f"EDC at {urlsplit(opts.url).netloc}", opts.url.rstrip("/"), key, lambda: None)
    if opts.connector_pid:
        return Target(server, opts.connector_pid)
    pid = connector_pid(opts.url)
    why = "" if pid else "not a loopback URL we can find the listening process of; pass --connector-pid"
    return Target(server, pid, why)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="benchmark this running connector (management API base URL) instead of one of ours"
    )
    parser.add_argument("--api-key-file", type=Path, help="its API key (default: EDC_API_KEY)")
    parser.add_argument("--connector-pid", type=int, help="its process, for its CPU (found by port on loopback)")
    parser.add_argument("--edc-sizes", default="10000", help="secrets per real-connector plan/apply run")


def section(opts: argparse.Namespace, tmp: Path, log: Callable[[str], None]) -> tuple[list[RealRow], list[str], str]:
    """Run the real-connector benchmarks when asked: (rows, report lines, why skipped or "")."""
    sizes = [int(s) for s in str(opts.edc_sizes).split(",") if s.strip()]
    if opts.quick:
        sizes = [100]  # enough requests for the connector's CPU to register in clock ticks
    rows: list[RealRow] = []
    with _sigterm_unwinds():
        if opts.url:
            target: Target | None = given_url(opts)
            assert target is not None
            for count in sizes:
                rows += throughput(target, count, opts, tmp, log)
        else:
            try:
                with started_edc(opts.edc_version) as target:
                    for count in sizes:
                        rows += throughput(target, count, opts, tmp, log)
            except RuntimeError as exc:
                log(f"real-connector rows skipped: {exc}")
                return [], [], f"skipped: {exc}"
    lines = [
        f"### Real connector: {target.server.name}, client and connector CPU",
        "",
        f"Same medians. Connector CPU: utime + stime of pid {target.pid or 'n/a'} over each sample "
        "(/proc/<pid>/stat). vaultsync plan/apply rows: the whole command's CPU (start-up and validation "
        "included); engine, raw floor and sequential rows: their request loop's CPU only.",
        "",
        cpu_table(rows),
        "",
        *ratio_lines(rows, target),
        "",
    ]
    return rows, lines, ""
