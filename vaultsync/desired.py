"""Load and validate a desired-state file, reporting every problem at once.

The rules a JSON Schema can state live in ``schemas/desired-state.schema.json``
and are enforced with jsonschema; this module adds what a schema cannot express
(duplicate keys, reserved aliases, environment and file references). Messages
come from the schema's ``errorMessage`` annotations, never from jsonschema's own
text, which quotes the offending instance and so could quote a secret.
"""

from __future__ import annotations

import json
import math
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from vaultsync import jsonsyntax
from vaultsync.edcowned import edc_owned
from vaultsync.errors import InputError, Problem
from vaultsync.model import DesiredSecret, DesiredState, GenerateSpec, Move, SourceKind, Target, canonical_json
from vaultsync.notices import PlanWarning, newline_source
from vaultsync.sources import Sources
from vaultsync.sources.paths import outside_problem
from vaultsync.statecodec import is_reserved

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64
# An alias travels percent-encoded in the URL path (as the client sends it); the connector's Jetty refuses
# request heads over 8 KiB. Measured on EDC 0.15.1: 8054 ASCII characters still worked, 1342 x "é".
MAX_ENCODED_ALIAS = 4096
ENTRY_KEYS: tuple[SourceKind, ...] = ("value", "fromEnv", "fromFile", "json", "fromSops", "fromCommand", "generate")
_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_BLANK = re.compile(r"^\s*$")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_MESSAGE = (
    "contains an unpaired UTF-16 surrogate escape (such as \\ud800): it is not text and cannot be sent as UTF-8"
)


