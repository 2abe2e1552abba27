"""How the state document is stored in the vault: compressed, and split into shards when large.

Vault backends cap a secret's size (Azure Key Vault 25 KB, AWS Secrets Manager 64 KB), and a
managed alias costs about 110 bytes of plain JSON, so the state of a few hundred aliases would
not fit. Every value written here stays under ``LIMIT`` characters:

* the document (whatever JSON the state layer produced; this module never looks inside) is
  compressed with zlib and base64-encoded. zlib and base64 are in every standard library and in
  every shell (``base64 -d | zlib-flate -uncompress``); base64 because a vault value is a JSON
  string, not bytes. Fingerprints are random (about 43 bytes each after encoding), so 20,000
  aliases still take about 1.1 MB: roughly 48 shards.
* the head value (at ``--state-alias``) holds the encoded data itself when it fits, or else the
  names of the shards (``ALIAS-2``, ``ALIAS-3``, ...) and a SHA-256 of their joined data.

Crash safety, against EDC's API (POST create-only, PUT update-only, no compare-and-swap, no
listing), relies on one rule: a shard named by the current head is never written. A save writes
its shards under names the current head does not use, then switches the head with one PUT (the
only step that changes what a reader sees), then deletes the shards the old head named. A crash
before the switch leaves the old head and its untouched shards; a crash after it leaves the new
ones; either way the managed set reads whole. Shards left over by a crash are unnamed by the head
and are overwritten or deleted by the next save. Saves hold the vault lock, so no two interleave.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from vaultsync.errors import InputError, Problem

LIMIT = 24_000  # characters per stored value: under Azure Key Vault's 25 KB with room for EDC's JSON around it
ENVELOPE_VERSION = 2  # version 1 is today's plain JSON document, still read
FORMAT = "vaultsync-state"
SHARD_FORMAT = "vaultsync-state-shard"
ENCODING = "zlib+base64"
FIRST_SHARD = 2  # the head is shard 1 in spirit: ALIAS, ALIAS-2, ALIAS-3, ...


@dataclass(frozen=True, slots=True)
class Packed:
    """The values to store: the head (at the state alias) and the shards it names, in order."""

    head: str = field(repr=False)
    shards: dict[str, str] = field(repr=False)


def shard_alias(state_alias: str, number: int) -> str:
    return f"{state_alias}-{number}"


def is_reserved(alias: str, reserved: Collection[str]) -> bool:
    """Whether a desired alias would collide with vaultsync's own: a reserved alias or one of its shards."""
    if alias in reserved:
        return True
    stem, dash, number = alias.rpartition("-")
    return bool(dash) and stem in reserved and number.isdigit() and not number.startswith("0")


def pack(text: str, state_alias: str, avoid: Collection[str], limit: int = LIMIT) -> Packed:
    """Encode ``text`` (a JSON document) for the vault, sharding under names not in ``avoid``.

    ``avoid``: the shards the current head names; they must stay untouched until the head moves.
    """
    data = base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")
    inline = _dump({"format": FORMAT, "version": ENVELOPE_VERSION, "encoding": ENCODING, "data": data})
    if len(inline) <= limit:
        return Packed(inline, {})
    room = limit - len(_dump(_shard_doc(10**6, "")))  # the widest part number the head can name
    pieces = [data[i : i + room] for i in range(0, len(data), room)]
    names = _free_names(state_alias, avoid, len(pieces))
    head = _dump(
        {
            "format": FORMAT,
            "version": ENVELOPE_VERSION,
            "encoding": ENCODING,
            "shards": names,
            "sha256": hashlib.sha256(data.encode("ascii")).hexdigest(),
        }
    )
    if len(head) > limit:  # about 1,000 shards (20 MB of state): refuse rather than write what no vault keeps
        raise InputError([Problem(state_alias, f"the state is too large to store ({len(data)} characters encoded)")])
    return Packed(
        head, {name: _dump(_shard_doc(i + 1, piece)) for i, (name, piece) in enumerate(zip(names, pieces, strict=True))}
    )


