"""JSON syntax errors as complete sentences a person can act on.

Python's own messages are terse and some read as if cut off ("Invalid control character
at", "Unterminated string starting at": the position follows in the exception, not the
text), and a YAML file only gets "Expecting value". None of these sentences quote the
file: it may hold a secret.
"""

from __future__ import annotations

import json
import re

_ALLOWED_ESCAPES = 'JSON allows \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; write \\\\ for a backslash'
# `key: value`, `- item` or a `---` document marker on the first line: what YAML files start with.
_YAML_START = re.compile(r"""(---|%YAML|- |[A-Za-z_"'$][^\n{}\[\]]*?:(\s|$))""")


def _looks_like_yaml(name: str, text: str) -> bool:
    return name.lower().endswith((".yaml", ".yml")) or _YAML_START.match(text.lstrip()) is not None


def _not_json(name: str, text: str) -> str:
    start = text.lstrip()
    if _looks_like_yaml(name, text):
        return (
            "the file is not JSON: it looks like YAML, and YAML is not supported; "
            'write the desired state as a JSON object with "version" and "secrets"'
        )
    if start.startswith(("//", "/*", "#")):
        return "the file starts with a comment, and JSON has no comments: remove it"
    return 'the file is not JSON: a desired-state file is a JSON object, starting with "{"'


def _previous_char(text: str, pos: int) -> str:
    before = text[:pos].rstrip()
    return before[-1:] if before else ""


def describe(exc: json.JSONDecodeError, *, name: str = "") -> str:
    """What is wrong at ``exc``'s position, as one complete sentence (without the position itself).

    ``name`` is the file's name, so that a ``.yaml`` file is recognised as YAML.
    """
    text, pos, msg = exc.doc, exc.pos, exc.msg
    at_end = pos >= len(text.rstrip())
    cut = "; the file ends here: is it cut short?" if at_end else ""
    trailing_comma = _previous_char(text, pos) == ","
    if msg == "Expecting value" and not text[:pos].strip():
        return _not_json(name, text)
    if text.startswith(("//", "/*"), pos):
        return "a comment, and JSON has no comments: remove it"
    if msg.startswith("Unterminated string"):
        return "a string starting here is never closed: its closing quote is missing, or the file is cut short"
    if msg.startswith("Invalid control character"):
        return (
            "a line break or another control character inside a string: a string must end on the line it "
            "starts, so its closing quote is probably missing (write \\n for a line break inside a value)"
        )
    if msg.startswith("Invalid \\escape"):
        return f"an invalid backslash escape inside a string ({_ALLOWED_ESCAPES})"
    if msg.startswith("Invalid \\uXXXX"):
        return "an invalid \\uXXXX escape inside a string: \\u must be followed by four hexadecimal digits"
    if msg.startswith("Illegal trailing comma") or (trailing_comma and not at_end and msg.startswith("Expecting")):
        return "a comma before a closing bracket: JSON allows no trailing comma"
    if msg == "Expecting value":
        return "expected a value here (a string, number, object, array, true, false or null)" + cut
    if msg == "Extra data":
        return "more content after the end of the JSON document: a file holds exactly one JSON object"
    if msg.startswith("Expecting property name"):
        quotes = " (JSON has no single quotes)" if text.startswith("'", pos) else ""
        return "Expecting property name enclosed in double quotes" + (cut or quotes)
    if msg == "Expecting ',' delimiter":
        return "expected a ',' between two items, or a closing bracket" + cut
    if msg == "Expecting ':' delimiter":
        return "expected a ':' after a key" + cut
    return re.sub(r"\s+(at|starting at)$", "", msg) + cut
