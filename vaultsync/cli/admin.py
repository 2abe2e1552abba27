"""``state list``, ``state rm``, ``force-unlock`` and ``dev-server``: the record, the lock, a test connector."""

from __future__ import annotations

import sys
from typing import Any

import click

from vaultsync.cli.options import (
    CONTEXT,
    connection_options,
    output_options,
    run,
    runtime,
    safe,
)
from vaultsync.errors import UsageError


@click.group(context_settings=CONTEXT)
def state() -> None:
    """Inspect and edit the record of managed aliases."""


@state.command("list", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@connection_options
@output_options
def state_list(file: str, **kw: Any) -> None:
    """List the aliases vaultsync manages for FILE's connector."""
    from vaultsync.commands import state as vault_state
    from vaultsync.commands.runtime import prepare

    rt = runtime(kw)
    (target,) = prepare(rt, [file])
    for alias in run(vault_state.state_list(rt, target.conn)):
        rt.console.result(safe(alias))


@state.command("rm", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("aliases", nargs=-1, required=True)
@connection_options
@output_options
def state_rm(file: str, aliases: tuple[str, ...], **kw: Any) -> None:
    """Stop managing ALIASES without deleting them from the vault."""
    from vaultsync.commands import state as vault_state
    from vaultsync.commands.runtime import prepare

    rt = runtime(kw)
    (target,) = prepare(rt, [file])
    for alias in run(vault_state.state_rm(rt, target.conn, list(dict.fromkeys(aliases)))):
        rt.console.result(f"forgot {safe(alias)} (still in the vault)")


@click.command("force-unlock", context_settings=CONTEXT)
@click.argument("lock_id")
@click.argument("file", type=click.Path(dir_okay=False))
@connection_options
@output_options
def force_unlock(lock_id: str, file: str, **kw: Any) -> None:
    """Remove a stale apply lock by its LOCK_ID (printed by the refused apply)."""
    from vaultsync.commands import state as vault_state
    from vaultsync.commands.runtime import prepare

    rt = runtime(kw)
    (target,) = prepare(rt, [file])
    held = run(vault_state.force_unlock(rt, target.conn, lock_id))
    rt.console.result(f"removed the lock held by {held.describe()}" if held else "removed the unreadable lock")


@click.command("dev-server", context_settings=CONTEXT)
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
