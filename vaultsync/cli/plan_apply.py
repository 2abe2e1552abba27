"""``validate``, ``plan`` and ``apply``: check the files, show the changes, make them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from vaultsync.cli.options import (
    CONTEXT,
    alias_options,
    allow_commands_option,
    allow_outside_files_option,
    check_reserved,
    connection_options,
    console_for,
    lifecycle_options,
    output_options,
    reference_options,
    run,
    runtime,
)
from vaultsync.errors import UsageError, VaultsyncError

if TYPE_CHECKING:
    from vaultsync.commands.runtime import Runtime


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--skip-env", is_flag=True, help="Do not require fromEnv variables to be set (for pre-commit hooks).")
@allow_outside_files_option
@alias_options
@output_options
def validate(files: tuple[str, ...], skip_env: bool, allow_outside_files: bool, **kw: Any) -> None:
    """Check desired-state FILES (or directories of *.json files): schema and references only, no network.

    Files for the same connector are checked together: an alias in two of them, and renames (moved).
    """
    from vaultsync.desired import load_desired
    from vaultsync.errors import InputError, Problem
    from vaultsync.lifecycle.files import connector_problems, expand
    from vaultsync.model import DesiredState
    from vaultsync.notices import warn_all
    from vaultsync.sources import Sources

    console = console_for(kw)
    env: dict[str, str] = dict(os.environ)
    check_reserved(kw["state_alias"], kw["lock_alias"])
    reserved = (kw["state_alias"], kw["lock_alias"])
    problems: list[Problem] = []
    sources = Sources.for_run(env, "check")  # validate never runs a program
    states: list[DesiredState] = []
    for file in expand(files):
        try:
            state = load_desired(
                file,
                env=_AnyEnv(env) if skip_env else env,
                reserved=reserved,
                sources=sources,
                allow_outside_files=allow_outside_files,
            )
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        states.append(state)
    problems += connector_problems(states, env.get("EDC_MANAGEMENT_URL"), reserved)
    for state in states:
        if not any(p.where.startswith(f"{state.path}:") for p in problems):
            n = len(state.secrets)
            console.result(f"{state.path}: valid ({n} secret{'s' if n != 1 else ''})")
            warn_all(console, state.path, state.warnings)
    if problems:
        raise InputError(problems)


class _AnyEnv(dict[str, str]):
    """An environment in which every variable is set (validate --skip-env)."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key, "(set at run time)")


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--out", metavar="PLANFILE", help="Save the plan for `vaultsync apply PLANFILE` (holds no values).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 without changes, 2 with changes, 1 on error.")
@click.option("--adopt", is_flag=True, help="Plan to overwrite unmanaged secrets that hold other values.")
@click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Record in the saved plan (--out) that it may delete more than 30% of the managed secrets (or all).",
)
@click.option("--show-unchanged", is_flag=True, help="List unchanged secrets too (text format).")
@lifecycle_options
@reference_options(dangling=True)
@allow_commands_option
@connection_options
@output_options
def plan(
    files: tuple[str, ...],
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    adopt: bool,
    allow_mass_delete: bool,
    show_unchanged: bool,
    **kw: Any,
) -> None:
    """Show the changes apply would make to the vault, never the values.

    FILES may be directories (their *.json files); files for one connector are merged.

    Also reads the connector's assets: each change shows the assets whose data
    address names the alias, a delete of a referenced alias is refused (exit 1)
    unless --allow-dangling, and dangling references and mis-shaped S3
    credentials are warned about (--no-references skips all of it).
    """
    from vaultsync import render
    from vaultsync.commands.planning import plan_files, reference_refusals
    from vaultsync.commands.runtime import prepare
    from vaultsync.notices import warn_all

    rt = runtime(kw)
    targets = prepare(rt, files)
    for t in targets:
        warn_all(rt.console, t.desired.path, t.desired.warnings)
    reports = run(plan_files(rt, targets, adopt=adopt, out=out, allow_mass_delete=allow_mass_delete))
    if fmt == "json":
        rt.console.result(render.json_plan(reports))
    elif fmt == "markdown":
        rt.console.result(render.markdown_plan(reports))
    else:
        rt.console.result(render.text_plan(rt.console, reports, show_unchanged=show_unchanged))
    refused = [reason for r in reports for reason in reference_refusals(r)]
    if refused:
        raise UsageError("plan refused" + (", not saved" if out else "") + ":\n  " + "\n  ".join(refused))
    if out:
        rt.console.info(f"Saved the plan to {out}; apply exactly it with: vaultsync apply {out}")
    if detailed_exitcode and any(r.plan.has_changes for r in reports):
        raise SystemExit(2)


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--auto-approve", is_flag=True, help="Apply without asking (required when stdin is not a terminal).")
@click.option("--adopt", is_flag=True, help="Overwrite unmanaged secrets holding other values and manage them.")
@click.option("--allow-mass-delete", is_flag=True, help="Allow deleting more than 30% of the managed secrets (or all).")
@lifecycle_options
@reference_options(dangling=True)
@allow_commands_option
@connection_options
@output_options
def apply(files: tuple[str, ...], auto_approve: bool, adopt: bool, allow_mass_delete: bool, **kw: Any) -> None:
    """Make the vault match FILES (or directories of *.json files), or carry out a saved PLANFILE."""
    from pathlib import Path

    from vaultsync import planfile, render
    from vaultsync.commands.applying import apply_files
    from vaultsync.commands.runtime import prepare
    from vaultsync.commands.saved import apply_saved
    from vaultsync.notices import warn_all

    rt = runtime(kw)

    def show(reports: list[render.PlanReport]) -> None:
        rt.console.result(render.text_plan(rt.console, reports))

    def show_outcomes(file: str, outcomes: list[Any]) -> None:
        if outcomes:
            rt.console.result(render.text_outcomes(rt.console, outcomes, file))

    first = Path(files[0])
    try:
        head = first.read_bytes()[:4096] if first.is_file() else b""
    except OSError:  # unreadable: loading it as a desired-state file reports why, as an error not a traceback
        head = b""
    if planfile.looks_like_plan(head):
        if len(files) > 1:
            raise UsageError("apply takes one saved plan at a time")
        if adopt:
            raise UsageError(
                "a saved plan is applied exactly as planned: --adopt belongs to the plan "
                "(vaultsync plan FILE --adopt --out PLANFILE). Nothing was written."
            )
        if rt.selection.partial or rt.selection.replace:
            raise UsageError(
                "a saved plan is applied exactly as planned: --target, --exclude and --replace belong to the "
                "plan (vaultsync plan FILE --target ... --out PLANFILE), which keeps them. Nothing was written."
            )
        result = run(
            apply_saved(
                rt,
                files[0],
                first.read_bytes(),
                allow_mass_delete=allow_mass_delete,
                show=show,
                show_outcomes=show_outcomes,
            )
        )
    else:
        targets = prepare(rt, files)
        for t in targets:
            warn_all(rt.console, t.desired.path, t.desired.warnings)
        confirm = None
        if not auto_approve:
            if not sys.stdin.isatty():
                raise UsageError(
                    "stdin is not a terminal, so apply cannot ask for approval: pass --auto-approve, "
                    "or save a reviewed plan with `plan --out PLANFILE` and run `apply PLANFILE`. Nothing was written."
                )
            confirm = _prompt(rt)
        result = run(
            apply_files(
                rt,
                targets,
                adopt=adopt,
                allow_mass_delete=allow_mass_delete,
                confirm=confirm,
                show=show,
                show_outcomes=show_outcomes,
            )
        )
    if len(result.outcomes) > 1:
        rt.console.result(render.text_outcomes_total(result.outcomes))
    if result.interrupted:
        from vaultsync.errors import Interrupted

        raise Interrupted("apply was interrupted; the state records what was done. Run apply again to finish.")
    if not any(outs for _, outs in result.outcomes):
        rt.console.info("State updated; no secret was written." if result.state_written else "Nothing to apply.")
    if result.failed:
        raise VaultsyncError(
            "some changes failed (listed above); the state records what succeeded. Fix and apply again."
        )


def _settle(future: Any, value: str) -> None:
    if not future.done():
        future.set_result(value)


def _prompt(rt: Runtime) -> Callable[[str], Any]:
    async def confirm(question: str) -> bool:
        import asyncio
        import threading

        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def read() -> None:
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError):
                line = ""
            loop.call_soon_threadsafe(_settle, answer, line)

        rt.console.err.write(question)
        rt.console.err.flush()
        threading.Thread(target=read, daemon=True).start()  # daemon: an unanswered prompt never blocks exit
        waits: set[asyncio.Future[Any]] = {answer}
        if rt.stop is not None:
            waits.add(asyncio.ensure_future(rt.stop.wait()))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            if w is not answer:
                w.cancel()
        return answer.done() and answer.result().strip() == "yes"

    return confirm