def _free_names(state_alias: str, avoid: Collection[str], count: int) -> list[str]:
    names: list[str] = []
    number = FIRST_SHARD
    while len(names) < count:
        name = shard_alias(state_alias, number)
        if name not in avoid:
            names.append(name)
        number += 1
    return names


def stale_shards(state_alias: str, old: Iterable[str], new: Collection[str]) -> list[str]:
    """Shard names that may hold leftovers once the head names ``new``: every number up to the highest
    in use that ``new`` does not use (the old head's, and any a crashed save wrote)."""
    numbers = [_number(state_alias, name) for name in [*old, *new]]
    top = max([n for n in numbers if n is not None], default=FIRST_SHARD - 1)
    return [n for n in (shard_alias(state_alias, i) for i in range(FIRST_SHARD, top + 1)) if n not in new]


def _number(state_alias: str, name: str) -> int | None:
    match = re.fullmatch(re.escape(state_alias) + r"-([1-9][0-9]*)", name)
    return int(match.group(1)) if match else None


def _shard_doc(part: int, data: str) -> dict[str, object]:
    return {"format": SHARD_FORMAT, "version": ENVELOPE_VERSION, "part": part, "data": data}


def _dump(doc: Mapping[str, object]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _bad(where: str, message: str) -> InputError:
    return InputError([Problem(where, message)])


def _envelope(text: str) -> dict[str, object] | None:
    """The parsed head if ``text`` is a version-2 envelope; None for anything else (left to the state layer)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("version") == ENVELOPE_VERSION:
        return doc
    return None


def shards_named(text: str, where: str) -> list[str]:
    """The shard aliases a head value names (none for an inline or a version-1 value)."""
    doc = _envelope(text)
    if doc is None or "shards" not in doc:
        return []
    shards = doc["shards"]
    if not isinstance(shards, list) or not shards or not all(isinstance(s, str) for s in shards):
        raise _bad(where, "the state's list of shards is corrupt")
    return list(shards)


def unpack(text: str, shards: Mapping[str, str | None], where: str) -> str:
    """The JSON document a head value stands for (``text`` itself for a version-1 value).

    ``shards``: the values of the aliases ``shards_named(text)`` lists (None: absent).
    """
    doc = _envelope(text)
    if doc is None:
        return text  # today's plain document, or something the state layer refuses with its own message
    if doc.get("encoding") != ENCODING:
        raise _bad(where, f"state encoding {doc.get('encoding')!r} is not supported by this vaultsync")
    if "data" in doc:
        data = doc["data"]
    else:
        data = "".join(_shard_data(name, i + 1, shards.get(name)) for i, name in enumerate(shards_named(text, where)))
        if hashlib.sha256(data.encode("ascii")).hexdigest() != doc.get("sha256"):
            raise _bad(where, "the state's shards do not match their checksum (changed by hand?)")
    if not isinstance(data, str):
        raise _bad(where, "the state data is corrupt")
    try:
        return zlib.decompress(base64.b64decode(data, validate=True)).decode("utf-8")
    except (binascii.Error, ValueError, zlib.error):
        raise _bad(where, "the state data is corrupt (not zlib+base64)") from None


def is_shard(value: str | None) -> bool:
    """Whether a vault value is a shard of some vaultsync state (and so may be overwritten or deleted)."""
    if value is None:
        return False
    try:
        doc = json.loads(value)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("format") == SHARD_FORMAT


def _shard_data(name: str, part: int, value: str | None) -> str:
    where = f"vault alias {name}"
    if value is None:
        raise _bad(where, "a shard of the state is missing from the vault (deleted by hand?)")
    try:
        doc = json.loads(value)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != SHARD_FORMAT or not isinstance(doc.get("data"), str):
        raise _bad(where, "not a shard of vaultsync's state (is the alias used for something else?)")
    if doc.get("part") != part:
        raise _bad(where, f"the state shard is part {doc.get('part')!r}, expected {part}")
    data: str = doc["data"]
    return data
