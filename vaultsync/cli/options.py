"""The options commands share, defined once, and the helpers that turn them into a runtime.

Imports only click and the light modules: heavy ones load inside the helpers, when a command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from vaultsync.console import Console, wants_color
from vaultsync.errors import UsageError

if TYPE_CHECKING:
    from vaultsync.commands.runtime import Runtime

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


assets_page_size_option = click.option(
    "--assets-page-size",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    metavar="N",
    help="Assets per assets/request page when reading references.",
)


def reference_options(*, dangling: bool) -> Callable[[F], F]:
    """Reading the connector's assets for the aliases they reference (see README, "References")."""

    def decorate(func: F) -> F:
        if dangling:
            func = click.option(
                "--allow-dangling",
                is_flag=True,
                help="Allow deleting secrets that assets still reference (they will break; warned about).",
            )(func)
        func = assets_page_size_option(func)
        return click.option(
            "--no-references",
            is_flag=True,
            help="Do not read the connector's assets for references to the secrets.",
        )(func)

    return decorate


def runtime(kw: dict[str, Any]) -> Runtime:
    from vaultsync.commands.runtime import Runtime
    from vaultsync.config import Flags

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
    return Runtime(flags, os.environ, console_for(kw), verbose=kw.get("verbose", False), selection=selection)


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


def console_for(kw: dict[str, Any]) -> Console:
    no_color = kw.get("no_color", False)
    return Console(
        color=wants_color(sys.stdout, no_color),
        err_color=wants_color(sys.stderr, no_color),
        quiet=kw.get("quiet", False),
    )


def run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def safe(text: str) -> str:
    from vaultsync.text import printable

    return printable(text)
