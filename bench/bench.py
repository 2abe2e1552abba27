"""vaultsync benchmarks: a script, not a test. Prints a markdown table and the ratios against the targets.

    .venv/bin/python bench/bench.py                       # 1,000 and 10,000 secrets against the dev-server
    .venv/bin/python bench/bench.py --sizes 1000 --edc    # also against a real EDC connector, when one can run
    .venv/bin/python bench/bench.py --quick               # tiny sizes, seconds (tests/test_bench_smoke.py)
    .venv/bin/python bench/bench.py --sizes 10000 --edc --skip-dev-server   # the real EDC 0.15.1 only
    EDC_API_KEY=... .venv/bin/python bench/bench.py --url URL [--connector-pid PID]   # any running connector

What is measured, all in one run so the ratios compare like with like on a shared machine:
- plan and apply of N secrets, each vaultsync command a subprocess timed end to end (interpreter
  start, validation, state, requests, planning, output), beside the same requests made by
  - the raw floor: a minimal httpx.AsyncClient loop at the same parallelism (bench/clients.py),
  - a sequential client: the same requests one after another over one keep-alive httpx.Client,
  - vaultsync's engine in-process (requests and planning only) and vaultsync with --parallelism 1;
  each variant repeated --repeat times, interleaved in rotating order; the median is shown;
- the same plan against a dev-server that answers every request --latency-ms late (a network);
- peak memory (the process's max RSS, from wait4) of a plan over --memory-aliases aliases;
- start-up: `vaultsync --version`, `--help` and `validate` of a 10,000-alias file beside `python -c pass`;
- the connector's CPU seconds during each sample (``/proc/<pid>/stat``), beside the client's, when its
  process is known (the dev-server, ``--edc``, or ``--connector-pid``), to tell who is the bottleneck.

The dev-server runs in its own process (`vaultsync dev-server --port 0`) so that its CPU does not
share a GIL with the client. Results are also written to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "bench" / "clients.py"
RESULTS = ROOT / "bench" / "results" / "latest.md"
PYTHON = sys.executable
_script = Path(PYTHON).parent / "vaultsync"
VAULTSYNC = [str(_script)] if _script.exists() else [PYTHON, "-m", "vaultsync"]

LATENCY_SERVER = """
import sys
from vaultsync.devserver import DevServer, Fault
server = DevServer("127.0.0.1", 0)
server.faults.add(Fault("delay", delay=float(sys.argv[1]) / 1000, times=10**15))
print("EDC_MANAGEMENT_URL=" + server.url, flush=True)
server.serve_forever()
"""


# -- running things --------------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float  # wall clock, end to end
    cpu: float  # user + system CPU seconds of the process
    rss_mb: float  # peak resident memory
    code: int
    out: str
    err: str
    server_cpu: float | None = None  # the connector's CPU seconds meanwhile, when its process is known

    def json(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.out.strip().splitlines()[-1])
        return doc


def run(cmd: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> Run:
    """Run ``cmd`` and measure it through wait4: wall time, CPU and peak RSS of that process alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Run(
            seconds,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )
    if check and result.code != 0:
        raise SystemExit(f"failed ({result.code}): {' '.join(cmd)}\n{result.err[-2000:]}")
    return result


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads: a JVM's too), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    url: str
    api_key: str | None
    stop: Callable[[], None]
    pid: int | None = None

    def measured(self, measure: Callable[[], Run]) -> Run:
        """``measure()`` with the server's CPU seconds during it."""
        if self.pid is None:
            return measure()
        before = process_cpu(self.pid)
        result = measure()
        result.server_cpu = process_cpu(self.pid) - before
        return result

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDC_")}
        env["EDC_MANAGEMENT_URL"] = self.url
        env["EDC_API_VERSION"] = "v3"  # the raw loops speak v3: compare like with like, no version probe
        if self.api_key:
            env["EDC_API_KEY"] = self.api_key
        return env


