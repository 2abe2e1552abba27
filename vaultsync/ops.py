"""The commands' work: load, lock, read, plan, apply, record. The CLI only parses and prints.

Every command validates all its input before the first request, so a bad
file or a missing setting costs zero HTTP calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from vaultsync import assets, planfile
from vaultsync import lock as vlock
from vaultsync.breaker import StateNotRecorded, connector_gone
from vaultsync.client import API_VERSIONS, ClientOptions, EdcClient, RequestEvent
from vaultsync.config import Connection, Flags, resolve, verify_setting
from vaultsync.console import Console, Progress
from vaultsync.desired import alias_problems, load_desired
from vaultsync.engine import execute, read_values
from vaultsync.errors import InputError, Interrupted, Problem, StalePlanError, UsageError, VaultsyncError
from vaultsync.lifecycle import execute as lc_execute
from vaultsync.lifecycle import files as lc_files
from vaultsync.lifecycle import planning as lc_planning
from vaultsync.lifecycle import record as lc_record
from vaultsync.lifecycle.generate import comparable
from vaultsync.lifecycle.selection import Selection, check_replace, unmatched
from vaultsync.lost_state import StateFacts, state_notices
from vaultsync.model import DesiredSecret, DesiredState
from vaultsync.plan import Action, DeleteGuard, Outcome, Plan, unsafe_deletes
from vaultsync.progress import ApplyProgress
from vaultsync.references import Checked
from vaultsync.render import PlanReport
from vaultsync.sources import Sources
from vaultsync.state import DriftItem, drift, fingerprint
from vaultsync.statestore import Loaded, StateStore, write_atomically
from vaultsync.text import printable

Confirm = Callable[[str], Awaitable[bool]]


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
        groups.setdefault(_same_connector_key(conn.url), []).append((desired, conn))
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


def _same_connector_key(url: str) -> str:
    """A URL compared as the same connector whatever its spelling: scheme and host case, default port, slash."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # resolve() refuses such URLs; compare them as written
        return url
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}{parts.path.rstrip('/')}"


@dataclass
class Planned:
    target: Target
    loaded: Loaded
    observed: dict[str, str | None] = field(repr=False)  # the vault's values
    plan: Plan
    guard: str | None
    selection: Selection = field(default_factory=Selection)
    refs: Checked | None = None  # what the connector's assets say about the plan (None: not read)

    def report(self) -> PlanReport:
        return PlanReport(
            self.target.desired.path,
            self.target.conn.url,
            self.target.conn.api_version,
            self.plan,
            self.guard,
            self.target.desired.paths,
            self.selection,
            self.refs,
            warnings=self.target.desired.warnings,
        )


async def plan_target(
    rt: Runtime, target: Target, client: EdcClient, *, adopt: bool, refuse_protected: bool = True
) -> Planned:
    # The version the client detected ("auto") is the one the plan shows and a saved plan keeps.
    target = replace(target, conn=replace(target.conn, api_version=client.api_version))
    store = rt.store(client)
    loaded = await store.load()  # first: a connector that cannot be reached or trusted fails here, alone
    aliases = lc_planning.aliases_to_read(target.desired, loaded.record, rt.selection)
    for pattern in unmatched(rt.selection, target.desired.secrets.keys() | loaded.record.managed.keys()):
        rt.console.warn(f"{printable(target.desired.path)}: --target {printable(pattern)!r} matches no alias")
    references = assets.start(client, rt.flags.references, rt.flags.assets_page_size)  # beside the GETs
    try:
        progress = rt.progress(f"reading {target.desired.path}", len(aliases))
        try:
            observed = await read_values(client, aliases, rt.flags.parallelism, progress, stop=rt.stop)
        finally:
            progress.close()
        plan = lc_planning.plan(target.desired, observed, loaded.record, rt.selection, adopt=adopt)
        _tell_about_state(rt, store, target, loaded, plan)
        if refuse_protected:
            _refuse_protected(target.desired.path, plan, loaded)
        refs = await _check_references(rt, references, client, target, plan, observed)
    finally:
        await assets.cancel(references)
    return Planned(target, loaded, observed, plan, unsafe_deletes(plan, DeleteGuard()), rt.selection, refs)


