"""Turn a schema-valid entry into its value: inline, ``fromEnv``, ``fromFile``, ``json``, ``generate``,
and through :mod:`vaultsync.sources` ``fromSops`` and ``fromCommand``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from vaultsync.desired.parse import MAX_FILE_BYTES, depth_exceeds, has_overflow, unencodable
from vaultsync.desired.schema_check import ENTRY_KEYS
from vaultsync.model import DesiredSecret, GenerateSpec, SourceKind, canonical_json
from vaultsync.sources import Sources
from vaultsync.sources.paths import NotRegularFile, outside_problem, read_regular

MAX_JSON_DEPTH = 64
_BLANK = re.compile(r"^\s*$")


def _read_file_value(base: Path, ref: str) -> tuple[str | None, str | None]:
    """(value, problem) for a ``fromFile`` reference."""
    try:
        data = read_regular(base / ref, MAX_FILE_BYTES)
    except FileNotFoundError:
        return None, f"file {json.dumps(ref)} does not exist (looked in {base})"
    except IsADirectoryError:
        return None, f"{json.dumps(ref)} is a directory, not a file"
    except NotRegularFile:
        return None, f"{json.dumps(ref)} is not a regular file"
    except OSError as exc:
        return None, f"cannot read {json.dumps(ref)}: {exc.strerror}"
    except ValueError:  # a NUL character in the path
        return None, f"{json.dumps(ref)} is not a usable file path"
    if len(data) > MAX_FILE_BYTES:
        return None, f"{json.dumps(ref)} is larger than {MAX_FILE_BYTES} bytes"
    if b"\x00" in data:
        return (
            None,
            f"{json.dumps(ref)} contains NUL bytes and looks binary; store binary keys base64-encoded",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"{json.dumps(ref)} is not valid UTF-8 (byte offset {exc.start})"
    if _BLANK.match(text):
        return None, f"{json.dumps(ref)} is empty or blank: EDC refuses an empty or blank value with 400"
    return text, None


def resolve(
    alias: str, entry: Any, base: Path, env: Mapping[str, str], sources: Sources, allow_outside_files: bool = False
) -> tuple[DesiredSecret | None, list[tuple[str, str]]]:
    """Turn one schema-valid entry into a DesiredSecret, or say why it cannot be."""
    if isinstance(entry, str):
        return DesiredSecret(alias, "value", entry), []
    secret, problems = _resolve_source(alias, entry, base, env, sources, allow_outside_files)
    if secret is not None and entry.get("protect") is True:
        secret = replace(secret, protect=True)
    return secret, problems


def _resolve_source(
    alias: str, entry: dict[str, Any], base: Path, env: Mapping[str, str], sources: Sources, allow_outside_files: bool
) -> tuple[DesiredSecret | None, list[tuple[str, str]]]:
    description = entry.get("description")
    kind: SourceKind = next(k for k in ENTRY_KEYS if k in entry)
    ref = entry[kind]
    if kind == "generate":  # no value until apply makes one (vaultsync/lifecycle/generate.py)
        spec = GenerateSpec(int(ref["length"]), str(ref.get("charset", "alphanumeric")))
        return DesiredSecret(alias, kind, "", description, generate=spec), []
    if kind == "value":
        return DesiredSecret(alias, kind, ref, description), []
    if kind == "json":
        if depth_exceeds(ref, MAX_JSON_DEPTH):
            return None, [("json", f"JSON document nested deeper than {MAX_JSON_DEPTH} levels")]
        if has_overflow(ref):
            return None, [("json", "a number is too large to store (it would be serialized as Infinity, not JSON)")]
        return DesiredSecret(alias, kind, canonical_json(ref), description), []
    if kind == "fromEnv":
        value = env.get(ref)
        if value is None:
            return None, [("fromEnv", f"environment variable {ref} is not set")]
        if _BLANK.match(value):
            return None, [("fromEnv", f"environment variable {ref} is empty: EDC refuses an empty or blank value")]
        if unencodable(value):
            return None, [("fromEnv", f"environment variable {ref} is not valid UTF-8 text")]
        return DesiredSecret(alias, kind, value, description), []
    if kind in ("fromSops", "fromCommand"):
        found, problem = sources.sops_value(base, ref) if kind == "fromSops" else sources.command_value(base, ref)
        if found is None:
            return None, [(kind, problem or "unreadable")]
        structured = kind == "fromSops" and ref.get("json") is True
        return DesiredSecret(alias, kind, found, description, structured), []
    outside = None if allow_outside_files else outside_problem(base, ref)
    if outside is not None:
        return None, [("fromFile", outside)]
    value_or_none, problem = _read_file_value(base, ref)
    if problem is not None or value_or_none is None:
        return None, [("fromFile", problem or "unreadable")]
    return DesiredSecret(alias, kind, value_or_none, description), []
