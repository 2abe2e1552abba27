"""Build, start and stop a real EDC control plane for vaultsync's tests.

The runtime is assembled by Maven (one pom per EDC version,
``tests/edc/<version>/pom.xml``) and run as
``java -cp 'lib/*' org.eclipse.edc.boot.system.runtime.BaseRuntime``, with
EDC's in-memory vault and token-based API-key authentication on the
management API.

Maven Central publishes neither ``org.eclipse.edc:secrets-api`` nor
``management-api-schema-validator``. Those modules, compiled from EDC's
unmodified sources, sit in ``<repo>/../shared/edc/`` (or the folder named by
``VAULTSYNC_EDC_JARS``); ``build()`` installs them into the local Maven
repository (``mvn install:install-file``) before resolving, and its cache key
covers the pom and those jars' hashes. A runtime without the secrets API is
never built: without the jars, ``build()`` raises ``SecretsApiUnavailable``
naming the command that fixes it.

Library use (stdlib only)::

    sys.path.insert(0, "tests/edc"); import runtime   # or tests.edc.runtime
    edc = runtime.start()                    # Connector; "with" stops it too
    edc.url, edc.api_key, edc.secrets_api; edc.stop()
    runtime.start_many(["0.15.1", "0.12.0"]) # boots them side by side

Command line (works from any directory, needs no standard input)::

    python tests/edc/runtime.py build [--version V] [--force]
    python tests/edc/runtime.py up [--version V]
    set -a; eval "$(python tests/edc/runtime.py up)"; set +a   # export both
    python tests/edc/runtime.py down
    python tests/edc/runtime.py status
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import re
import secrets as _secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BUILD_DIR = HERE / ".build"
RUN_FILE = BUILD_DIR / "run.json"
MAIN_CLASS = "org.eclipse.edc.boot.system.runtime.BaseRuntime"
MANAGEMENT_PATH = "/api/management"
PARTICIPANT_ID = "vaultsync-test"

#: EDC versions whose runtime builds and boots here, mapped to the secrets
#: API paths its ``secrets-api`` module serves (measured, FINDINGS.md).
VERSIONS: dict[str, tuple[str, ...]] = {
    "0.15.1": ("v3", "v4beta"),
    "0.12.0": ("v3",),
}
DEFAULT_VERSION = "0.15.1"

#: The modules Maven Central lacks, per version: installed from the jars
#: folder into the local Maven repository before the runtime is resolved.
#: 0.15.1's /v4beta body checks live in the schema validator.
SECRETS_ARTIFACTS: dict[str, tuple[str, ...]] = {
    "0.15.1": ("secrets-api", "management-api-schema-validator"),
    "0.12.0": ("secrets-api",),
}
JARS_ENV = "VAULTSYNC_EDC_JARS"
REPO = HERE.parent.parent
_SECRETS_PATHS = ("v1", "v3", "v4beta", "v4")
_MARKER = "complete.json"
# BaseRuntime logs this once every extension has started. Jetty listens
# earlier: on EDC 0.12.0 the management API answers Jetty 404s for ~4 s.
_READY_LINE = re.compile(rb"Runtime \S+ ready")


class EdcRuntimeError(RuntimeError):
    """The EDC runtime could not be built or started."""


class SecretsApiUnavailable(EdcRuntimeError):
    """The runtime for this version cannot get EDC's secrets-api module (its jars are missing)."""


# --------------------------------------------------------------------------
# build


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split(".") if part.isdigit())


def _pom(version: str) -> Path:
    pom = HERE / version / "pom.xml"
    if not pom.is_file():
        known = ", ".join(sorted(VERSIONS))
        raise EdcRuntimeError(f"no pom for EDC {version} ({pom}); known versions: {known}")
    return pom


def _require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EdcRuntimeError(f"'{name}' not found on PATH: {hint}")
    return path


def jars_dir() -> Path:
    """Where the secrets-api jars are: ``$VAULTSYNC_EDC_JARS``, else ``<repo>/../shared/edc``."""
    configured = os.environ.get(JARS_ENV)
    return Path(configured).expanduser().resolve() if configured else (REPO.parent / "shared" / "edc").resolve()


