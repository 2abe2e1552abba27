"""The command line: parse, call ops, print. Heavy imports happen inside commands.

Exit codes: 0 success; 1 error, invalid input, refused or failed apply, and
usage errors (not click's 2, which means "changes present" under
--detailed-exitcode); 2 changes present / drift detected; 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from vaultsync import __version__
from vaultsync.console import Console, wants_color
from vaultsync.errors import UsageError, VaultsyncError

if TYPE_CHECKING:
    from vaultsync.ops import Runtime

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def output_options(func: F) -> F:
    """-v / -q / --no-color, accepted on every command."""
    func = click.option("-v", "--verbose", is_flag=True, help="Log each request (method, path, status) on stderr.")(
        func
    )
    func = click.option("-q", "--quiet", is_flag=True, help="Print results only, no progress or hints.")(func)
    func = click.option("--no-color", is_flag=True, help="No colour (also: the NO_COLOR environment variable).")(func)
    return func


def allow_commands_option(func: F) -> F:
    """--allow-commands, on the commands that resolve values (plan, apply, drift)."""
    return click.option(
        "--allow-commands",
        is_flag=True,
        help="Run the programs of fromCommand entries (never implied, not even by a saved plan).",
    )(func)


def alias_options(func: F) -> F:
    func = click.option(
        "--state-alias",
        default="vaultsync-state",
        show_default=True,
        metavar="ALIAS",
        help="Reserved alias holding vaultsync's state and key (a large state also uses ALIAS-2, ALIAS-3, ...).",
    )(func)
    func = click.option(
        "--lock-alias",
        default="vaultsync-lock",
        show_default=True,
        metavar="ALIAS",
        help="Reserved alias used as the apply lock.",
    )(func)
    return func


def lifecycle_options(func: F) -> F:
    """--target / --exclude / --replace (plan and apply; a saved plan keeps them)."""
    options = [
        click.option(
            "--target",
            "targets",
            multiple=True,
            metavar="ALIAS",
            help="Only plan/apply aliases matching this shell glob (repeatable; e.g. 'provider-*'). "
            "Renames match by their new alias. The plan says it is partial.",
        ),
        click.option(
            "--exclude",
            "excludes",
            multiple=True,
            metavar="ALIAS",
            help="Leave aliases matching this shell glob alone (repeatable; wins over --target).",
        ),
        click.option(
            "--replace",
            "replace",
            multiple=True,
            metavar="ALIAS",
            help="Rewrite ALIAS even when unchanged; a generated secret gets a new random value (repeatable).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


allow_outside_files_option = click.option(
    "--allow-outside-files",
    is_flag=True,
    help="Let fromFile read outside the desired-state file's folder tree (refused by default).",
)


def connection_options(func: F) -> F:
    """Target, credentials and transport settings, defined once for every command that talks."""
    options = [
        click.option("--url", metavar="URL", help="Management API base URL [env EDC_MANAGEMENT_URL]."),
        click.option(
            "--api-key-file",
            metavar="PATH",
            type=click.Path(dir_okay=False),
            help="File holding the API key sent as X-Api-Key (one trailing newline stripped); "
            "or set EDC_API_KEY (the key itself, not a path).",
        ),
        click.option(
            "--api-version",
            type=click.Choice(["auto", "v3", "v4beta", "v4"]),
            help="Secrets API version; auto probes v4, v3, v4beta [env EDC_API_VERSION; default auto].",
        ),
        click.option(
            "--parallelism",
            type=click.IntRange(1, 256),
            default=10,
            show_default=True,
            help="Concurrent requests.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0.1, 3600),
            default=30.0,
            show_default=True,
            help="Seconds per request.",
        ),
        click.option(
            "--max-retries",
            type=click.IntRange(0, 20),
            default=4,
            show_default=True,
            help="Retries after the first try (connection errors, timeouts, 429, 502-504).",
        ),
        click.option("--ca-bundle", metavar="PATH", help="CA certificates (PEM) to verify the server with."),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (testing only; warns)."),
        click.option("--state-file", metavar="PATH", help="Keep state in this local file instead of the vault."),
        allow_outside_files_option,
    ]
    for option in reversed(options):
        func = option(func)
    return alias_options(func)


def reference_options(*, dangling: bool) -> Callable[[F], F]:
    """Reading the connector's assets for the aliases they reference (see README, "References")."""

    def decorate(func: F) -> F:
        if dangling:
            func = click.option(
                "--allow-dangling",
                is_flag=True,
                help="Allow deleting secrets that assets still reference (they will break; warned about).",
            )(func)
        func = click.option(
            "--assets-page-size",
            type=click.IntRange(1, 100_000),
            default=500,
            show_default=True,
            metavar="N",
            help="Assets per assets/request page when reading references.",
        )(func)
        return click.option(
            "--no-references",
            is_flag=True,
            help="Do not read the connector's assets for references to the secrets.",
        )(func)

    return decorate