async def _check_references(
    rt: Runtime,
    task: asyncio.Task[assets.AssetIndex] | None,
    client: EdcClient,
    target: Target,
    plan: Plan,
    observed: Mapping[str, str | None],
) -> Checked | None:
    return await assets.finish(
        task,
        client,
        plan=plan,
        desired=target.desired.secrets,
        observed=observed,
        parallelism=rt.flags.parallelism,
        allow_dangling=rt.flags.allow_dangling,
        stop=rt.stop,
    )


def _tell_about_state(rt: Runtime, store: StateStore, target: Target, loaded: Loaded, plan: Plan) -> None:
    """No state, or fewer managed secrets than the vault suggests: say so, since the plan looks normal."""
    facts = StateFacts(
        target.desired.path,
        store.location,
        loaded.record.exists,
        len(loaded.record.managed),
        loaded.key_in_vault,
        store.path is not None,
        store.alias,
    )
    for notice in state_notices(facts, plan):
        (rt.console.warn if notice.warning else rt.console.info)(notice.text)


def _refuse_protected(where: str, plan: Plan, loaded: Loaded) -> None:
    found = lc_planning.protected_problems(plan, loaded.record)
    if found:
        raise VaultsyncError(lc_planning.protection_message(printable(where), found))


def _next_managed(
    planned: Planned,
    outcomes: Sequence[Outcome],
    secrets: Mapping[str, DesiredSecret] | None = None,
    renamed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The managed set after apply: exactly what succeeded, nothing that did not.

    ``secrets``: the desired secrets with the values apply generated; ``renamed``: fingerprints of renamed aliases.
    """
    key = planned.loaded.key
    managed = dict(planned.loaded.record.managed)
    results = {o.alias: o for o in outcomes if o.action is not Action.MOVE}
    secrets = planned.target.desired.secrets if secrets is None else secrets
    lc_record.apply_moves(managed, planned.plan, outcomes, renamed or {})
    for change in planned.plan.changes:
        alias = change.alias
        if change.action in (Action.CREATE, Action.UPDATE):
            if results.get(alias) is not None and results[alias].ok:
                managed[alias] = fingerprint(key, alias, secrets[alias].value)
        elif change.action is Action.DELETE:
            if results.get(alias) is not None and results[alias].ok:
                managed.pop(alias, None)
        elif change.forget:
            managed.pop(alias, None)
        elif change.action is Action.NOOP:
            stored = planned.observed.get(alias)
            if stored is not None:
                managed[alias] = fingerprint(key, alias, stored)
    return managed


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


def _next_flags(planned: Planned, managed: Mapping[str, str]) -> lc_record.Flags:
    return lc_record.next_flags(planned.loaded.record, managed, planned.target.desired.secrets, planned.plan)


def _state_differs(planned: Planned, managed: Mapping[str, str]) -> bool:
    """Whether ``managed`` must be written: it (or a flag) differs, or the fingerprint key is not stored yet."""
    record = planned.loaded.record
    return (
        dict(managed) != dict(record.managed)
        or _next_flags(planned, managed) != lc_record.flags_of(record)
        or (not planned.loaded.key_in_vault and bool(managed))
    )


def _needs_apply(planned: Planned) -> bool:
    """Writes to make, or a state to record (adoptions, forgotten aliases, fingerprints of no-ops
    whose value changed by hand to what the file wants: apply acknowledges that drift)."""
    return planned.plan.has_changes or _state_differs(planned, _next_managed(planned, []))


async def _execute_and_record(
    rt: Runtime, planned: Planned, client: EdcClient, stop: asyncio.Event
) -> tuple[list[Outcome], bool]:
    """Make the writes, then record exactly what succeeded. Returns the outcomes and whether state was written."""
    secrets = lc_execute.materialize(planned.target.desired.secrets, planned.plan)
    store = rt.store(client)
    renamed = await lc_execute.write_new_aliases(
        client, planned.plan, secrets, planned.loaded.key, rt.flags.parallelism, stop=stop
    )
    if renamed.deletes:  # the new aliases are recorded before the old ones go: an interruption loses nothing
        halfway = _next_managed(planned, renamed.outcomes, secrets, renamed.fingerprints)
        await _record(planned, store, halfway, renamed.outcomes)
    writes = [c for c in planned.plan.changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    writes += renamed.deletes
    progress = ApplyProgress(rt.console, f"applying {planned.target.desired.path}", len(writes))
    try:
        outcomes = await execute(
            client,
            writes,
            secrets,
            rt.flags.parallelism,
            stop=stop,
            progress=progress,
            on_outcome=progress.outcome,
        )
    finally:
        progress.close()
    connector_gone(rt.console, client.breaker, client.base_url, outcomes)
    outcomes = [*renamed.outcomes, *outcomes]
    managed = _next_managed(planned, outcomes, secrets, renamed.fingerprints)
    if not _state_differs(planned, managed):
        return outcomes, False
    await _record(planned, store, managed, outcomes)
    return outcomes, True


async def _record(planned: Planned, store: StateStore, managed: dict[str, str], outcomes: Sequence[Outcome]) -> None:
    """Save the state after (some of) the writes; a failure says which writes were made."""
    try:
        record = planned.loaded.record.with_managed(managed, *_next_flags(planned, managed))
        await store.save(planned.loaded, record)
    except VaultsyncError as exc:
        # The writes happened; say which, since the outcome list is never printed after this.
        done = [printable(f"{o.action} {o.alias}") for o in outcomes if o.ok]
        made = ", ".join(done[:10]) + (f" and {len(done) - 10} more" if len(done) > 10 else "")
        aftermath = (
            f"These changes WERE made in the vault: {made}. The next apply finds them there and records them "
            "(created or updated secrets that match the file are adopted, deleted ones forgotten)."
            if done
            else "No secret was written; apply again."
        )
        raise StateNotRecorded(
            f"the state could not be recorded in {store.location}: {exc}. {aftermath}", list(outcomes)
        ) from None


@dataclass
class ApplyResult:
    reports: list[PlanReport]
    outcomes: list[tuple[str, list[Outcome]]]
    interrupted: bool = False
    state_written: bool = False

    @property
    def failed(self) -> bool:
        return any(o.status != "done" for _, outs in self.outcomes for o in outs)


async def _apply_each(
    result: ApplyResult,
    work: Sequence[tuple[Runtime, Planned, EdcClient]],
    stop: asyncio.Event,
    show_outcomes: Callable[[str, list[Outcome]], None],
) -> None:
    """Execute each target's plan in turn, recording its state and reporting its outcomes."""
    for rt, planned, client in work:
        try:
            outcomes, written = await _execute_and_record(rt, planned, client, stop)
        except StateNotRecorded as exc:
            show_outcomes(planned.target.desired.path, exc.outcomes)
            raise
        result.state_written |= written
        result.outcomes.append((planned.target.desired.path, outcomes))
        show_outcomes(planned.target.desired.path, outcomes)
    result.interrupted = stop.is_set()


def _refuse_unsafe(planned: Sequence[Planned], allow_mass_delete: Sequence[bool], *, saved: bool = False) -> None:
    """Refuse the whole apply while a conflict remains or a target deletes too much (unless allowed)."""
    adopt_hint = (
        "plan again with --adopt (vaultsync plan FILE --adopt --out PLANFILE)" if saved else "apply with --adopt"
    )
    reasons = []
    for p, allowed in zip(planned, allow_mass_delete, strict=True):
        if p.plan.conflicts:
            names = ", ".join(printable(c.alias) for c in p.plan.conflicts[:10])
            reasons.append(
                f"{p.target.desired.path}: {len(p.plan.conflicts)} conflict(s) ({names}): these secrets exist in "
                "the vault with other values and are not managed. Import them (vaultsync import FILE ALIAS...) "
                f"or {adopt_hint} to overwrite them"
            )
        if p.guard and not allowed:
            reasons.append(f"{p.target.desired.path}: {p.guard}; pass --allow-mass-delete if that is intended")
        reasons.extend(reference_refusals(p.report()))
    if reasons:
        raise UsageError("apply refused, nothing was written:\n  " + "\n  ".join(reasons))


async def apply_files(
    rt: Runtime,
    targets: Sequence[Target],
    *,
    adopt: bool,
    allow_mass_delete: bool,
    confirm: Confirm | None,
    show: Callable[[list[PlanReport]], None],
    show_outcomes: Callable[[str, list[Outcome]], None],
) -> ApplyResult:
    """Plan every target under its lock, ask once, then apply each and record its state."""
    async with contextlib.AsyncExitStack() as stack:
        stop = await stack.enter_async_context(stop_on_signals(rt))
        planned: list[tuple[Planned, EdcClient]] = []
        for target in targets:
            client = await stack.enter_async_context(rt.client(target.conn))
            await stack.enter_async_context(locked(rt, client, f"apply {target.desired.path}", target.desired.path))
            planned.append((await plan_target(rt, target, client, adopt=adopt), client))
            if stop.is_set():
                raise Interrupted("interrupted before anything was written")
        reports = [p.report() for p, _ in planned]
        show(reports)
        _refuse_unsafe([p for p, _ in planned], [allow_mass_delete] * len(planned))
        result = ApplyResult(reports, [])
        if not any(_needs_apply(p) for p, _ in planned):
            return result
        needs_approval = confirm is not None and any(p.plan.has_changes for p, _ in planned)
        question = "Do you want to apply these changes? Only 'yes' will be accepted: "
        if needs_approval and confirm is not None and not await confirm(question):
            if stop.is_set():
                raise Interrupted("apply cancelled, nothing was written")
            raise UsageError("apply cancelled, nothing was written")
        await _apply_each(result, [(rt, p, client) for p, client in planned], stop, show_outcomes)
        return result


# -- saved plans -----------------------------------------------------------------------------


def reference_refusals(report: PlanReport) -> list[str]:
    """Why the plan must not run: it removes aliases that assets still reference (empty: it may)."""
    if report.refs is None or not report.refs.refusals:
        return []
    broken = "; ".join(r.message() for r in report.refs.refusals[:10])
    more = len(report.refs.refusals) - 10
    return [
        printable(
            f"{report.file}: {broken}{f' and {more} more' if more > 0 else ''}. Point the assets at another "
            "alias first, or pass --allow-dangling if that is intended"
        )
    ]


def _fingerprints(key: bytes, values: Mapping[str, str | None]) -> dict[str, str | None]:
    return {a: (fingerprint(key, a, v) if v is not None else None) for a, v in values.items()}


async def plan_files(
    rt: Runtime, targets: Sequence[Target], *, adopt: bool, out: str | None, allow_mass_delete: bool = False
) -> list[PlanReport]:
    """Read-only (except that ``--out`` stores the fingerprint key on first use).

    ``adopt`` and ``allow_mass_delete`` are recorded in the saved plan: what was reviewed is what applies.
    """
    saved: list[planfile.SavedTarget] = []
    keys: list[bytes] = []
    reports = []
    for target in targets:
        async with rt.client(target.conn) as client:
            planned = await plan_target(rt, target, client, adopt=adopt)
            reports.append(planned.report())
            if out is not None:
                await rt.store(client).ensure_key(planned.loaded)
                inputs = _plan_inputs(rt, planned.target, adopt=adopt, allow_mass_delete=allow_mass_delete)
                saved.append(_saved_target(planned, inputs))
                keys.append(planned.loaded.key)
    if out is not None and not any(reference_refusals(r) for r in reports):  # a refused plan is not saved
        write_atomically(Path(out), planfile.encode(saved, keys))
    return reports


def _plan_inputs(rt: Runtime, target: Target, *, adopt: bool, allow_mass_delete: bool) -> planfile.PlanInputs:
    """What ``plan --out`` records for ``apply PLANFILE`` to compute the same plan again."""
    return planfile.PlanInputs(
        files=tuple(planfile.record_path(p) for p in target.desired.paths),
        api_version=target.conn.api_version,
        state_file=planfile.record_path(rt.flags.state_file) if rt.flags.state_file else None,
        state_alias=rt.flags.state_alias,
        lock_alias=rt.flags.lock_alias,
        adopt=adopt,
        allow_mass_delete=allow_mass_delete,
        selection=rt.selection,
        allow_dangling=rt.flags.allow_dangling,
    )


def _saved_target(planned: Planned, inputs: planfile.PlanInputs) -> planfile.SavedTarget:
    key = planned.loaded.key
    return planfile.SavedTarget(
        url=planned.target.conn.url,
        inputs=inputs,
        lineage=planned.loaded.record.lineage,
        serial=planned.loaded.record.serial,
        read=_fingerprints(key, planned.observed),
        desired=_desired_fingerprints(key, planned.target.desired.secrets, planned.selection),
        plan=planned.plan,
    )


def _desired_fingerprints(key: bytes, secrets: Mapping[str, DesiredSecret], selection: Selection) -> dict[str, str]:
    """What a saved plan checks of the desired state: the selected aliases' values (a generate entry's recipe)."""
    return {a: fingerprint(key, a, comparable(s)) for a, s in secrets.items() if selection.matches(a)}


async def apply_saved(
    rt: Runtime,
    path: str,
    data: bytes,
    *,
    allow_mass_delete: bool,
    show: Callable[[list[PlanReport]], None],
    show_outcomes: Callable[[str, list[Outcome]], None],
) -> ApplyResult:
    """Carry out a saved plan only if, computed again under the lock, it is exactly the saved one."""
    prepared = _prepare_saved(rt, path, planfile.decode(data, path))
    async with contextlib.AsyncExitStack() as stack:
        stop = await stack.enter_async_context(stop_on_signals(rt))
        ready = []
        for saved, target, flags in prepared:
            trt = Runtime(flags, rt.env, rt.console, rt.verbose, rt.transport, stop, saved.inputs.selection)
            client = await stack.enter_async_context(trt.client(target.conn))
            await _check_seal(trt, client, path, saved)
            await stack.enter_async_context(locked(trt, client, f"apply {path}", target.desired.path))
            planned = await plan_target(trt, target, client, adopt=saved.inputs.adopt)
            if stop.is_set():
                raise Interrupted("interrupted before anything was written")
            _verify_saved(trt, path, saved, planned)
            ready.append((planned, client, trt))
        reports = [p.report() for p, _, _ in ready]
        show(reports)
        allowed = [allow_mass_delete or saved.inputs.allow_mass_delete for saved, _, _ in prepared]
        _refuse_unsafe([p for p, _, _ in ready], allowed, saved=True)
        result = ApplyResult(reports, [])
        await _apply_each(result, [(trt, planned, client) for planned, client, trt in ready], stop, show_outcomes)
        return result


def _prepare_saved(
    rt: Runtime, path: str, saved_targets: Sequence[planfile.SavedTarget]
) -> list[tuple[planfile.SavedTarget, Target, Flags]]:
    """Everything checkable before a request: the recorded inputs, the desired files, the URL.

    The URL (and with it the key) comes from the desired files, flags and environment, as for
    ``apply FILE``; the plan's own URL only has to agree with it.
    """
    prepared = []
    seen: dict[str, str] = {}
    for saved in saved_targets:
        flags = _flags_for(rt.flags, path, saved.inputs)
        missing = [f for f in saved.inputs.files if not Path(f).exists()]
        if missing:
            where = "the working directory it was made in; run apply from the same folder of the checkout"
            raise InputError(
                [Problem(printable(f), f"no such file (a saved plan's paths are relative to {where})") for f in missing]
            )
        try:
            (target,) = prepare(
                Runtime(flags, rt.env, rt.console, selection=saved.inputs.selection), saved.inputs.files
            )
        except UsageError as exc:
            if "no management API URL" not in str(exc):
                raise
            raise UsageError(
                printable(
                    f"{exc}. A saved plan goes where the desired files and settings point, never to the URL written "
                    f"in it ({saved.url}): give apply the same --url or EDC_MANAGEMENT_URL as the plan. "
                    "Nothing was written."
                )
            ) from None
        if _same_connector_key(target.conn.url) != _same_connector_key(saved.url):
            raise StalePlanError(
                printable(
                    f"{path}: the saved plan is stale: it was made for {saved.url}, not {target.conn.url} "
                    f"(where {target.desired.path}, --url and EDC_MANAGEMENT_URL point now); nothing was written"
                )
            )
        key = _same_connector_key(target.conn.url)
        if key in seen:
            raise InputError([Problem(path, f"the saved plan names the connector {printable(saved.url)} twice")])
        seen[key] = target.desired.path
        prepared.append((saved, target, flags))
    return prepared


def _flags_for(flags: Flags, path: str, inputs: planfile.PlanInputs) -> Flags:
    """The flags of the planning run, from the recorded inputs; refuses a --state-file other than the planned one."""
    given = flags.state_file
    if given and (inputs.state_file is None or Path(given).resolve() != Path(inputs.state_file).resolve()):
        where = f"the state file {inputs.state_file}" if inputs.state_file else f"the vault alias {inputs.state_alias}"
        raise UsageError(
            printable(
                f"{path} was planned against {where}, not --state-file {given}; a saved plan uses the state it "
                "was planned against (drop --state-file, or plan again with it). Nothing was written."
            )
        )
    problems = [f"state alias: {m}" for m in alias_problems(inputs.state_alias)]
    problems += [f"lock alias: {m}" for m in alias_problems(inputs.lock_alias)]
    if inputs.state_alias == inputs.lock_alias:
        problems.append("the state and lock aliases are the same")
    if inputs.api_version not in API_VERSIONS:
        problems.append(f"unknown API version {inputs.api_version!r}")
    if problems:
        raise InputError([Problem(path, printable(f"the saved plan is corrupt: {p}")) for p in problems])
    return replace(
        flags,
        state_file=inputs.state_file,
        state_alias=inputs.state_alias,
        lock_alias=inputs.lock_alias,
        api_version=inputs.api_version,
        allow_dangling=flags.allow_dangling or inputs.allow_dangling,
    )


_BROKEN_SEAL = (
    "its seal does not match (the plan file was edited after planning, or planned against a vault holding "
    "another fingerprint key)"
)


async def _check_seal(rt: Runtime, client: EdcClient, path: str, saved: planfile.SavedTarget) -> None:
    """Before the lock (the first write): nothing recorded in the plan file is used unless this vault sealed it.

    Reads only the state alias, for its key: not a state file the plan names, not the lock alias it names.
    """
    try:
        loaded = await StateStore(client, rt.flags.state_alias).load()
    except InputError as exc:  # the alias the plan names holds no vaultsync state
        raise StalePlanError(printable(f"{path}: the saved plan cannot be used, nothing was written: {exc}")) from None
    if not loaded.key_in_vault:
        reason = f"the fingerprint key is gone from the vault alias {rt.flags.state_alias}"
    elif not saved.seal_holds(loaded.key):
        reason = _BROKEN_SEAL
    else:
        return
    raise StalePlanError(
        printable(
            f"{path}: the saved plan cannot be used, nothing was written: {reason}. Run `vaultsync plan --out` again."
        )
    )


def _verify_saved(rt: Runtime, path: str, saved: planfile.SavedTarget, planned: Planned) -> None:
    """Refuse unless the plan computed now (under the lock) is exactly the saved one, and read the same."""
    loaded = planned.loaded
    if not loaded.key_in_vault:  # a fresh key: every fingerprint would differ, say why instead
        reasons = [f"the fingerprint key is gone from the vault alias {rt.flags.state_alias}"]
    else:
        reasons = [] if saved.seal_holds(loaded.key) else [_BROKEN_SEAL]
        reasons += planfile.staleness(
            saved,
            lineage=loaded.record.lineage,
            serial=loaded.record.serial,
            read_now=_fingerprints(loaded.key, planned.observed),
            desired_now=_desired_fingerprints(loaded.key, planned.target.desired.secrets, saved.inputs.selection),
            plan_now=planned.plan,
        )
    if reasons:
        edited_only = all(r.startswith("its ") for r in reasons)  # nothing moved: the file says something else
        head = "does not match the plan computed now" if edited_only else "is stale"
        raise StalePlanError(
            printable(
                f"{path}: the saved plan {head}, nothing was written: "
                + "; ".join(reasons)
                + ". Run `vaultsync plan --out` again."
            )
        )


# -- drift, import, state --------------------------------------------------------------------


async def drift_files(rt: Runtime, targets: Sequence[Target]) -> list[tuple[str, list[DriftItem], list[DriftItem]]]:
    results = []
    for target in targets:
        async with rt.client(target.conn) as client:
            # Read-only: a pending delete of a protected alias is reported as pending, not refused.
            planned = await plan_target(rt, target, client, adopt=False, refuse_protected=False)
            locked_by = await vlock.holder(client, rt.flags.lock_alias)
            if locked_by:
                rt.console.warn(
                    f"{printable(target.desired.path)}: the vault is locked by {locked_by}: an apply may be "
                    "under way, and drift seen now may be its unfinished work"
                )
            managed = planned.loaded.record.managed
            if not planned.loaded.key_in_vault:
                if managed:
                    rt.console.warn(
                        f"{printable(target.desired.path)}: no fingerprint key in the vault alias "
                        f"{printable(rt.flags.state_alias)}: only deletions can be detected, not changed values"
                    )
                managed = {a: "" for a in managed}
            observed_fps = _fingerprints(
                planned.loaded.key, {a: v for a, v in planned.observed.items() if a in managed}
            )
            pending = {c.alias: str(c.action) for c in planned.plan.changes if c.is_change}
            for warning in planned.refs.warnings if planned.refs else ():
                rt.console.warn(printable(f"{target.desired.path}: {warning.message}"))
            drifted, waiting = drift(managed, observed_fps, pending)
            results.append((target.desired.path, drifted, waiting))
    return results


async def import_aliases(rt: Runtime, target: Target, aliases: Sequence[str]) -> list[str]:
    """Take existing vault secrets under management without changing them."""
    unknown = [a for a in aliases if a not in target.desired.secrets]
    if unknown:
        raise UsageError(
            f"not in {target.desired.path}: {', '.join(printable(a) for a in unknown)}; add them to the file first"
        )
    # Signals wait for the short critical section: the lock is always released.
    async with stop_on_signals(rt), rt.client(target.conn) as client, locked(rt, client, "import"):
        store = rt.store(client)
        loaded = await store.load()
        values = await read_values(client, aliases, rt.flags.parallelism)
        missing = [a for a, v in values.items() if v is None]
        if missing:
            raise VaultsyncError(
                "not in the vault, nothing to import (apply will create them): "
                + ", ".join(printable(a) for a in missing)
            )
        managed = dict(loaded.record.managed)
        for alias, value in values.items():
            assert value is not None
            managed[alias] = fingerprint(loaded.key, alias, value)
        await store.save(loaded, loaded.record.with_managed(managed))
    return list(aliases)


async def state_list(rt: Runtime, conn: Connection) -> list[str]:
    async with rt.client(conn) as client:
        loaded = await rt.store(client).load()
    return sorted(loaded.record.managed)


async def state_rm(rt: Runtime, conn: Connection, aliases: Sequence[str]) -> list[str]:
    """Forget aliases without deleting them from the vault."""
    async with stop_on_signals(rt), rt.client(conn) as client, locked(rt, client, "state rm"):
        store = rt.store(client)
        loaded = await store.load()
        absent = [a for a in aliases if a not in loaded.record.managed]
        if absent:
            raise VaultsyncError("not managed: " + ", ".join(printable(a) for a in absent))
        managed = {a: fp for a, fp in loaded.record.managed.items() if a not in set(aliases)}
        await store.save(loaded, loaded.record.with_managed(managed))
    return list(aliases)


async def force_unlock(rt: Runtime, conn: Connection, lock_id: str) -> vlock.LockInfo | None:
    async with rt.client(conn) as client:
        return await vlock.force_unlock(client, rt.flags.lock_alias, lock_id)