def artifact_files(version: str, artifact: str) -> dict[str, Path]:
    """The files ``mvn install:install-file`` takes for one module: jar, pom and (optional) sources."""
    folder, name = jars_dir(), f"{artifact}-{version}"
    return {
        "file": folder / f"{name}.jar",
        "pomFile": folder / f"{name}.pom",
        "sources": folder / f"{name}-sources.jar",
    }


def fix_command(version: str) -> str:
    """The commands that give the runtime of *version* its secrets API, for skip and failure messages."""
    return (
        f"put secrets-api-{version}.jar and its .pom (see ../shared/edc/README.md for how they are built) in "
        f"{jars_dir()} or point {JARS_ENV} at their folder, then run: "
        f"{JARS_ENV}=<that folder> python tests/edc/runtime.py build --version {version} --force"
    )


def _missing_jars(version: str) -> list[Path]:
    return [
        path
        for artifact in SECRETS_ARTIFACTS[version]
        for kind, path in artifact_files(version, artifact).items()
        if kind != "sources" and not path.is_file()
    ]


def _cache_key(version: str) -> dict[str, str]:
    """What a built lib folder depends on: the pom and every secrets jar and pom installed from the jars folder."""
    key = {"pom.xml": hashlib.sha256(_pom(version).read_bytes()).hexdigest()}
    for artifact in SECRETS_ARTIFACTS[version]:
        for kind, path in artifact_files(version, artifact).items():
            if kind != "sources" and path.is_file():
                key[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return key


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on *path* (parallel test workers build once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lib_dir(version: str) -> Path:
    return BUILD_DIR / version / "lib"


def _read_marker(version: str) -> dict[str, Any] | None:
    """The build record if the lib folder is complete for the current pom and jars."""
    marker = BUILD_DIR / version / _MARKER
    try:
        record = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != _cache_key(version):
        return None
    lib = _lib_dir(version)
    if not record.get("jars") or not all((lib / jar).is_file() for jar in record["jars"]):
        return None
    return record


def _mvn(mvn: str, args: list[str], log: Path, cwd: Path) -> tuple[int, str]:
    cmd = [mvn, "-B", "-ntp", *args]
    proc = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=str(cwd), check=False,
    )
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(cmd) + "\n" + proc.stdout + "\n")
    return proc.returncode, proc.stdout


def _install_jars(mvn: str, version: str, log: Path) -> None:
    """Install the secrets modules Maven Central lacks into the local Maven repository."""
    missing = _missing_jars(version)
    if missing:
        names = ", ".join(path.name for path in missing)
        raise SecretsApiUnavailable(
            f"EDC {version} needs {names}, which Maven Central does not publish, and they are not in "
            f"{jars_dir()}: {fix_command(version)}"
        )
    for artifact in SECRETS_ARTIFACTS[version]:
        files = artifact_files(version, artifact)
        args = ["install:install-file"] + [f"-D{kind}={path}" for kind, path in files.items() if path.is_file()]
        code, output = _mvn(mvn, args, log, HERE)
        if code != 0:
            tail = "\n".join(output.splitlines()[-15:])
            raise EdcRuntimeError(f"maven could not install {files['file']} (full log: {log}):\n{tail}")


def build(version: str = DEFAULT_VERSION, force: bool = False) -> Path:
    """Resolve the EDC runtime of *version*, secrets API included, into ``.build/<version>/lib``.

    Installs the secrets modules from the jars folder first, then runs Maven;
    a later call returns at once while the lib folder still matches the pom
    and the jars. Returns the lib folder.
    """
    pom = _pom(version)
    if not force and _read_marker(version) is not None:
        return _lib_dir(version)
    with _locked(BUILD_DIR / version / ".lock"):
        if not force and _read_marker(version) is not None:
            return _lib_dir(version)
        _require_tool("java", "install a Java 17 JDK/JRE (e.g. apt-get install openjdk-17-jre-headless)")
        mvn = _require_tool("mvn", "install Maven 3.8+ (e.g. apt-get install maven)")
        key = _cache_key(version)
        vdir = BUILD_DIR / version
        log = vdir / "mvn.log"
        log.write_text("")
        _install_jars(mvn, version, log)
        staging = Path(tempfile.mkdtemp(prefix="lib.", dir=vdir))
        try:
            args = ["-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={staging}",
                    "-DincludeScope=runtime"]
            code, output = _mvn(mvn, args, log, pom.parent)
            if code != 0:
                tail = "\n".join(output.splitlines()[-25:])
                raise EdcRuntimeError(f"maven could not assemble EDC {version} (full log: {log}):\n{tail}")
            jars = sorted(p.name for p in staging.glob("*.jar"))
            absent = [a for a in SECRETS_ARTIFACTS[version] if not any(j.startswith(f"{a}-{version}") for j in jars)]
            if absent:
                raise SecretsApiUnavailable(f"maven left {', '.join(absent)} out of EDC {version} (log: {log})")
            lib = _lib_dir(version)
            if lib.exists():
                shutil.rmtree(lib)
            staging.rename(lib)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        record = {"version": version, "key": key, "secrets_api": True, "jars": jars}
        (vdir / _MARKER).write_text(json.dumps(record, indent=1) + "\n")
        return lib