def _runtime(kw: dict[str, Any]) -> Runtime:
    from vaultsync.config import Flags
    from vaultsync.ops import Runtime

    flags = Flags(
        url=kw.get("url"),
        api_key_file=kw.get("api_key_file"),
        api_version=kw.get("api_version"),
        parallelism=kw.get("parallelism", 10),
        timeout=kw.get("timeout", 30.0),
        max_retries=kw.get("max_retries", 4),
        ca_bundle=kw.get("ca_bundle"),
        insecure=kw.get("insecure", False),
        state_file=kw.get("state_file"),
        state_alias=kw.get("state_alias", "vaultsync-state"),
        lock_alias=kw.get("lock_alias", "vaultsync-lock"),
        references=not kw.get("no_references", False),
        assets_page_size=kw.get("assets_page_size", 500),
        allow_dangling=kw.get("allow_dangling", False),
        # Commands offering --allow-commands use values; the others (import, state...) never run programs.
        commands=("run" if kw["allow_commands"] else "refuse") if "allow_commands" in kw else "check",
        allow_outside_files=kw.get("allow_outside_files", False),
    )
    check_reserved(flags.state_alias, flags.lock_alias)
    from vaultsync.lifecycle.selection import make

    selection = make(kw.get("targets", ()), kw.get("excludes", ()), kw.get("replace", ()))
    return Runtime(flags, os.environ, _console(kw), verbose=kw.get("verbose", False), selection=selection)


def check_reserved(state_alias: str, lock_alias: str) -> None:
    """--state-alias / --lock-alias must be usable aliases, and two different ones."""
    if state_alias == lock_alias:
        raise UsageError("--state-alias and --lock-alias must name different aliases")
    if (state_alias, lock_alias) == ("vaultsync-state", "vaultsync-lock"):
        return
    from vaultsync.desired import alias_problems
    from vaultsync.text import printable

    for flag, alias in (("--state-alias", state_alias), ("--lock-alias", lock_alias)):
        for message in alias_problems(alias):
            raise UsageError(f"{flag} {printable(alias)!r}: {message}")


def _console(kw: dict[str, Any]) -> Console:
    no_color = kw.get("no_color", False)
    return Console(
        color=wants_color(sys.stdout, no_color),
        err_color=wants_color(sys.stderr, no_color),
        quiet=kw.get("quiet", False),
    )


def _run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="vaultsync", message="%(prog)s %(version)s")
def cli() -> None:
    """Declarative sync for the secrets vault of EDC connectors.

    Keep the desired secrets of a connector in a JSON file; `plan` shows what
    would change (never the values), `apply` makes the minimal calls.

    \b
    Connection: --url / EDC_MANAGEMENT_URL,
    --api-key-file PATH (a file holding the key) or EDC_API_KEY (the key itself),
    --api-version / EDC_API_VERSION (auto by default: probes v4, v3, v4beta once per run).
    Shell completion: eval "$(_VAULTSYNC_COMPLETE=bash_source vaultsync)"
    (zsh_source, fish_source for other shells).
    """


@cli.command(context_settings=CONTEXT)
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

    console = _console(kw)
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


