"""``vaultsync init``: a starter desired-state file from a running connector, never holding a value.

Every alias that an asset references and that exists in the vault becomes ``{"fromEnv": NAME}`` with a
description naming the assets; applying the file once the variables hold the same values adopts the
aliases into state without writing them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vaultsync.edcowned import edc_owned
from vaultsync.errors import UsageError
from vaultsync.references import Reference, describe
from vaultsync.text import printable_json

if TYPE_CHECKING:
    from vaultsync.commands.runtime import Runtime
    from vaultsync.config import Connection

_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")


def variable_name(alias: str, taken: Collection[str] = ()) -> str:
    """An environment variable name for ``alias``: upper-cased, each run of other characters one ``_``."""
    base = _NOT_NAME.sub("_", alias).strip("_").upper() or "SECRET"
    if base[0].isdigit():
        base = "_" + base
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


@dataclass(frozen=True, slots=True)
class Starter:
    doc: dict[str, Any]
    variables: dict[str, str]  # variable -> alias
    skipped: list[str]  # why some referenced aliases were left out (for people)


def starter(
    url: str,
    api_version: str,
    index: Mapping[str, tuple[Reference, ...]] | None,
    present: Collection[str],
    unusable: Mapping[str, str] | None = None,
) -> Starter:
    """The desired-state document. ``index`` None: the assets could not be read (a skeleton)."""
    secrets: dict[str, Any] = {}
    variables: dict[str, str] = {}
    skipped: list[str] = []
    for alias in sorted(index or {}):
        refs = (index or {})[alias]
        why = (unusable or {}).get(alias) or edc_owned(alias)
        if why is not None:
            skipped.append(f"{alias} ({describe(refs)}): {why}")
            continue
        if alias not in present:
            skipped.append(f"{alias} ({describe(refs)}): not in the vault (a dangling reference)")
            continue
        name = variable_name(alias, variables)
        variables[name] = alias
        secrets[alias] = {"fromEnv": name, "description": f"used by {describe(refs)}"}
    doc = {"version": 1, "target": {"url": url, "apiVersion": api_version}, "secrets": secrets}
    return Starter(doc, variables, skipped)


def refuse_existing(out: str) -> None:
    """Before any request: init never overwrites."""
    if os.path.lexists(out):
        raise UsageError(f"{out} already exists; init never overwrites a file: choose another with --out")


def write_new(out: str, doc: Mapping[str, Any]) -> None:
    """Create ``out`` (exclusively: never overwrite, even a file that appeared meanwhile)."""
    text = printable_json(doc) + "\n"  # asset ids and aliases are the connector's: no terminal controls
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise UsageError(f"{out} already exists; init never overwrites a file: choose another with --out") from None
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


async def read_starter(rt: Runtime, conn: Connection) -> tuple[Starter, str | None]:
    """Read the assets and which referenced aliases exist; (the starter, why it is a skeleton or None)."""
    from vaultsync import assets
    from vaultsync.desired import alias_problems

    async with rt.client(conn) as client:
        found = await assets.read_index(client, rt.flags.assets_page_size)
        if found.reason is not None:
            return starter(conn.url, conn.api_version, None, ()), found.reason
        unusable = {a: "; ".join(alias_problems(a)) for a in found.index if alias_problems(a)}
        unusable.update({a: "reserved for vaultsync's own state and lock" for a in rt.flags.reserved})
        wanted = [a for a in found.index if a not in unusable and edc_owned(a) is None]
        present = await assets.present(client, wanted, rt.flags.parallelism)
    return starter(conn.url, conn.api_version, found.index, present, unusable), None