# --------------------------------------------------------------------------
# start / stop


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _config(version: str, ports: list[int], api_key: str) -> str:
    default, management, protocol, control = ports
    lines = [
        f"edc.participant.id={PARTICIPANT_ID}",
        f"edc.participant.context.id={PARTICIPANT_ID}",
        "edc.hostname=127.0.0.1",
        # EDC has no bind-address setting: Jetty listens on all interfaces.
        # The default context must not be a path prefix of the management
        # one (with /api, EDC 0.12.0 answers 404 on all of /api/management).
        f"web.http.port={default}",
        "web.http.path=/default",
        f"web.http.management.port={management}",
        f"web.http.management.path={MANAGEMENT_PATH}",
        f"web.http.protocol.port={protocol}",
        "web.http.protocol.path=/protocol",
        f"web.http.control.port={control}",
        "web.http.control.path=/control",
    ]
    if _version_key(version) >= (0, 12):
        lines += ["web.http.management.auth.type=tokenbased", f"web.http.management.auth.key={api_key}"]
    else:
        lines += [f"edc.api.auth.key={api_key}"]
    return "\n".join(lines) + "\n"


def _get(url: str, api_key: str | None, timeout: float = 5.0) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method="GET")
    if api_key is not None:
        request.add_header("X-Api-Key", api_key)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def _serves(url: str, api_key: str, api: str) -> bool:
    """A served secrets API answers an unknown alias with EDC's 404 body.

    That body is a JSON array of {"type": "ObjectNotFound", ...}. A path that
    nothing serves also gets a 404, from Jetty: an HTML page, or a JSON
    object when the request accepts JSON.
    """
    status, _, body = _get(f"{url}/{api}/secrets/vaultsync-probe-{_secrets.token_hex(4)}", api_key)
    if status != 404:
        return False
    try:
        errors = json.loads(body)
    except ValueError:
        return False
    return isinstance(errors, list) and bool(errors) and isinstance(errors[0], dict) \
        and errors[0].get("type") == "ObjectNotFound"