@cli.command(context_settings=CONTEXT)
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
    from vaultsync import ops, render
    from vaultsync.notices import warn_all

    rt = _runtime(kw)
    targets = ops.prepare(rt, files)
    for t in targets:
        warn_all(rt.console, t.desired.path, t.desired.warnings)
    reports = _run(ops.plan_files(rt, targets, adopt=adopt, out=out, allow_mass_delete=allow_mass_delete))
    if fmt == "json":
        rt.console.result(render.json_plan(reports))
    elif fmt == "markdown":
        rt.console.result(render.markdown_plan(reports))
    else:
        rt.console.result(render.text_plan(rt.console, reports, show_unchanged=show_unchanged))
    refused = [reason for r in reports for reason in ops.reference_refusals(r)]
    if refused:
        raise UsageError("plan refused" + (", not saved" if out else "") + ":\n  " + "\n  ".join(refused))
    if out:
        rt.console.info(f"Saved the plan to {out}; apply exactly it with: vaultsync apply {out}")
    if detailed_exitcode and any(r.plan.has_changes for r in reports):
        raise SystemExit(2)


@cli.command(context_settings=CONTEXT)
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

    from vaultsync import ops, planfile, render
    from vaultsync.notices import warn_all

    rt = _runtime(kw)

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
        result = _run(
            ops.apply_saved(
                rt,
                files[0],
                first.read_bytes(),
                allow_mass_delete=allow_mass_delete,
                show=show,
                show_outcomes=show_outcomes,
            )
        )
    else:
        targets = ops.prepare(rt, files)
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
        result = _run(
            ops.apply_files(
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


@cli.command("import", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("aliases", nargs=-1, required=True)
@connection_options
@output_options
def import_(file: str, aliases: tuple[str, ...], **kw: Any) -> None:
    """Take existing vault secrets under management without changing them."""
    from vaultsync import ops
    from vaultsync.edcowned import edc_owned
    from vaultsync.text import printable

    owned = [f"{printable(a)}: {edc_owned(a)}" for a in dict.fromkeys(aliases) if edc_owned(a)]
    if owned:
        raise UsageError("cannot import:\n  " + "\n  ".join(owned))
    rt = _runtime(kw)
    (target,) = ops.prepare(rt, [file])
    done = _run(ops.import_aliases(rt, target, list(dict.fromkeys(aliases))))
    for alias in done:
        rt.console.result(f"imported {_safe(alias)}")


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@reference_options(dangling=False)
@allow_commands_option
@connection_options
@output_options
def drift(files: tuple[str, ...], fmt: str, **kw: Any) -> None:
    """Read-only: detect changes made to managed secrets outside vaultsync.

    Exit 0 without drift, 2 with drift, 1 on error. Changes still pending in
    the file are listed but are not drift. FILES may be directories (their *.json files).
    """
    from vaultsync import ops, render

    rt = _runtime(kw)
    targets = ops.prepare(rt, files)
    results = _run(ops.drift_files(rt, targets))
    if fmt == "json":
        rt.console.result(render.json_drift(results))
    else:
        rt.console.result("\n".join(render.text_drift(rt.console, *r) for r in results))
    if any(d for _, d, _ in results):
        raise SystemExit(2)


@cli.command(context_settings=CONTEXT)
@click.option(
    "--out",
    default="vaultsync.json",
    show_default=True,
    metavar="FILE",
    help="Where to write the starter file (never overwritten).",
)
@click.option(
    "--assets-page-size",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    metavar="N",
    help="Assets per assets/request page.",
)
@connection_options
@output_options
def init(out: str, **kw: Any) -> None:
    """Write a starter desired-state file from a running connector, never a value.

    Every alias an asset's data address references that exists in the vault
    becomes {"fromEnv": NAME} with a description naming the assets, plus a
    target block. Set the variables to the current values and `vaultsync
    apply` adopts the aliases without writing them.
    """
    from vaultsync import starter
    from vaultsync.config import resolve
    from vaultsync.model import Target
    from vaultsync.text import printable

    starter.refuse_existing(out)
    rt = _runtime(kw)
    conn = resolve(rt.flags, Target(), rt.env, "init")
    for warning in conn.warnings:
        rt.console.warn(warning)
    made, reason = _run(starter.read_starter(rt, conn))
    for why in made.skipped:
        rt.console.warn(printable(f"left out {why}"))
    starter.write_new(out, made.doc)
    if reason is not None:
        rt.console.warn(printable(f"references could not be read, so {out} is a skeleton: {reason}"))
        rt.console.result(f"wrote {printable(out)}: a skeleton with no secrets (add them by hand)")
        return
    count = len(made.variables)
    rt.console.result(f"wrote {printable(out)}: {count} secret{'s' if count != 1 else ''} referenced by assets")
    if made.variables:
        names = " ".join(sorted(made.variables))
        rt.console.info(
            f"Set {names} to the values the vault holds now, then `vaultsync plan {printable(out)}` shows "
            "them adopted (no write); review the file and commit it."
        )


@cli.group(context_settings=CONTEXT)
def state() -> None:
    """Inspect and edit the record of managed aliases."""


@state.command("list", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@connection_options
@output_options
def state_list(file: str, **kw: Any) -> None:
    """List the aliases vaultsync manages for FILE's connector."""
    from vaultsync import ops

    rt = _runtime(kw)
    (target,) = ops.prepare(rt, [file])
    for alias in _run(ops.state_list(rt, target.conn)):
        rt.console.result(_safe(alias))


@state.command("rm", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("aliases", nargs=-1, required=True)
@connection_options
@output_options
def state_rm(file: str, aliases: tuple[str, ...], **kw: Any) -> None:
    """Stop managing ALIASES without deleting them from the vault."""
    from vaultsync import ops

    rt = _runtime(kw)
    (target,) = ops.prepare(rt, [file])
    for alias in _run(ops.state_rm(rt, target.conn, list(dict.fromkeys(aliases)))):
        rt.console.result(f"forgot {_safe(alias)} (still in the vault)")


@cli.command("force-unlock", context_settings=CONTEXT)
@click.argument("lock_id")
@click.argument("file", type=click.Path(dir_okay=False))
@connection_options
@output_options
def force_unlock(lock_id: str, file: str, **kw: Any) -> None:
    """Remove a stale apply lock by its LOCK_ID (printed by the refused apply)."""
    from vaultsync import ops

    rt = _runtime(kw)
    (target,) = ops.prepare(rt, [file])
    held = _run(ops.force_unlock(rt, target.conn, lock_id))
    rt.console.result(f"removed the lock held by {held.describe()}" if held else "removed the unreadable lock")


@cli.command("dev-server", context_settings=CONTEXT)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (0.0.0.0: all of them; warns loudly without --api-key-file).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8181, show_default=True, help="0 picks a free port.")
@click.option("--api-key-file", type=click.Path(dir_okay=False), help="Require this X-Api-Key (default: open).")
@click.option("--data", type=click.Path(dir_okay=False), help="Persist secrets to this JSON file (default: memory).")
def dev_server(host: str, port: int, api_key_file: str | None, data: str | None) -> None:
    """Run an embedded EDC-compatible secrets API (v3, v4beta and v4) for demos and tests. Not a vault."""
    from pathlib import Path

    from vaultsync.config import read_key_file
    from vaultsync.devserver import serve
    from vaultsync.exposure import announcement

    key = read_key_file(api_key_file) if api_key_file else None

    def announce(line: str) -> None:
        shown, notes = announcement(line, host, has_key=key is not None)
        click.echo(shown)
        sys.stdout.flush()
        for note in notes:
            click.echo(note, err=True)
        click.echo(
            f"# serving the v3, v4beta and v4 secrets API{' (X-Api-Key required)' if key else ''}; Ctrl-C stops",
            err=True,
        )

    try:
        serve(host, port, key, Path(data) if data else None, announce)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _safe(text: str) -> str:
    from vaultsync.text import printable

    return printable(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="vaultsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:  # usage errors: 1, because 2 means "changes present"
        exc.show()
        return 1
    except VaultsyncError as exc:
        color = wants_color(sys.stderr, "--no-color" in (argv or sys.argv))
        console = Console(color=False, err_color=color)
        console.error(str(exc))
        for note in getattr(exc, "__notes__", ()):  # what else went wrong on the way out (a lock left behind)
            console.error(str(note))
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("\nInterrupted.", err=True)
        return 130
    except BrokenPipeError:
        # `vaultsync plan | head`: the reader left; say nothing more and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 1
    return 0
