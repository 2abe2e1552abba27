"""The checks of EDC's ``management-api-schema-validator`` on a v4/v4beta secret, with its messages.

Measured on EDC 0.15.1 ``/v4beta/secrets`` (its ``schema/management/v4/secret-schema.json``, run by
networknt's json-schema-validator): every error is a ValidationFailure with a JSON-pointer ``path``; a
wrong ``@context`` type is reported twice (two branches of the schema fail alike); errors about
``@context`` come before those about ``value``.
"""

from __future__ import annotations

import json
from typing import Any

from vaultsync.devserver.vocab import V4_CONTEXT

Failure = tuple[str, str]  # (message, path)


def kind(value: Any) -> str:
    """The JSON type name the validator uses in "X found, Y expected"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _context_failures(doc: dict[str, Any]) -> list[Failure]:
    if "@context" not in doc:
        return [("required property '@context' not found", "")]
    context = doc["@context"]
    if not isinstance(context, list):
        return [(f"{kind(context)} found, array expected", "/@context")] * 2
    wrong = [(f"{kind(item)} found, string expected", f"/@context/{i}") for i, item in enumerate(context)]
    failures = [failure for failure in wrong if not failure[0].startswith("string ")]
    if failures:
        return [failure for failure in failures for _ in range(2)]
    if V4_CONTEXT not in context:
        rule = json.dumps({"const": V4_CONTEXT}, separators=(",", ":"))
        return [(f"must contain at least 1 element(s) that passes these validations: {rule}", "/@context")]
    return []


def failures(doc: dict[str, Any]) -> list[Failure]:
    """Every schema violation of a secret body, in the validator's order; empty when it passes."""
    found = _context_failures(doc)
    if "value" not in doc:
        found.append(("required property 'value' not found", ""))
    elif not isinstance(doc["value"], str):
        found.append((f"{kind(doc['value'])} found, string expected", "/value"))
    return found