class _Object(dict[str, Any]):
    """A decoded JSON object that remembers keys it saw twice."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


class _Constant(str):
    """NaN / Infinity as the lenient parser read them: refused after parsing, with their place."""


def _constants(doc: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _Constant):
            yield where, str(node)
        elif isinstance(node, dict):
            stack.extend((v, (*where, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(node))


def describe_key(key: str) -> str:
    """A key as it appears in a path: bare when simple, quoted and escaped otherwise."""
    return f".{key}" if _SIMPLE_KEY.fullmatch(key) else "[" + json.dumps(key) + "]"


def json_path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else describe_key(part)
    return out.lstrip(".") or "(top level)"


@cache
def schema() -> dict[str, Any]:
    """The desired-state JSON Schema shipped with the package."""
    text = resources.files("vaultsync").joinpath("schemas/desired-state.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    line = before.count(b"\n") + 1
    return line, offset - (before.rfind(b"\n") + 1) + 1


def _parse(path: str, data: bytes) -> Any:
    if len(data) > MAX_FILE_BYTES:
        raise InputError([Problem(path, f"file is {len(data)} bytes; the limit is {MAX_FILE_BYTES}")])
    if data.startswith(b"\xef\xbb\xbf"):
        raise InputError(
            [Problem(f"{path}:1:1", "file starts with a byte-order mark (BOM); save it as UTF-8 without BOM")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data, exc.start)
        raise InputError([Problem(f"{path}:{line}:{col}", f"not valid UTF-8 (byte 0x{data[exc.start]:02x})")]) from None
    if not text.strip():
        raise InputError([Problem(path, 'file is empty; expected a JSON object with "version" and "secrets"')])
    try:
        doc = json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_Constant)
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON: {jsonsyntax.describe(exc, name=path)}"
        raise InputError([Problem(f"{path}:{exc.lineno}:{exc.colno}", problem)]) from None
    except ValueError:  # an integer beyond Python's 4300-digit conversion limit
        huge = re.search(r"\d{4301,}", text)
        line, col = _line_col(data, len(text[: huge.start()].encode("utf-8"))) if huge else (1, 1)
        raise InputError(
            [Problem(f"{path}:{line}:{col}", "invalid JSON: a number with more than 4300 digits cannot be read")]
        ) from None
    except RecursionError:
        raise InputError([Problem(path, "invalid JSON: nested too deeply")]) from None
    constants = sorted(_constants(doc), key=lambda item: [str(p) for p in item[0]])
    if constants:
        raise InputError(
            [
                Problem(f"{path}: {json_path(where)}", f"invalid JSON: {name} is not a JSON number (JSON has none)")
                for where, name in constants
            ]
        )
    return doc


def _has_overflow(doc: Any) -> bool:
    """Whether a number in ``doc`` overflowed to infinity while parsing (such as 1e999)."""
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _depth_exceeds(doc: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def _duplicates(doc: Any, parts: tuple[str | int, ...] = ()) -> Iterator[Problem]:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, parts)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _Object):
            for key in node.duplicates:
                what = "duplicate alias" if where == ("secrets",) else "duplicate key"
                yield Problem(json_path(where), f"{what} {json.dumps(key)}: a JSON object must not repeat a key")
            stack.extend((v, (*where, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(node))


def _unencodable(text: str) -> bool:
    """A string holding an unpaired surrogate (a lone ``\\ud800`` escape in JSON, or an undecodable
    byte in an environment variable) cannot be sent: HTTP bodies and paths are UTF-8."""
    return _SURROGATE.search(text) is not None


def _surrogates(doc: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(place, message) for every key or string in ``doc`` that cannot be encoded as UTF-8."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str) and _unencodable(node):
            yield where, _SURROGATE_MESSAGE
        elif isinstance(node, dict):
            for key, value in node.items():
                if _unencodable(key):
                    yield (*where, key), "the key contains an unpaired UTF-16 surrogate escape and cannot be sent"
                else:
                    stack.append((value, (*where, key)))
        elif isinstance(node, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(node))


def _schema_message(error: ValidationError) -> str:
    keyword = str(error.validator)
    node: Any = error.schema
    custom = node.get("errorMessage", {}) if isinstance(node, dict) else {}
    message = custom.get(keyword)
    if keyword == "type":  # e.g. "type:number": a number is no nested document, it only lacks quotes
        message = custom.get(f"type:{_json_type(error.instance)}", message)
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(node.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        names = ", ".join(json.dumps(k) for k in extra)
        return f"{message or 'unexpected keys'} (found {names})"
    if keyword == "oneOf" and isinstance(error.instance, dict):
        present = [k for k in ENTRY_KEYS if k in error.instance]
        return f"{message} (found {', '.join(present) if present else 'none of them'})"
    if message:
        return str(message)
    if keyword == "required" and isinstance(error.instance, dict):
        required: Any = error.validator_value
        missing = [k for k in required if k not in error.instance]
        return "missing required key " + ", ".join(json.dumps(k) for k in missing)
    return f"fails the schema's {json.dumps(keyword)} rule"


def _json_type(instance: Any) -> str:
    if isinstance(instance, bool):
        return "boolean"
    if isinstance(instance, int | float):
        return "number"
    return "null" if instance is None else type(instance).__name__


# When one place breaks several rules, the first of these is the one worth reading.
_KEYWORD_RANK = {"type": 0, "minLength": 1, "additionalProperties": 2, "not": 3}


# -- fast path: jsonschema costs ~0.2 ms per entry (1.6 s for 10,000), so it only sees what might fail.
# Each check below returns True only where the schema surely accepts; everything else (and the whole file
# when the schema's rules change, see _FAST_RULES) goes to jsonschema, so messages stay exactly its messages.
_ANNOTATIONS = {"title": str, "description": str, "$comment": str, "examples": list, "errorMessage": dict}
# sha256 of the schema's rules without annotations: update it together with the checks below.
_FAST_RULES = "cb3b869e4e81ff286d69d9ee3e31d317b8120f61970a867d4c23d5232d9b6be7"


def _rules(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _rules(v) for k, v in node.items() if not isinstance(v, _ANNOTATIONS.get(k, ()))}
    if isinstance(node, list):
        return [_rules(v) for v in node]
    return node


def rules_digest() -> str:
    """A digest of what the schema enforces (not of its wording), to notice a change of rules."""
    import hashlib

    return hashlib.sha256(json.dumps(_rules(schema()), sort_keys=True).encode()).hexdigest()


@cache
def _fast_checks() -> tuple[Any, ...] | None:
    """The schema's patterns, compiled as jsonschema compiles them; None when its rules changed."""
    if rules_digest() != _FAST_RULES:
        return None
    s = schema()
    names = s["properties"]["secrets"]["propertyNames"]
    target = s["properties"]["target"]["properties"]
    return (
        tuple(re.compile(rule["pattern"]) for rule in names["allOf"]),
        names["maxLength"],
        frozenset(names["not"]["enum"]),
        re.compile(s["$defs"]["secretString"]["pattern"]),
        re.compile(s["$defs"]["entry"]["properties"]["fromEnv"]["pattern"]),
        re.compile(target["url"]["pattern"]),
        re.compile(target["apiKeyEnv"]["pattern"]),
    )


_ENTRY_FIELDS = frozenset((*ENTRY_KEYS, "description", "protect", "stripNewline"))
_NEWLINE_SOURCES = ("fromFile", "fromEnv")
_TOP_KEYS = frozenset(("$schema", "version", "secrets", "target", "moved"))
_TARGET_KEYS = frozenset(("url", "apiVersion", "apiKeyEnv"))


def _plain_entry(alias: str, entry: Any, checks: tuple[Any, ...]) -> bool:
    """Whether the schema surely accepts this alias and entry (False: let jsonschema decide)."""
    names, max_name, bad_names, nonblank, env_name = checks[:5]
    if not (0 < len(alias) <= max_name and all(n.search(alias) for n in names) and alias not in bad_names):
        return False
    if isinstance(entry, str):
        return nonblank.search(entry) is not None
    if not isinstance(entry, dict) or not entry.keys() <= _ENTRY_FIELDS:
        return False
    sources = [k for k in ENTRY_KEYS if k in entry]
    if len(sources) != 1 or not isinstance(entry.get("description", ""), str):
        return False
    if not isinstance(entry.get("protect", False), bool):
        return False
    if "stripNewline" in entry and (type(entry["stripNewline"]) is not bool or sources[0] not in _NEWLINE_SOURCES):
        return False
    ref = entry[sources[0]]
    if sources[0] == "json":
        return True
    if not isinstance(ref, str):
        return False
    if sources[0] == "value":
        return nonblank.search(ref) is not None
    if sources[0] == "fromEnv":
        return env_name.search(ref) is not None
    return sources[0] == "fromFile" and len(ref) > 0  # other sources: jsonschema checks their form


