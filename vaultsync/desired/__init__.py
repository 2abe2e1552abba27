"""The desired state: read a file, check it against the schema, resolve every value.

- :mod:`.parse`: bytes to a JSON document (duplicate keys, line and column, the JSON syntax messages)
- :mod:`.schema_check`: the shipped JSON Schema, its messages, and the fast path that skips jsonschema
- :mod:`.resolve`: one entry to its value (inline, fromEnv, fromFile, json, generate, and vaultsync.sources)
- :mod:`.load`: the whole file, every problem at once (parse_desired, load_desired, alias_problems)
"""

from __future__ import annotations

from vaultsync.desired.load import MAX_ENCODED_ALIAS, alias_problems, load_desired, parse_desired
from vaultsync.desired.parse import MAX_FILE_BYTES, describe_key, json_path
from vaultsync.desired.resolve import MAX_JSON_DEPTH
from vaultsync.desired.schema_check import _FAST_RULES, ENTRY_KEYS, rules_digest, schema

__all__ = [
    "ENTRY_KEYS",
    "MAX_ENCODED_ALIAS",
    "MAX_FILE_BYTES",
    "MAX_JSON_DEPTH",
    "_FAST_RULES",
    "alias_problems",
    "describe_key",
    "json_path",
    "load_desired",
    "parse_desired",
    "rules_digest",
    "schema",
]
