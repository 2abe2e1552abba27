"""The secrets endpoints' body rules (v3's JSON-LD leniency, v4's strictness) and their four operations."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from vaultsync.devserver.errors import Response, edc_error, jetty_error, json_kind, missing_value, not_json
from vaultsync.devserver.store import Vault
from vaultsync.devserver.vocab import V3_RESPONSE_CONTEXT, V4_CONTEXT, VALUE_KEYS


def parse(
    version: str, body: bytes, where: tuple[str, str, str | None]
) -> tuple[dict[str, Any] | None, Response | None]:
    """The body as a JSON object, or the real stack's answer to it; ``where`` is (method, URL, Accept)."""
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
    if version == "v4":
        context = doc.get("@context")
        if not isinstance(context, list) or V4_CONTEXT not in context:
            return None, (
                400,
                edc_error(f"@context must be an array containing {V4_CONTEXT}", "ValidationFailure", "@context"),
            )
        if doc.get("@type") != "Secret":
            return None, (
                400,
                edc_error("@type must be Secret", "ValidationFailure", "@type", doc.get("@type")),
            )
    elif "@context" not in doc:
        # Without a context, JSON-LD expansion drops every plain key: the value is gone.
        return {**doc, "__value_dropped__": True}, None
    return doc, None


def read_value(version: str, doc: dict[str, Any]) -> tuple[str | None, Response | None]:
    if doc.get("__value_dropped__"):
        return None, (400, missing_value())
    raw: Any = None
    for key in VALUE_KEYS:
        if key in doc:
            raw = doc[key]
            break
    if version == "v4":
        if raw is not None and not isinstance(raw, str):
            return None, (400, edc_error("value must be a string", "ValidationFailure", "value", raw))
    else:
        if isinstance(raw, list):  # EDC v3 keeps the first element only (silent data loss)
            raw = raw[0] if raw else None
        if isinstance(raw, (int, float, bool, dict)):
            return None, (500, None)  # EDC v3 throws: a 500 with an empty body
    if not isinstance(raw, str) or not raw.strip():
        return None, (400, missing_value())
    return raw, None


def read_id(doc: dict[str, Any]) -> tuple[str | None, Response | None]:
    if "@id" not in doc:
        return str(uuid.uuid4()), None
    raw = doc["@id"]
    if not isinstance(raw, str) or not raw.strip():
        return None, (400, edc_error("@id cannot be blank", "ValidationFailure", "@id"))
    return raw, None


# -- operations -------------------------------------------------------------------------


def create(
    vault: Vault, version: str, body: bytes, where: tuple[str, str, str | None] = ("POST", "", None)
) -> Response:
    doc, problem = parse(version, body, where)
    if problem or doc is None:
        return problem or (400, None)
    alias, problem = read_id(doc)
    if problem or alias is None:
        return problem or (400, None)
    value, problem = read_value(version, doc)
    if problem or value is None:
        return problem or (400, None)
    with vault.lock:
        if alias in vault.secrets:
            return 409, edc_error(f"Secret {alias} already exist", "ObjectConflict")
        vault.secrets[alias] = value
        vault.persist()
    return 200, {
        "@context": V3_RESPONSE_CONTEXT if version == "v3" else [V4_CONTEXT],
        "@id": alias,
        "@type": "IdResponse",
        "createdAt": int(time.time() * 1000),
    }


def update(vault: Vault, version: str, body: bytes, where: tuple[str, str, str | None] = ("PUT", "", None)) -> Response:
    doc, problem = parse(version, body, where)
    if problem or doc is None:
        return problem or (400, None)
    alias = doc.get("@id")
    if not isinstance(alias, str) or not alias.strip():
        return 400, edc_error("@id cannot be blank", "ValidationFailure", "@id")
    value, problem = read_value(version, doc)
    if problem or value is None:
        return problem or (400, None)
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
    context: Any = V3_RESPONSE_CONTEXT if version == "v3" else [V4_CONTEXT]
    return 200, {"@id": alias, "@type": "Secret", "value": value, "@context": context}


def delete(vault: Vault, alias: str) -> Response:
    with vault.lock:
        if vault.secrets.pop(alias, None) is None:
            return 404, edc_error(f"Object of type Secret with ID={alias} was not found", "ObjectNotFound")
        vault.persist()
    return 204, None