def _plain_top(doc: dict[str, Any], checks: tuple[Any, ...]) -> bool:
    """Whether the schema surely accepts everything outside ``secrets``."""
    url, key_env = checks[5:]
    if not doc.keys() <= _TOP_KEYS or type(doc.get("version")) is not int or doc["version"] != 1:
        return False
    if "moved" in doc:  # rare and short: jsonschema checks it
        return False
    if not isinstance(doc.get("$schema", ""), str):
        return False
    target = doc.get("target", {})
    if not isinstance(target, dict) or not target.keys() <= _TARGET_KEYS:
        return False
    for key, pattern in (("url", url), ("apiKeyEnv", key_env)):
        if key in target and not (isinstance(target[key], str) and pattern.search(target[key])):
            return False
    version = target.get("apiVersion", "auto")
    return isinstance(version, str) and version in ("auto", "v3", "v4beta", "v4")


def _for_schema(doc: Any) -> tuple[bool, Any]:
    """(whether jsonschema must look, and at what): ``doc`` without the entries the fast checks accept."""
    checks = _fast_checks()
    if checks is None or not isinstance(doc, dict) or not isinstance(doc.get("secrets"), dict):
        return True, doc
    doubtful = {a: e for a, e in doc["secrets"].items() if not _plain_entry(a, e, checks)}
    if not doubtful and _plain_top(doc, checks):
        return False, None
    return True, {**doc, "secrets": doubtful}


def _schema_problems(doc: Any) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], int, str]] = []
    needed, doc = _for_schema(doc)
    if not needed:
        return []
    for error in _validator().iter_errors(doc):
        parts: tuple[str | int, ...] = tuple(error.absolute_path)
        if error.validator == "propertyNames" or (
            error.absolute_schema_path and "propertyNames" in error.absolute_schema_path
        ):
            parts = (*parts, str(error.instance))
        found.append((parts, _KEYWORD_RANK.get(str(error.validator), 9), _schema_message(error)))
    found.sort(key=lambda item: ([str(p) for p in item[0]], item[1]))
    result: list[tuple[tuple[str | int, ...], str]] = []
    for parts, _, message in found:
        if not result or result[-1][0] != parts:
            result.append((parts, message))
    return result


def _read_file_value(base: Path, ref: str) -> tuple[str | None, str | None]:
    """(value, problem) for a ``fromFile`` reference."""
    target = base / ref
    try:
        # Only regular files: a FIFO or a device (/dev/zero, /dev/stdin) would block or never end.
        mode = target.stat().st_mode
        if stat.S_ISDIR(mode):
            return None, f"{json.dumps(ref)} is a directory, not a file"
        if not stat.S_ISREG(mode):
            return None, f"{json.dumps(ref)} is not a regular file"
        with target.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None, f"file {json.dumps(ref)} does not exist (looked in {base})"
    except IsADirectoryError:
        return None, f"{json.dumps(ref)} is a directory, not a file"
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


def _resolve(
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
        if _depth_exceeds(ref, MAX_JSON_DEPTH):
            return None, [("json", f"JSON document nested deeper than {MAX_JSON_DEPTH} levels")]
        if _has_overflow(ref):
            return None, [("json", "a number is too large to store (it would be serialized as Infinity, not JSON)")]
        return DesiredSecret(alias, kind, canonical_json(ref), description), []
    if kind == "fromEnv":
        value = env.get(ref)
        if value is None:
            return None, [("fromEnv", f"environment variable {ref} is not set")]
        if _BLANK.match(value):
            return None, [("fromEnv", f"environment variable {ref} is empty: EDC refuses an empty or blank value")]
        if _unencodable(value):
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
    doc = _parse(path, data)
    if isinstance(doc, dict) and "sops" in doc:  # encrypted with sops: read what it decrypts to instead
        plain, problem = sources.decrypt_desired(data)
        if plain is None:
            raise InputError([Problem(path, problem or "cannot decrypt")])
        doc = _parse(path, plain)
    problems = [Problem(f"{path}: {p.where}", p.message) for p in _duplicates(doc)]
    unsendable = sorted(_surrogates(doc), key=lambda item: [str(p) for p in item[0]])
    problems += [Problem(f"{path}: {json_path(parts)}", msg) for parts, msg in unsendable]
    located = _schema_problems(doc)
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
        secret, issues = _resolve(alias, entry, base, env, sources, allow_outside_files)
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
    if secret.kind not in _NEWLINE_SOURCES:
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
    messages = [message for _, message in _schema_problems({"version": 1, "secrets": {alias: "x"}})]
    if len(quote(alias, safe="")) > MAX_ENCODED_ALIAS:
        messages.append(f"the alias is longer than {MAX_ENCODED_ALIAS} bytes once percent-encoded")
    return messages
