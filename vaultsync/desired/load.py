"""Load and validate a desired-state file, reporting every problem at once.

The rules a JSON Schema can state live in ``schemas/desired-state.schema.json`` and are enforced by
:mod:`.schema_check`; this module adds what a schema cannot express (duplicate keys, reserved aliases,
environment and file references), parsing with :mod:`.parse` and resolving values with :mod:`.resolve`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vaultsync.desired.parse import describe_key, duplicates, json_path, parse, surrogates
from vaultsync.desired.resolve import resolve
from vaultsync.desired.schema_check import NEWLINE_SOURCES, schema_problems
from vaultsync.edcowned import edc_owned
from vaultsync.errors import InputError, Problem
from vaultsync.model import DesiredSecret, DesiredState, Move, Target
from vaultsync.notices import PlanWarning, newline_source
from vaultsync.sources import Sources
from vaultsync.statecodec import is_reserved

# An alias travels percent-encoded in the URL path (as the client sends it); the connector's Jetty refuses
# request heads over 8 KiB. Measured on EDC 0.15.1: 8054 ASCII characters still worked, 1342 x "é".
MAX_ENCODED_ALIAS = 4096


def parse_desired(
    path: str,
    data: bytes,
    *,
    env: Mapping[str, str],
    reserved: Iterable[str],
    base_dir: Path | None = None,
    sources: Sources | None = None,
    allow_outside_files: bool = False,
) -> DesiredState:
    """Validate ``data`` (the bytes of the file at ``path``) and resolve every reference.

    ``sources`` resolves fromSops and fromCommand entries (default: commands refused) and decrypts a
    sops-encrypted file. Raises InputError listing every problem found, each as ``path: place: message``.
    """
    sources = sources if sources is not None else Sources(env)
    doc = parse(path, data)
    if isinstance(doc, dict) and "sops" in doc:  # encrypted with sops: read what it decrypts to instead
        plain, problem = sources.decrypt_desired(data)
        if plain is None:
            raise InputError([Problem(path, problem or "cannot decrypt")])
        doc = parse(path, plain)
    problems = [Problem(f"{path}: {p.where}", p.message) for p in duplicates(doc)]
    unsendable = sorted(surrogates(doc), key=lambda item: [str(p) for p in item[0]])
    problems += [Problem(f"{path}: {json_path(parts)}", msg) for parts, msg in unsendable]
    located = schema_problems(doc)
    problems += [Problem(f"{path}: {json_path(parts)}", msg) for parts, msg in located]
    if not isinstance(doc, dict) or not isinstance(doc.get("secrets"), dict):
        if problems:
            raise InputError(problems)
        raise InputError([Problem(path, 'no "secrets" object')])

    broken_aliases = {parts[1] for parts, _ in [*located, *unsendable] if len(parts) >= 2 and parts[0] == "secrets"}
    reserved_set = frozenset(reserved)
    base = base_dir if base_dir is not None else Path(path).resolve().parent
    secrets: dict[str, DesiredSecret] = {}
    warnings: list[PlanWarning] = []
    for alias, entry in doc["secrets"].items():
        if is_reserved(alias, reserved_set):  # the state's shards (ALIAS-2, ...) too
            problems.append(
                Problem(
                    f"{path}: secrets{describe_key(alias)}",
                    "this alias is reserved for vaultsync's own state and lock; choose another alias "
                    "(or move vaultsync's with --state-alias / --lock-alias)",
                )
            )
            continue
        if alias in broken_aliases:
            continue
        owned = edc_owned(alias)
        if owned is not None:
            problems.append(Problem(f"{path}: secrets{describe_key(alias)}", owned))
            continue
        encoded = len(quote(alias, safe=""))
        if encoded > MAX_ENCODED_ALIAS:
            problems.append(
                Problem(
                    f"{path}: secrets{describe_key(alias)}",
                    f"the alias is {encoded} bytes once percent-encoded for the URL path (a non-ASCII character "
                    f"takes 6 to 12); the limit is {MAX_ENCODED_ALIAS} so that every request fits the connector's "
                    "8 KiB request-head limit (Jetty answers 431 or 414 beyond it)",
                )
            )
            continue
        secret, issues = resolve(alias, entry, base, env, sources, allow_outside_files)
        for field_name, message in issues:
            problems.append(Problem(f"{path}: secrets{describe_key(alias)}.{field_name}", message))
        if secret is not None:
            secrets[alias] = _newline(alias, entry, secret, warnings)
    if problems:
        raise InputError(problems)
    raw_target = doc.get("target") or {}
    target = Target(raw_target.get("url"), raw_target.get("apiVersion"), raw_target.get("apiKeyEnv"))
    moved = tuple(Move(m["from"], m["to"], f"{path}: moved[{i}]") for i, m in enumerate(doc.get("moved", [])))
    return DesiredState(path=path, secrets=secrets, target=target, moved=moved, warnings=tuple(warnings))


def _newline(alias: str, entry: Any, secret: DesiredSecret, warnings: list[PlanWarning]) -> DesiredSecret:
    """A file's or variable's trailing newline: stripped with ``"stripNewline": true``, else warned about."""
    if secret.kind not in NEWLINE_SOURCES:
        return secret
    place = f"secrets{describe_key(alias)}.{secret.kind}"
    value, found = newline_source(
        place, alias, secret.kind, entry[secret.kind], secret.value, entry.get("stripNewline")
    )
    warnings.extend(found)
    return secret if value == secret.value else replace(secret, value=value)


def load_desired(
    path: str,
    *,
    env: Mapping[str, str],
    reserved: Iterable[str],
    sources: Sources | None = None,
    allow_outside_files: bool = False,
) -> DesiredState:
    """Read and validate the desired-state file at ``path`` (``fromFile`` confined to its folder unless allowed)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(path, "no such file")]) from None
    except IsADirectoryError:
        raise InputError([Problem(path, "is a directory, not a desired-state file")]) from None
    except OSError as exc:
        raise InputError([Problem(path, f"cannot read: {exc.strerror}")]) from None
    return parse_desired(
        path, data, env=env, reserved=reserved, sources=sources, allow_outside_files=allow_outside_files
    )


def alias_problems(alias: str) -> list[str]:
    """Why ``alias`` cannot be used as a vault alias (empty: it can). For --state-alias / --lock-alias."""
    messages = [message for _, message in schema_problems({"version": 1, "secrets": {alias: "x"}})]
    if len(quote(alias, safe="")) > MAX_ENCODED_ALIAS:
        messages.append(f"the alias is longer than {MAX_ENCODED_ALIAS} bytes once percent-encoded")
    return messages