def _logged_ready(log: Path, offset: int) -> bool:
    try:
        with open(log, "rb") as handle:
            handle.seek(offset)
            return _READY_LINE.search(handle.read()) is not None
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie that nobody reaps counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _kill_group(pid: int, grace: float = 15.0) -> None:
    """SIGTERM the process group led by *pid*, SIGKILL it after *grace* s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
            if not _alive(pid):
                return
            time.sleep(0.1)


@dataclass
class Connector:
    """A running EDC control plane (see ``start``)."""

    url: str  # management API base URL, e.g. http://127.0.0.1:PORT/api/management
    api_key: str
    version: str
    process: subprocess.Popen[bytes]
    log_path: Path
    config_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    secrets_api: tuple[str, ...] = ()  # secrets paths actually served, e.g. ("v3", "v4beta")
    boot_seconds: float = 0.0
    _owns_config_dir: bool = True

    def stop(self) -> None:
        """Stop the JVM (its whole process group) and remove the temp config."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        if self._owns_config_dir:
            shutil.rmtree(self.config_dir, ignore_errors=True)

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    version: str = DEFAULT_VERSION,
    api_key: str | None = None,
    log_path: Path | None = None,
    timeout: float = 180,
    config_dir: Path | None = None,
) -> Connector:
    """Build if needed, start the connector in the background, wait until ready.

    Raises SecretsApiUnavailable when the secrets-api jars are missing (before
    starting Java) or when the booted runtime does not serve every secrets path
    of its version (the process is stopped then); EdcRuntimeError with the tail
    of the log when it does not come up within *timeout* seconds (killed then).
    """
    lib = build(version)
    java = _require_tool("java", "install a Java 17 JDK/JRE")
    api_key = api_key or _secrets.token_urlsafe(24)
    owns = config_dir is None
    cfg_dir = Path(tempfile.mkdtemp(prefix="edc-vaultsync-")) if config_dir is None else config_dir
    cfg_dir.mkdir(parents=True, exist_ok=True)
    log = log_path if log_path is not None else cfg_dir / "edc.log"
    log_ref = str(log) if (log_path is not None or not owns) else "a temp file, now removed"
    log.parent.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _attempt in range(3):  # a picked port can be taken before Java binds it
        ports = _free_ports(4)
        cfg = cfg_dir / "edc.properties"
        cfg.write_text(_config(version, ports, api_key))
        cfg.chmod(0o600)
        url = f"http://127.0.0.1:{ports[1]}{MANAGEMENT_PATH}"
        cmd = [java, "-Xmx512m", "-XX:+UseSerialGC", f"-Dedc.fs.config={cfg}", "-cp", f"{lib}/*", MAIN_CLASS]
        began = time.monotonic()
        log_offset = log.stat().st_size if log.exists() else 0
        with open(log, "ab") as out:
            process = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=str(cfg_dir), start_new_session=True,
            )
        connector = Connector(
            url=url, api_key=api_key, version=version, process=process, log_path=log,
            config_dir=cfg_dir, _owns_config_dir=owns,
            ports=dict(zip(("default", "management", "protocol", "control"), ports, strict=True)),
        )
        deadline = began + timeout
        try:
            while True:
                if process.poll() is not None:
                    last_error = f"EDC {version} exited with code {process.returncode}"
                    break
                if time.monotonic() > deadline:
                    tail = _log_tail(log)
                    connector.stop()
                    raise EdcRuntimeError(f"EDC {version} not ready after {timeout:.0f} s; log ({log_ref}):\n{tail}")
                if not _logged_ready(log, log_offset):
                    time.sleep(0.2)
                    continue
                try:
                    _get(f"{url}/v3/vaultsync-ready", api_key, timeout=2)
                except (OSError, http.client.HTTPException):
                    time.sleep(0.2)
                    continue
                connector.boot_seconds = round(time.monotonic() - began, 2)
                connector.secrets_api = tuple(p for p in _SECRETS_PATHS if _serves(url, api_key, p))
                if not set(VERSIONS[version]) <= set(connector.secrets_api):
                    tail = _log_tail(log)
                    connector.stop()
                    served = ", ".join(connector.secrets_api) or "none"
                    wanted = ", ".join(VERSIONS[version])
                    raise SecretsApiUnavailable(
                        f"EDC {version} booted but serves {served} of the secrets paths {wanted}; "
                        f"log ({log_ref}):\n{tail}"
                    )
                return connector
        except BaseException:  # Ctrl-C or a bug while waiting: never leave the JVM behind
            connector.stop()
            raise
        tail = _log_tail(log)
        if "Address already in use" not in tail and "BindException" not in tail:
            break
    tail = _log_tail(log)
    if owns:
        shutil.rmtree(cfg_dir, ignore_errors=True)
    raise EdcRuntimeError(f"{last_error}; log ({log_ref}):\n{tail}")


def start_many(versions: list[str], **kwargs: Any) -> dict[str, Connector | EdcRuntimeError]:
    """Build and boot several versions side by side (each JVM boots in its own thread); per version the
    running connector or why it did not start. On Ctrl-C every connector already started is stopped."""
    results: dict[str, Connector | EdcRuntimeError] = {}

    def one(version: str) -> None:
        try:
            results[version] = start(version, **kwargs)
        except EdcRuntimeError as exc:
            results[version] = exc

    threads = [threading.Thread(target=one, args=(v,), name=f"edc-{v}", daemon=True) for v in versions]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:
        for thread in threads:
            thread.join()
        for result in results.values():
            if isinstance(result, Connector):
                result.stop()
        raise
    return {v: results[v] for v in versions if v in results}


