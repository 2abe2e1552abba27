"""What every command stands on: the runtime, the validated targets, signals and the lock.

Every command validates all its input before the first request, so a bad
file or a missing setting costs zero HTTP calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import httpx

from vaultsync import lock as vlock
from vaultsync.client import ClientOptions, EdcClient, RequestEvent
from vaultsync.config import Connection, Flags, resolve, verify_setting
from vaultsync.console import Console, Progress
from vaultsync.desired import load_desired
from vaultsync.errors import InputError, Problem, UsageError, VaultsyncError
from vaultsync.lifecycle import files as lc_files
from vaultsync.lifecycle.selection import Selection, check_replace
from vaultsync.model import DesiredState
from vaultsync.sources import Sources
from vaultsync.statestore import StateStore
from vaultsync.text import printable


@dataclass
class Runtime:
    """Everything a command needs from its surroundings; tests swap ``transport`` and ``console``."""

    flags: Flags
    env: Mapping[str, str] = field(repr=False)  # holds EDC_API_KEY and fromEnv values
    console: Console
    verbose: bool = False
    transport: httpx.AsyncBaseTransport | None = None
    stop: asyncio.Event | None = field(default=None)
    selection: Selection = field(default_factory=Selection)  # --target / --exclude / --replace

    def client(self, conn: Connection) -> EdcClient:
        options = ClientOptions(
            timeout=self.flags.timeout,
            max_retries=self.flags.max_retries,
            parallelism=self.flags.parallelism,
            verify=verify_setting(self.flags),
        )
        return EdcClient(
            conn.url,
            conn.api_key,
            conn.api_version,
            options,
            transport=self.transport,
            on_event=self._log if self.verbose else None,
            on_version=self.console.log if self.verbose else None,
        )

    def _log(self, event: RequestEvent) -> None:
        status = str(event.status) if event.status is not None else f"error: {event.error}"
        retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        self.console.log(f"{event.method} {printable(event.path)} {status} {event.elapsed * 1000:.0f} ms{retry}")

    def store(self, client: EdcClient) -> StateStore:
        return StateStore(client, self.flags.state_alias, self.flags.state_file)

    def progress(self, label: str, total: int) -> Progress:
        return Progress(self.console, label, total)


@dataclass(frozen=True)
class Target:
    desired: DesiredState
    conn: Connection


def load_all(rt: Runtime, files: Sequence[str]) -> list[DesiredState]:
    """Validate every file; one InputError with every problem of every file."""
    problems: list[Problem] = []
    states = []
    sources = Sources.for_run(rt.env, rt.flags.commands)  # one per run: each sops file decrypted once
    for file in files:
        try:
            states.append(
                load_desired(
                    file,
                    env=rt.env,
                    reserved=rt.flags.reserved,
                    sources=sources,
                    allow_outside_files=rt.flags.allow_outside_files,
                )
            )
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return states


def prepare(rt: Runtime, files: Sequence[str]) -> list[Target]:
    """Validate every file and resolve every connection, all before the first request.

    Directories stand for their ``*.json`` files; files for the same connector are merged into one target.
    """
    problems: list[Problem] = []
    groups: dict[str, list[tuple[DesiredState, Connection]]] = {}
    for desired in load_all(rt, lc_files.expand(files)):
        try:
            conn = resolve(rt.flags, desired.target, rt.env, desired.path)
        except InputError as exc:  # e.g. an unset apiKeyEnv: report every file's, not just the first
            problems.extend(exc.problems)
            continue
        groups.setdefault(same_connector_key(conn.url), []).append((desired, conn))
    targets = []
    for group in groups.values():
        try:
            merged = lc_files.merge([d for d, _ in group])
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(lc_files.move_problems(merged, rt.flags.reserved))
        disagreement = _disagreement(rt, group)
        if disagreement:
            problems.append(disagreement)
        targets.append(Target(merged, _merged_connection(group)))
    if problems:
        raise InputError(problems)
    if rt.flags.state_file and len(targets) > 1:
        raise UsageError(f"--state-file holds the state of one connector; these files target {len(targets)} connectors")
    check_replace(rt.selection, [t.desired for t in targets])
    for t in targets:
        for warning in t.conn.warnings:
            rt.console.warn(warning)
    return targets


def _merged_connection(group: Sequence[tuple[DesiredState, Connection]]) -> Connection:
    """The connection of merged files: the first file's, with the API version one of them names (if any)."""
    conn = group[0][1]
    named = [c.api_version for _, c in group if c.api_version != "auto"]
    return replace(conn, api_version=named[0]) if named else conn


def _disagreement(rt: Runtime, group: Sequence[tuple[DesiredState, Connection]]) -> Problem | None:
    """Files merged for one connector must agree on how to talk to it."""
    first, conn = group[0]
    for desired, other in group[1:]:
        versions = {other.api_version, conn.api_version} - {"auto"}  # "auto": the file does not say
        what = "API version" if len(versions) > 1 else ""
        what = what or ("API key" if other.api_key != conn.api_key else "")
        if what:
            overridden = rt.flags.url or rt.env.get("EDC_MANAGEMENT_URL")
            why = (
                " (--url or EDC_MANAGEMENT_URL overrides every file's target.url; unset it to use each file's own)"
                if overridden
                else ""
            )
            return Problem(
                printable(desired.path),
                f"targets the same connector as {printable(first.path)} ({printable(conn.url)}){why}, so the two "
                f"are merged, but with another {what}: give the files for one connector the same target",
            )
    return None


def same_connector_key(url: str) -> str:
    """A URL compared as the same connector whatever its spelling: scheme and host case, default port, slash."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # resolve() refuses such URLs; compare them as written
        return url
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}{parts.path.rstrip('/')}"


@contextlib.asynccontextmanager
async def stop_on_signals(rt: Runtime) -> AsyncIterator[asyncio.Event]:
    """SIGINT/SIGTERM set an event instead of killing the run: in-flight calls finish."""
    stop = asyncio.Event()
    rt.stop = stop
    loop = asyncio.get_running_loop()
    installed = []

    def on_signal() -> None:
        if not stop.is_set():
            rt.console.warn("interrupted: finishing the calls in flight, then recording state and releasing the lock")
        else:  # a second Ctrl-C does not abandon the record of what was done
            rt.console.warn(
                "still finishing the calls in flight (each bounded by --timeout and --max-retries). "
                "If you must, kill -9 is safe: the vault is never half-written; remove the lock it leaves "
                "with `vaultsync force-unlock` and apply again"
            )
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    try:
        yield stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.asynccontextmanager
async def locked(rt: Runtime, client: EdcClient, operation: str, file: str = "FILE") -> AsyncIterator[None]:
    info = await vlock.acquire(client, rt.flags.lock_alias, operation)
    failure: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        failure = exc
        raise
    finally:
        try:
            await vlock.release(client, rt.flags.lock_alias, info)
        except VaultsyncError as exc:
            message = (
                f"could not release the lock ({exc}); once the connector answers, remove it with "
                f"`vaultsync force-unlock {info.id} {printable(file)}` (with the same connection options)"
            )
            if isinstance(failure, VaultsyncError):
                failure.add_note(message)  # printed after the error that stopped the run: the real cause first
            else:
                rt.console.error(message)
