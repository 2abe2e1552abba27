"""Parse a desired-state file's bytes as JSON, keeping what ``json.loads`` forgets.

Duplicate keys, NaN / Infinity and numbers beyond Python's limits are reported with their line and
column (or their place in the document); the syntax messages come from :mod:`vaultsync.jsonsyntax`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from vaultsync import jsonsyntax
from vaultsync.errors import InputError, Problem

MAX_FILE_BYTES = 64 * 1024 * 1024
_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
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


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    line = before.count(b"\n") + 1
    return line, offset - (before.rfind(b"\n") + 1) + 1


def parse(path: str, data: bytes) -> Any:
    """The JSON document in ``data`` (the bytes of the file at ``path``); InputError says why it is none."""
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


def has_overflow(doc: Any) -> bool:
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


def depth_exceeds(doc: Any, limit: int) -> bool:
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


def duplicates(doc: Any, parts: tuple[str | int, ...] = ()) -> Iterator[Problem]:
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


def unencodable(text: str) -> bool:
    """A string holding an unpaired surrogate (a lone ``\\ud800`` escape in JSON, or an undecodable
    byte in an environment variable) cannot be sent: HTTP bodies and paths are UTF-8."""
    return _SURROGATE.search(text) is not None


def surrogates(doc: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(place, message) for every key or string in ``doc`` that cannot be encoded as UTF-8."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str) and unencodable(node):
            yield where, _SURROGATE_MESSAGE
        elif isinstance(node, dict):
            for key, value in node.items():
                if unencodable(key):
                    yield (*where, key), "the key contains an unpaired UTF-16 surrogate escape and cannot be sent"
                else:
                    stack.append((value, (*where, key)))
        elif isinstance(node, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(node))
