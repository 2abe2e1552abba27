"""``apply PLANFILE``: carry out a saved plan only if, computed again under the lock, it is exactly the saved one."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from vaultsync import planfile
from vaultsync.bodies import API_VERSIONS
from vaultsync.client import EdcClient
from vaultsync.commands.applying import ApplyResult, apply_each, refuse_unsafe
from vaultsync.commands.planning import Planned, desired_fingerprints, fingerprints, plan_target
from vaultsync.commands.runtime import Runtime, Target, locked, prepare, same_connector_key, stop_on_signals
from vaultsync.config import Flags
from vaultsync.desired import alias_problems
from vaultsync.errors import InputError, Interrupted, Problem, StalePlanError, UsageError
from vaultsync.plan import Outcome
from vaultsync.render import PlanReport
from vaultsync.statestore import StateStore
from vaultsync.text import printable


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
        refuse_unsafe([p for p, _, _ in ready], allowed, saved=True)
        result = ApplyResult(reports, [])
        await apply_each(result, [(trt, planned, client) for planned, client, trt in ready], stop, show_outcomes)
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
        if same_connector_key(target.conn.url) != same_connector_key(saved.url):
            raise StalePlanError(
                printable(
                    f"{path}: the saved plan is stale: it was made for {saved.url}, not {target.conn.url} "
                    f"(where {target.desired.path}, --url and EDC_MANAGEMENT_URL point now); nothing was written"
                )
            )
        key = same_connector_key(target.conn.url)
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
            read_now=fingerprints(loaded.key, planned.observed),
            desired_now=desired_fingerprints(loaded.key, planned.target.desired.secrets, saved.inputs.selection),
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
