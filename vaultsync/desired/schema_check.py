"""The desired-state JSON Schema: loading it, checking a document against it, and its messages.

Messages come from the schema's ``errorMessage`` annotations, never from jsonschema's own text, which
quotes the offending instance and so could quote a secret. jsonschema is imported only when a document
needs it: the fast path below accepts plain entries without it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from vaultsync.model import SourceKind

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

ENTRY_KEYS: tuple[SourceKind, ...] = ("value", "fromEnv", "fromFile", "json", "fromSops", "fromCommand", "generate")
NEWLINE_SOURCES = ("fromFile", "fromEnv")


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
    if "stripNewline" in entry and (type(entry["stripNewline"]) is not bool or sources[0] not in NEWLINE_SOURCES):
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


def schema_problems(doc: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """(place, message) for each place in ``doc`` the schema refuses: one message a place, the most telling."""
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
