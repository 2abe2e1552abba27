"""The state record: which aliases vaultsync manages. Pure data and (de)serialisation.

A record never holds a value. Each managed alias may carry a fingerprint, an
HMAC-SHA256 of the alias and the last value vaultsync wrote or adopted, keyed
with a random key that lives only in the vault (in the state alias), never in
a state file or a plan file. Without the key a fingerprint reveals nothing, even
for short values; with it, drift detection can tell "changed by hand" from
"changed in the file".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaultsync import statecodec
from vaultsync.errors import InputError, Problem

STATE_FORMAT = "vaultsync-state"
KEY_FORMAT = "vaultsync-key"
STATE_VERSION = 1


def new_key() -> bytes:
    return secrets.token_bytes(32)


def key_id(key: bytes) -> str:
    """Names the key without revealing it. A state file records it, so that a file used against
    another vault (whose state alias holds another key) is refused instead of quietly rewritten."""
    return "hmac-sha256:" + hmac.new(key, b"vaultsync key id", hashlib.sha256).hexdigest()


def fingerprint(key: bytes, alias: str, value: str) -> str:
    """A keyed fingerprint of (alias, value): useless without the key, which never sits beside it."""
    mac = hmac.new(key, alias.encode("utf-8") + b"\x00" + value.encode("utf-8"), hashlib.sha256)
    return "hmac-sha256:" + mac.hexdigest()


@dataclass(frozen=True, slots=True)
class StateRecord:
    lineage: str
    serial: int
    managed: Mapping[str, str] = field(default_factory=dict)  # alias -> fingerprint ("" when unknown)

    @staticmethod
    def empty() -> StateRecord:
        """No record yet. Its lineage is "" (not a fresh random one) so that "no state" read by
        ``plan --out`` and read again by ``apply PLANFILE`` compare equal; the first save names it."""
        return StateRecord(lineage="", serial=0, managed={})

    @property
    def exists(self) -> bool:
        return bool(self.lineage)

    def with_managed(self, managed: Mapping[str, str]) -> StateRecord:
        return StateRecord(self.lineage or str(uuid.uuid4()), self.serial + 1, dict(sorted(managed.items())))

    def to_doc(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "managed": {a: ({"fingerprint": fp} if fp else {}) for a, fp in sorted(self.managed.items())},
        }


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the state location held: the record (if any) and the fingerprint key (if any)."""

    record: StateRecord | None
    key: bytes | None = field(repr=False)
    key_id: str | None = None  # a state file's record of which vault key its fingerprints use


def encode_vault_value(record: StateRecord | None, key: bytes) -> str:
    """The string stored in the state alias: the record (vault backend) and always the key."""
    doc = record.to_doc() if record is not None else {"format": KEY_FORMAT, "version": STATE_VERSION}
    doc["fingerprintKey"] = base64.b64encode(key).decode("ascii")
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def encode_file(record: StateRecord, key_ident: str | None = None) -> str:
    doc = record.to_doc()
    if key_ident is not None:
        doc["keyId"] = key_ident
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _bad(where: str, message: str) -> InputError:
    return InputError([Problem(where, message)])


def decode(text: str, where: str) -> StoredState:
    """Parse a state file or a state alias's value (inline or already joined from its shards);
    refuses anything it does not understand."""
    text = statecodec.unpack(text, {}, where)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise _bad(where, "the state record is not JSON; it was not written by vaultsync") from None
    if not isinstance(doc, dict) or doc.get("format") not in (STATE_FORMAT, KEY_FORMAT):
        raise _bad(where, "not a vaultsync state record (is the alias used for something else?)")
    if doc.get("version") != STATE_VERSION:
        raise _bad(where, f"state format version {doc.get('version')!r} is not supported by this vaultsync")
    key = None
    if "fingerprintKey" in doc:
        try:
            key = base64.b64decode(doc["fingerprintKey"], validate=True)
        except (ValueError, TypeError):
            raise _bad(where, "the state's fingerprint key is corrupt") from None
    if doc["format"] == KEY_FORMAT:
        return StoredState(None, key)
    managed = doc.get("managed")
    lineage = doc.get("lineage")
    serial = doc.get("serial")
    if not isinstance(managed, dict) or not isinstance(lineage, str) or not isinstance(serial, int):
        raise _bad(where, "the state record is incomplete (lineage, serial and managed are required)")
    fps: dict[str, str] = {}
    for alias, meta in managed.items():
        fp = meta.get("fingerprint", "") if isinstance(meta, dict) else ""
        fps[alias] = fp if isinstance(fp, str) else ""
    ident = doc.get("keyId")
    return StoredState(StateRecord(lineage, serial, fps), key, ident if isinstance(ident, str) else None)


@dataclass(frozen=True, slots=True)
class DriftItem:
    alias: str
    kind: str  # "changed" | "deleted" (out-of-band) or "pending" (the file wants a change)
    detail: str


def drift(
    managed: Mapping[str, str],
    observed_fps: Mapping[str, str | None],
    pending: Mapping[str, str],
) -> tuple[list[DriftItem], list[DriftItem]]:
    """Split differences into out-of-band drift and changes still pending in the file.

    ``observed_fps``: fingerprint of each managed alias's current vault value (None: absent).
    ``pending``: alias -> action the current plan would take (from diff()).
    """
    drifted: list[DriftItem] = []
    for alias in sorted(managed):
        current = observed_fps.get(alias)
        recorded = managed[alias]
        if current is None:
            drifted.append(DriftItem(alias, "deleted", "managed secret was deleted outside vaultsync"))
        elif recorded and current != recorded:
            drifted.append(DriftItem(alias, "changed", "value was changed outside vaultsync"))
    drifted_aliases = {d.alias for d in drifted}
    waiting = [
        DriftItem(alias, "pending", f"{action} pending from the desired-state file")
        for alias, action in sorted(pending.items())
        if alias not in drifted_aliases
    ]
    return drifted, waiting
