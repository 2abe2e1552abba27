"""The secrets endpoints' body rules (v3's JSON-LD leniency, v4/v4beta's type and schema checks) and operations."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from vaultsync.devserver import v4schema
from vaultsync.devserver.errors import Response, edc_error, jetty_error, json_kind, missing_value, not_json
from vaultsync.devserver.store import Vault
from vaultsync.devserver.vocab import V3_RESPONSE_CONTEXT, V4_CONTEXT, VALUE_KEYS

Where = tuple[str, str, str | None]  # (method, URL, Accept): what Jetty's error pages depend on


def parse(version: str, body: bytes, where: Where) -> tuple[dict[str, Any] | None, Response | None]:
    """The body as a JSON object, or the real stack's answer to it."""
    if not body.strip():
        return None, (400, edc_error("input json is null", "ValidationFailure", ""))
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, not_json(exc)
    except ValueError:  # not UTF-8
        return None, not_json(json.JSONDecodeError("Invalid UTF-8 start byte", "", 0))
    if doc is None:  # Jersey hands EDC a null object: an exception, answered by Jetty's 500 page
        return None, (500, jetty_error(500, *where))
    if not isinstance(doc, dict):
        return None, not_json(None, json_kind(doc))
    if version == "v3":
        return _v3_expanded(doc, where)
    # v4/v4beta: the type is checked (a Jersey BadRequest: Jetty's page) before the schema runs
    if doc.get("@type") != "Secret":
        return None, (400, jetty_error(400, *where))
    problems = v4schema.failures(doc)
    if problems:
        return None, (400, [_failure(message, path) for message, path in problems])
    return doc, None


def _failure(message: str, path: str) -> dict[str, Any]:
    return {"message": message, "type": "ValidationFailure", "path": path, "invalidValue": None}


def _declares_edc(context: Any) -> bool:
    items = context if isinstance(context, list) else [context]
    return any(isinstance(item, dict) and "edc" in item for item in items)


def _v3_expanded(doc: dict[str, Any], where: Where) -> tuple[dict[str, Any] | None, Response | None]:
    """v3's JSON-LD reading, as far as it shows in the answers (measured on EDC 0.15.1 and 0.12.0).

    EDC refuses, with Jetty's 400 page, a compact IRI under its own ``edc:`` prefix that the context does
    not declare (a key or the type; ``foo:Secret`` passes), and a node that expands to ``@id`` alone: no
    ``@type`` and no property left (null values and, without a context, every plain key are dropped).
    """
    context = doc.get("@context")
    if not _declares_edc(context):
        types = doc.get("@type")
        names: list[Any] = [k for k in doc if not k.startswith("@")]
        names += types if isinstance(types, list) else [types]
        if any(isinstance(name, str) and name.startswith("edc:") for name in names):
            return None, (400, jetty_error(400, *where))
    kept = {
        key: value
        for key, value in doc.items()
        if not key.startswith("@") and value is not None and ("@context" in doc or ":" in key)
    }
    if "@type" not in doc and not kept:
        return None, (400, jetty_error(400, *where))
    return {**{k: v for k, v in doc.items() if k.startswith("@")}, **kept}, None


def read_value(version: str, doc: dict[str, Any], where: Where) -> tuple[str | None, Response | None]:
    raw: Any = None
    for key in VALUE_KEYS:
        if key in doc:
            raw = doc[key]
            break
    if version == "v3":
        if isinstance(raw, list):  # EDC v3 keeps the first element only (silent data loss)
            raw = raw[0] if raw else None
        if isinstance(raw, (int, float, bool, dict)):
            return None, (500, jetty_error(500, *where))  # EDC v3 throws: Jetty's 500 page (empty for PUT)
    if not isinstance(raw, str) or not raw.strip():
        return None, (400, missing_value())
    return raw, None


def read_id(doc: dict[str, Any]) -> tuple[str | None, Response | None]:
    """The ``@id``; EDC makes up a UUID when there is none (for PUT too, which then finds no such secret)."""
    if "@id" not in doc:
        return str(uuid.uuid4()), None
    raw = doc["@id"]
    if not isinstance(raw, str) or not raw.strip():
        return None, (400, edc_error("@id cannot be blank", "ValidationFailure", "@id"))
    return raw, None


def read_secret(version: str, body: bytes, where: Where) -> tuple[tuple[str, str] | None, Response | None]:
    """The ``@id`` and value of a POST or PUT body, or EDC's answer to the first problem (body, then id, then value)."""
    doc, problem = parse(version, body, where)
    if problem or doc is None:
        return None, problem or (400, None)
    alias, problem = read_id(doc)
    if problem or alias is None:
        return None, problem or (400, None)
    value, problem = read_value(version, doc, where)
    if problem or value is None:
        return None, problem or (400, None)
    return (alias, value), None


def response_context(version: str) -> Any:
    return V3_RESPONSE_CONTEXT if version == "v3" else [V4_CONTEXT]


# -- operations -------------------------------------------------------------------------


def create(
    vault: Vault, version: str, body: bytes, where: tuple[str, str, str | None] = ("POST", "", None)
) -> Response:
    secret, problem = read_secret(version, body, where)
    if secret is None:
        return problem or (400, None)
    alias, value = secret
    with vault.lock:
        if alias in vault.secrets:
            return 409, edc_error(f"Secret {alias} already exist", "ObjectConflict")
        vault.secrets[alias] = value
        vault.persist()
    return 200, {
        "@context": response_context(version),
        "@id": alias,
        "@type": "IdResponse",
        "createdAt": int(time.time() * 1000),
    }


def update(vault: Vault, version: str, body: bytes, where: Where = ("PUT", "", None)) -> Response:
    secret, problem = read_secret(version, body, where)
    if secret is None:
        return problem or (400, None)
    alias, value = secret
    with vault.lock:
        if alias not in vault.secrets:
            return 404, edc_error(f"Object of type Secret with ID={alias} was not found", "ObjectNotFound")
        vault.secrets[alias] = value
        vault.persist()
    return 204, None


def get(vault: Vault, version: str, alias: str) -> Response:
    with vault.lock:
        value = vault.secrets.get(alias)
    if value is None:
        return 404, edc_error(f"Object of type Secret with ID={alias} was not found", "ObjectNotFound")
    return 200, {"@id": alias, "@type": "Secret", "value": value, "@context": response_context(version)}


def delete(vault: Vault, alias: str) -> Response:
    with vault.lock:
        if vault.secrets.pop(alias, None) is None:
            return 404, edc_error(f"Object of type Secret with ID={alias} was not found", "ObjectNotFound")
        vault.persist()
    return 204, None