# --------------------------------------------------------------------------
# command line


def _is_our_java(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return MAIN_CLASS.encode() in cmdline


def _read_run() -> dict[str, Any] | None:
    try:
        run = json.loads(RUN_FILE.read_text())
    except (OSError, ValueError):
        return None
    return run if isinstance(run, dict) else None


def _print_env(run: dict[str, Any]) -> None:
    print(f"EDC_MANAGEMENT_URL={run['url']}")
    print(f"EDC_API_KEY={run['api_key']}")
    print(f"# EDC {run['version']}; secrets API served: {', '.join(run['secrets_api']) or 'NONE'}")
    if run["secrets_api"]:
        print(f"# EDC_API_VERSION={run['secrets_api'][-1]}")


def _cmd_up(args: argparse.Namespace) -> int:
    run = _read_run()
    if run is not None and _is_our_java(run["pid"]) and _alive(run["pid"]):
        if run["version"] != args.version:
            print(f"EDC {run['version']} is already up (pid {run['pid']}); run 'down' first", file=sys.stderr)
            return 1
        _print_env(run)
        return 0
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    run_dir = BUILD_DIR / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    log = BUILD_DIR / f"edc-{args.version}.log"
    log.unlink(missing_ok=True)
    print(f"starting EDC {args.version} (log: {log}) ...", file=sys.stderr)
    connector = start(args.version, log_path=log, timeout=args.timeout, config_dir=run_dir)
    run = {
        "pid": connector.process.pid, "version": connector.version, "url": connector.url,
        "api_key": connector.api_key, "secrets_api": list(connector.secrets_api),
        "ports": connector.ports, "log": str(log), "config_dir": str(run_dir),
        "boot_seconds": connector.boot_seconds,
    }
    RUN_FILE.write_text(json.dumps(run, indent=1) + "\n")
    RUN_FILE.chmod(0o600)
    print(f"EDC {args.version} up in {connector.boot_seconds} s (pid {connector.process.pid})", file=sys.stderr)
    _print_env(run)
    return 0


def _cmd_down(_args: argparse.Namespace) -> int:
    run = _read_run()
    if run is None:
        print("no EDC runtime recorded in " + str(RUN_FILE), file=sys.stderr)
        return 0
    pid = int(run["pid"])
    if _is_our_java(pid) and _alive(pid):
        _kill_group(pid)
        print(f"stopped EDC {run['version']} (pid {pid})", file=sys.stderr)
    else:
        print(f"EDC pid {pid} was not running", file=sys.stderr)
    RUN_FILE.unlink(missing_ok=True)
    shutil.rmtree(run.get("config_dir") or BUILD_DIR / "run", ignore_errors=True)
    return 0


def _cmd_status(_args: argparse.Namespace) -> int:
    run = _read_run()
    if run is None or not (_is_our_java(int(run["pid"])) and _alive(int(run["pid"]))):
        print("down")
        return 1
    print(f"up: EDC {run['version']} pid {run['pid']} {run['url']} secrets API: {run['secrets_api'] or 'none'}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    lib = build(args.version, force=args.force)
    print(lib)
    print(f"# secrets-api installed from {jars_dir()}; serves {', '.join(VERSIONS[args.version])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runtime.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="resolve the runtime's jars with Maven")
    p_build.add_argument("--version", default=DEFAULT_VERSION, choices=sorted(VERSIONS))
    p_build.add_argument("--force", action="store_true", help="rebuild even if complete")
    p_build.set_defaults(func=_cmd_build)
    p_up = sub.add_parser("up", help="start a detached connector, print its env lines")
    p_up.add_argument("--version", default=DEFAULT_VERSION, choices=sorted(VERSIONS))
    p_up.add_argument("--timeout", type=float, default=180)
    p_up.set_defaults(func=_cmd_up)
    sub.add_parser("down", help="stop the connector started by 'up'").set_defaults(func=_cmd_down)
    sub.add_parser("status", help="say whether 'up' left one running").set_defaults(func=_cmd_status)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except EdcRuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
