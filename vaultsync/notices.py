"""Warnings about a run's input that do not stop it, for people (stderr) and machines (JSON plan).

A warning never holds a value: it names the alias and where the value came from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vaultsync.text import printable

if TYPE_CHECKING:
    from vaultsync.console import Console


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """One entry of the JSON plan's ``warnings`` list: ``{kind, alias, asset, property, message}``.

    The one record for warnings about the input (``newline``) and about asset references
    (``dangling``, ``shape``, ``unchecked``), so that both print the same JSON shape.
    ``asset`` and ``property`` name an asset that references the alias (None when the warning is
    about the alias alone, as ``newline`` is); ``alias`` is None when no alias is concerned
    (``unchecked``: the assets could not be read).
    """

    kind: str
    alias: str | None
    message: str
    asset: str | None = None
    property: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "alias": self.alias,
            "asset": self.asset,
            "property": self.property,
            "message": self.message,
        }


def strip_newline(value: str) -> str:
    """``value`` without one trailing ``\\n`` or ``\\r\\n`` (what ``echo secret > file`` adds)."""
    if value.endswith("\r\n"):
        return value[:-2]
    return value[:-1] if value.endswith("\n") else value


def newline_source(
    place: str, alias: str, kind: str, ref: str, value: str, strip: bool | None
) -> tuple[str, list[PlanWarning]]:
    """The value to store for a ``fromFile``/``fromEnv`` entry, and a warning when it ends with a newline.

    ``strip`` is the entry's ``stripNewline``: True drops one trailing newline, False keeps it (the
    entry says it is meant), None keeps it and warns: a token saved with ``echo secret > token.txt``
    ends with one, and the connector then presents ``secret\\n`` (OAuth answers ``invalid_client``).
    """
    if strip:
        value = strip_newline(value)
    if strip is False or not value.endswith("\n"):
        return value, []
    source = f"the file {json.dumps(ref)}" if kind == "fromFile" else f"environment variable {ref}"
    if strip:
        message = f"{place}: {source} still ends with a newline after stripping one; it is stored as part of the secret"
    else:
        message = (
            f"{place}: {source} ends with a newline, which is stored as part of the secret (a token sent "
            f'with it fails, e.g. OAuth invalid_client). Add "stripNewline": true beside "{kind}" to drop it, '
            'or "stripNewline": false to keep it and silence this warning'
        )
    return value, [PlanWarning("newline", alias, printable(message))]


def warn_all(console: Console, path: str, warnings: Sequence[PlanWarning], limit: int = 10) -> None:
    """The warnings on stderr as ``FILE: place: message`` (like validation problems): the first ``limit``,
    then one line for the rest, so that a file of thousands of such entries does not flood the terminal."""
    for warning in warnings[:limit]:
        console.warn(f"{printable(path)}: {warning.message}")
    if len(warnings) > limit:
        rest = warnings[limit:]
        kinds = ", ".join(sorted({w.kind for w in rest}))
        console.warn(
            f"{printable(path)}: {len(rest)} more warnings ({kinds}) for "
            f"{', '.join(printable(w.alias or '') for w in rest[:5])}{' and others' if len(rest) > 5 else ''}; "
            "plan --format json lists them all"
        )
