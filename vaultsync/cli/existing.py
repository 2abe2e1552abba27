"""``import``, ``drift`` and ``init``: what is already in the vault, taken over, checked or written down."""

from __future__ import annotations

from typing import Any

import click

from vaultsync.cli.options import (
    CONTEXT,
    allow_commands_option,
    assets_page_size_option,
    connection_options,
    output_options,
    reference_options,
    run,
    runtime,
    safe,
)
from vaultsync.errors import UsageError


@click.command("import", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("aliases", nargs=-1, required=True)
@connection_options
@output_options
def import_(file: str, aliases: tuple[str, ...], **kw: Any) -> None:
    """Take existing vault secrets under management without changing them."""
    from vaultsync.commands.importing import import_aliases
    from vaultsync.commands.runtime import prepare
    from vaultsync.edcowned import edc_owned
    from vaultsync.text import printable

    owned = [f"{printable(a)}: {edc_owned(a)}" for a in dict.fromkeys(aliases) if edc_owned(a)]
    if owned:
        raise UsageError("cannot import:\n  " + "\n  ".join(owned))
    rt = runtime(kw)
    (target,) = prepare(rt, [file])
    done = run(import_aliases(rt, target, list(dict.fromkeys(aliases))))
    for alias in done:
        rt.console.result(f"imported {safe(alias)}")


@click.command(context_settings=CONTEXT)
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
    from vaultsync import render
    from vaultsync.commands.drift import drift_files
    from vaultsync.commands.runtime import prepare

    rt = runtime(kw)
    targets = prepare(rt, files)
    results = run(drift_files(rt, targets))
    if fmt == "json":
        rt.console.result(render.json_drift(results))
    else:
        rt.console.result("\n".join(render.text_drift(rt.console, *r) for r in results))
    if any(d for _, d, _ in results):
        raise SystemExit(2)


@click.command(context_settings=CONTEXT)
@click.option(
    "--out",
    default="vaultsync.json",
    show_default=True,
    metavar="FILE",
    help="Where to write the starter file (never overwritten).",
)
@assets_page_size_option
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
    rt = runtime(kw)
    conn = resolve(rt.flags, Target(), rt.env, "init")
    for warning in conn.warnings:
        rt.console.warn(warning)
    made, reason = run(starter.read_starter(rt, conn))
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