@contextmanager
def dev_server(latency_ms: float = 0.0) -> Iterator[Server]:
    """A dev-server in its own process; with ``latency_ms`` every answer comes that much later."""
    if latency_ms:
        cmd = [PYTHON, "-c", LATENCY_SERVER, str(latency_ms)]
        name = f"dev-server +{latency_ms:g} ms"
    else:
        cmd = [*VAULTSYNC, "dev-server", "--port", "0"]
        name = "dev-server"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("EDC_MANAGEMENT_URL="):
            raise SystemExit(f"the dev-server did not start: {line!r}")
        yield Server(name, line.split("=", 1)[1], None, proc.terminate, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def edc_connector(version: str) -> Iterator[Server]:
    """A real EDC connector from tests/edc/runtime.py; raises RuntimeError saying why when none can run."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{' and '.join(missing)} not installed")
    sys.path.insert(0, str(ROOT / "tests" / "edc"))
    try:
        import runtime  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError(f"tests/edc/runtime.py is not importable ({exc})") from None
    try:
        connector = runtime.start(version)
    except Exception as exc:  # the runtime says why (no secrets API, no Maven artifacts, did not boot)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(first) from None
    try:
        if "v3" not in connector.secrets_api:
            raise RuntimeError(f"EDC {version} serves no v3 secrets API (serves {connector.secrets_api})")
        yield Server(f"EDC {version}", connector.url, connector.api_key, connector.stop, connector.process.pid)
    finally:
        connector.stop()


def desired_file(folder: Path, count: int, variant: str) -> Path:
    path = folder / f"desired-{count}-{variant}.json"
    if not path.exists():
        secrets = {f"bench-{i:06d}": f"value-{variant}-{i}" for i in range(count)}
        path.write_text(json.dumps({"version": 1, "secrets": secrets}), encoding="utf-8")
    return path


# -- results ---------------------------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    secrets: int
    what: str
    samples: list[Run] = field(default_factory=list)
    seconds_of: Callable[[Run], float] = lambda r: r.seconds
    cpu_of: Callable[[Run], float] = lambda r: r.cpu
    requests: int = 0
    floor: Row | None = None
    sequential: Row | None = None

    @property
    def seconds(self) -> float:
        return statistics.median(self.seconds_of(r) for r in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_of(r) for r in self.samples)

    @property
    def rss(self) -> float:
        return max(r.rss_mb for r in self.samples)

    @property
    def server_cpu(self) -> float | None:
        values = [r.server_cpu for r in self.samples if r.server_cpu is not None]
        return statistics.median(values) if values else None


def loop_seconds(r: Run) -> float:
    return float(r.json()["seconds"])


def loop_cpu(r: Run) -> float:
    return float(r.json()["cpu"])


def fmt_ratio(row: Row, other: Row | None, faster: bool) -> str:
    if other is None or not other.samples:
        return ""
    ratio = other.seconds / row.seconds if faster else row.seconds / other.seconds
    return f"{ratio:.2f}x"


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | secrets | run | seconds | range | requests/s | client CPU s | connector CPU s | peak RSS MB "
        "| vs raw floor | speed-up vs sequential |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        rate = f"{row.requests / row.seconds:,.0f}" if row.requests and row.seconds > 0 else ""
        times = [row.seconds_of(r) for r in row.samples]
        spread = f"{min(times):.2f}-{max(times):.2f}" if len(times) > 1 else ""
        server = f"{row.server_cpu:.2f}" if row.server_cpu is not None else ""
        ratios = f"{fmt_ratio(row, row.floor, False)} | {fmt_ratio(row, row.sequential, True)}"
        lines.append(
            f"| {row.scenario} | {row.secrets:,} | {row.what} | {row.seconds:.2f} | {spread} | {rate} | {row.cpu:.2f} "
            f"| {server} | {row.rss:.0f} | {ratios} |"
        )
    return "\n".join(lines)


# -- the benchmarks ----------------------------------------------------------------------------------------------


def rotated(variants: list[tuple[Row, Callable[[], Run]]], turn: int) -> list[tuple[Row, Callable[[], Run]]]:
    shift = turn % len(variants)
    return variants[shift:] + variants[:shift]


def throughput(
    server: Server, count: int, opts: argparse.Namespace, tmp: Path, log: Callable[[str], None]
) -> list[Row]:
    """plan and apply of ``count`` secrets against ``server``, beside the raw floor and the sequential client."""
    a = desired_file(tmp, count, "a")
    b = desired_file(tmp, count, "b")
    env = server.env()
    par = str(opts.parallelism)
    name = server.name

    def clients(mode: str, file: Path, method: str = "GET") -> Run:
        return run([PYTHON, str(CLIENTS), mode, server.url, str(file), "--parallelism", par, "--method", method], env)

    log(f"{name}: apply {count:,} creates (seeds the vault)")
    create = Row(name, count, "vaultsync apply (creates)", requests=2 * count)
    create.samples.append(
        server.measured(lambda: run([*VAULTSYNC, "apply", str(a), "--auto-approve", "-q", "--parallelism", par], env))
    )

    plan = Row(name, count, f"vaultsync plan (--parallelism {par})", requests=count)
    engine = Row(name, count, "vaultsync engine in-process (requests + planning only)", requests=count)
    engine.seconds_of, engine.cpu_of = loop_seconds, loop_cpu
    floor = Row(name, count, f"raw floor: httpx.AsyncClient loop, GET (parallelism {par})", requests=count)
    floor.seconds_of, floor.cpu_of = loop_seconds, loop_cpu
    seq = Row(name, count, "sequential httpx.Client, GET", requests=count)
    seq.seconds_of, seq.cpu_of = loop_seconds, loop_cpu
    plan1 = Row(name, count, "vaultsync plan --parallelism 1", requests=count)
    for row in (plan, engine, plan1):
        row.floor, row.sequential = floor, seq
    variants: list[tuple[Row, Callable[[], Run]]] = [
        (plan, lambda: run([*VAULTSYNC, "plan", str(a), "--format", "json", "-q", "--parallelism", par], env)),
        (engine, lambda: run([PYTHON, str(CLIENTS), "engine", str(a), "--parallelism", par], env)),
        (floor, lambda: clients("floor", a)),
        (seq, lambda: clients("sequential", a)),
        (plan1, lambda: run([*VAULTSYNC, "plan", str(a), "--format", "json", "-q", "--parallelism", "1"], env)),
    ]
    for turn in range(opts.repeat):
        for row, measure in rotated(variants, turn):
            log(f"{name}: {count:,} {row.what} ({turn + 1}/{opts.repeat})")
            row.samples.append(server.measured(measure))

    # apply of N updates: the vault holds A; apply B updates every alias (N GETs + N PUTs), the raw loops
    # then make the same GETs and PUTs (and put A back, so that every apply meets N updates).
    update = Row(name, count, "vaultsync apply (updates)", requests=2 * count)
    ufloor = Row(name, count, f"raw floor: httpx.AsyncClient loop, GET + PUT (parallelism {par})", requests=2 * count)
    useq = Row(name, count, "sequential httpx.Client, GET + PUT", requests=2 * count)
    update.floor, update.sequential = ufloor, useq
    ufloor.cpu_of = useq.cpu_of = lambda r: r.cpu
    apply_b = [*VAULTSYNC, "apply", str(b), "--auto-approve", "-q", "--parallelism", par]
    for turn in range(opts.repeat):
        log(f"{name}: {count:,} updates ({turn + 1}/{opts.repeat})")
        update.samples.append(server.measured(lambda: run(apply_b, env)))
        ufloor.samples.append(server.measured(lambda: _pair(clients("floor", a), clients("floor", a, "PUT"))))
        useq.samples.append(server.measured(lambda: _pair(clients("sequential", b), clients("sequential", b, "PUT"))))
        clients("floor", a, "PUT")  # back to A, untimed
    return [plan, engine, plan1, floor, seq, create, update, ufloor, useq]


def _pair(first: Run, second: Run) -> Run:
    """Two loops as one: their loop times and loop CPU added up."""
    a, b = first.json(), second.json()
    doc = {
        "seconds": a["seconds"] + b["seconds"],
        "cpu": a["cpu"] + b["cpu"],
        "requests": a["requests"] + b["requests"],
    }
    return Run(doc["seconds"], doc["cpu"], max(first.rss_mb, second.rss_mb), 0, json.dumps(doc), "")


def latency(count: int, opts: argparse.Namespace, tmp: Path, log: Callable[[str], None]) -> list[Row]:
    """Where concurrency pays: every answer ``--latency-ms`` late, as over a network."""
    a = desired_file(tmp, count, "a")
    with dev_server(opts.latency_ms) as server:
        env = server.env()
        par = str(opts.parallelism)
        log(f"{server.name}: seeding {count:,}")
        run([*VAULTSYNC, "apply", str(a), "--auto-approve", "-q", "--parallelism", par], env)
        name = server.name
        plan = Row(name, count, f"vaultsync plan (--parallelism {par})", requests=count)
        floor = Row(name, count, f"raw floor: httpx.AsyncClient loop, GET (parallelism {par})", requests=count)
        seq = Row(name, count, "sequential httpx.Client, GET", requests=count)
        plan1 = Row(name, count, "vaultsync plan --parallelism 1", requests=count)
        floor.seconds_of = seq.seconds_of = loop_seconds
        floor.cpu_of = seq.cpu_of = loop_cpu
        for row in (plan, plan1):
            row.floor, row.sequential = floor, seq
        clients = [PYTHON, str(CLIENTS)]
        variants: list[tuple[Row, Callable[[], Run]]] = [
            (plan, lambda: run([*VAULTSYNC, "plan", str(a), "--format", "json", "-q", "--parallelism", par], env)),
            (floor, lambda: run([*clients, "floor", server.url, str(a), "--parallelism", par], env)),
            (seq, lambda: run([*clients, "sequential", server.url, str(a)], env)),
            (plan1, lambda: run([*VAULTSYNC, "plan", str(a), "--format", "json", "-q", "--parallelism", "1"], env)),
        ]
        for turn in range(opts.repeat):
            for row, measure in rotated(variants, turn):
                log(f"{name}: {count:,} {row.what} ({turn + 1}/{opts.repeat})")
                row.samples.append(measure())
    return [plan, plan1, floor, seq]


def memory(count: int, opts: argparse.Namespace, tmp: Path, log: Callable[[str], None]) -> Row:
    """Peak RSS of a first plan (an empty vault: every alias a create) over ``count`` aliases."""
    file = desired_file(tmp, count, "a")
    with dev_server() as server:
        log(f"memory: plan of {count:,} aliases")
        row = Row(server.name, count, "vaultsync plan, peak memory (empty vault: all creates)", requests=count)
        par = str(opts.parallelism)
        row.samples.append(
            run([*VAULTSYNC, "plan", str(file), "--format", "json", "-q", "--parallelism", par], server.env())
        )
    return row


def startup(opts: argparse.Namespace, tmp: Path, log: Callable[[str], None]) -> dict[str, Row]:
    file = desired_file(tmp, opts.validate_aliases, "a")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDC_")}
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "vaultsync --version": [*VAULTSYNC, "--version"],
        "vaultsync --help": [*VAULTSYNC, "--help"],
        f"vaultsync validate ({opts.validate_aliases:,} aliases)": [*VAULTSYNC, "validate", str(file)],
    }
    rows = {what: Row("start-up", 0, what) for what in commands}
    log(f"start-up: {len(commands)} commands x {opts.startup_runs}")
    for turn in range(opts.startup_runs):
        for what, cmd in (
            list(commands.items())[turn % len(commands) :] + list(commands.items())[: turn % len(commands)]
        ):
            rows[what].samples.append(run(cmd, env))
    return rows


# -- report ----------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def find(rows: list[Row], scenario: str, count: int, what_prefix: str) -> Row | None:
    for row in rows:
        if row.scenario == scenario and row.secrets == count and row.what.startswith(what_prefix) and row.samples:
            return row
    return None


def ratio_lines(rows: list[Row], starts: dict[str, Row], opts: argparse.Namespace, skipped: list[str]) -> list[str]:
    lines = []
    for scenario in dict.fromkeys(r.scenario for r in rows if r.scenario != "start-up"):
        count = max(
            (r.secrets for r in rows if r.scenario == scenario and r.what.startswith("vaultsync plan (")), default=0
        )
        plan = find(rows, scenario, count, "vaultsync plan (")
        if plan is None or "peak memory" in plan.what:
            continue
        if plan.floor is not None:
            r = plan.seconds / plan.floor.seconds
            lines.append(
                f"- plan of {count:,} vs the raw floor ({scenario}): {r:.2f}x the floor's time "
                f"(target <= 1.25x against the real connector): {verdict(r <= 1.25)}"
            )
        if plan.server_cpu:
            lines.append(
                f"- plan of {count:,} ({scenario}): client CPU {plan.cpu:.2f} s, connector CPU {plan.server_cpu:.2f} s "
                f"({plan.cpu / count * 1000:.2f} vs {plan.server_cpu / count * 1000:.2f} ms per request): the "
                f"{'client' if plan.cpu > plan.server_cpu else 'connector'} is the bottleneck"
            )
        if plan.sequential is not None:
            r = plan.sequential.seconds / plan.seconds
            lines.append(
                f"- plan of {count:,} vs the sequential client ({scenario}): {r:.2f}x faster "
                f"(target >= 5x): {verdict(r >= 5)}"
            )
        update = find(rows, scenario, count, "vaultsync apply (updates)")
        if update is not None and update.floor is not None:
            r = update.seconds / update.floor.seconds
            lines.append(
                f"- apply of {count:,} updates vs the raw floor ({scenario}): {r:.2f}x the floor's time "
                f"(target <= 1.2x): {verdict(r <= 1.2)}"
            )
    if not any(r.scenario.startswith(("EDC", "connector at")) for r in rows):
        lines.append(f"- real connector: no rows ({'; '.join(skipped) or 'not requested: pass --edc'})")
    bare = starts["python -c pass"].seconds
    version = starts["vaultsync --version"].seconds
    lines.append(
        f"- `vaultsync --version`: {version:.3f} s, {version - bare:+.3f} s over `python -c pass` ({bare:.3f} s) "
        f"(target <= +0.25 s): {verdict(version - bare <= 0.25)}"
    )
    validate = next(r for what, r in starts.items() if what.startswith("vaultsync validate"))
    lines.append(
        f"- `vaultsync validate` of {opts.validate_aliases:,} aliases: {validate.seconds:.3f} s "
        f"(target < 1 s): {verdict(validate.seconds < 1)}"
    )
    mem = [r for r in rows if "peak memory" in r.what]
    if mem:
        lines.append(
            f"- peak memory of a plan over {mem[0].secrets:,} aliases: {mem[0].rss:.0f} MB "
            f"(target < 300 MB): {verdict(mem[0].rss < 300)}"
        )
    return lines


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="secrets per plan/apply run, comma-separated")
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="samples per variant (the median is shown)")
    parser.add_argument("--memory-aliases", type=int, default=100_000, help="aliases of the memory run; 0 skips it")
    parser.add_argument("--validate-aliases", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=5.0, help="simulated latency run; 0 skips it")
    parser.add_argument("--latency-size", type=int, default=1000, help="secrets of the simulated latency run")
    parser.add_argument("--startup-runs", type=int, default=10)
    parser.add_argument("--edc", action="store_true", help="also benchmark a real EDC connector (Java 17 + Maven)")
    parser.add_argument("--edc-version", default="0.15.1")
    parser.add_argument("--url", help="also benchmark this running connector (key: EDC_API_KEY; it is written to!)")
    parser.add_argument("--connector-pid", type=int, help="the process of --url, to measure its CPU")
    parser.add_argument("--skip-dev-server", action="store_true", help="no dev-server rows (nor latency ones)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one sample each: a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the markdown report")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.sizes, opts.repeat, opts.memory_aliases, opts.validate_aliases = "40", 1, 300, 500
        opts.latency_size, opts.latency_ms, opts.startup_runs = 40, 2.0, 1
    opts.sizes = [int(s) for s in str(opts.sizes).split(",") if s.strip()]

    def log(text: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    command = " ".join(["python bench/bench.py", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    before = machine()
    rows: list[Row] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vaultsync-bench-") as folder:
        tmp = Path(folder)
        starts = startup(opts, tmp, log)
        for count in [] if opts.skip_dev_server else opts.sizes:
            with dev_server() as server:
                rows += throughput(server, count, opts, tmp, log)
        if opts.url:
            given = Server(f"connector at {opts.url}", opts.url, os.environ.get("EDC_API_KEY"), lambda: None)
            given.pid = opts.connector_pid
            for count in opts.sizes:
                rows += throughput(given, count, opts, tmp, log)
        if opts.latency_ms > 0 and not opts.skip_dev_server:
            rows += latency(opts.latency_size, opts, tmp, log)
        if opts.edc:
            try:
                with edc_connector(opts.edc_version) as edc:
                    for count in opts.sizes:
                        rows += throughput(edc, count, opts, tmp, log)
            except RuntimeError as exc:
                skipped.append(f"skipped: {exc}")
                log(f"real-connector rows skipped: {exc}")
        else:
            skipped.append("skipped: not requested (pass --edc; needs Java 17 + Maven and tests/edc/runtime.py)")
        if opts.memory_aliases > 0:
            rows.append(memory(opts.memory_aliases, opts, tmp, log))
    rows += list(starts.values())

    report = "\n".join(
        [
            "## vaultsync benchmark",
            "",
            f"Command: `{command}`  ",
            f"Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {time.perf_counter() - started:.0f} s  ",
            f"Machine: {before} (at the start); {machine().split(', load average ')[1]} (at the end)  ",
            f"Medians of {opts.repeat} interleaved samples. vaultsync rows: the whole command (start-up included); "
            "raw floor, sequential and engine rows: the request loop only. Client CPU: user + system seconds.",
            "",
            table(rows),
            "",
            "### Against the targets",
            "",
            *ratio_lines(rows, starts, opts, skipped),
            "",
        ]
    )
    print(report)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(report, encoding="utf-8")
    log(f"written to {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
